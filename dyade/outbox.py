"""The transactional outbox relay of every service. A service writes the events of a change into its outbox
table in the transaction of the change; a relay thread publishes the unsent rows in the order of the
table's primary key with the idempotent producer (acks=all) and marks them sent.

Order and duplicates: a batch is sent in order and its acknowledgements are waited on in order; what the
broker acknowledged is marked sent even when the batch stops short at a failure, and the rest is sent
again, in order, on the next try (consumers drop an event id they already saw). Between replicas, either
one relay at a time holds the outbox (`lock_key`: a PostgreSQL advisory lock per batch), or each takes
rows the others have not locked (FOR UPDATE SKIP LOCKED).

Wake-up: a commit in the relay's own process wakes it (`notify`); a relay that finds the outbox held by
another replica's batch tries again a moment later (that batch may have been read before this process's
commit); the slow poll (`idle_s`) is for rows written by another process that has no relay running.

A subclass says how a row becomes a record (`records`); it may act on the rows once marked sent
(`on_sent`), add columns to the mark (`sent_values`) and check the broker every `verify_every_s`
before sending (`verify`).
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Sequence

from sqlalchemy import ColumnElement, Row, Table, bindparam, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from dyade.db import unit_of_work
from dyade.kafka import Record, make_producer, send
from dyade.clock import utcnow


DEGRADED_AFTER_S = 30.0
HELD_RETRY_S = 0.02   # the outbox held by another replica's batch: try again after this


def producer_is_broken(producer) -> bool:
    """kafka-python's idempotent producer in its fatal state (after a broker restarted empty, say): every later
    send fails, so it must be built anew. Not after a mere timeout: its records in flight would be sent twice."""
    manager = getattr(producer, "_transaction_manager", None)
    return manager is not None and manager.has_fatal_error()


class OutboxRelay:
    verify_every_s: float | None = None

    def __init__(self, sessions: sessionmaker[Session], bootstrap: str, table: Table, *, name: str,
                 sent_column: str = "sent_at", where: ColumnElement[bool] | None = None,
                 lock_key: int | None = None, ack_timeout_s: float | None = 30.0,
                 producer_options: dict[str, Any] | None = None, batch_size: int = 500, idle_s: float = 2.0,
                 linger_s: float = 0.0, retry_s: tuple[float, float] = (0.5, 10.0)):
        self.sessions, self.bootstrap, self.table, self.name = sessions, bootstrap, table, name
        (self.order,) = table.primary_key.columns
        self.sent_at = table.c[sent_column]
        self.unsent = self.sent_at.is_(None) if where is None else self.sent_at.is_(None) & where
        self.lock_key, self.ack_timeout_s = lock_key, ack_timeout_s
        self.producer_options = producer_options or {}
        self.batch_size, self.idle_s, self.linger_s, self.retry_s = batch_size, idle_s, linger_s, retry_s
        self.log = logging.getLogger(f"{name}.outbox")
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.verified = threading.Event()  # `verify` ran at least once
        self.held_elsewhere = False   # the last batch found the outbox held by another replica
        self.highest: dict[tuple[str, int], int] = {}   # the highest offset acknowledged per partition
        self.went_back: str | None = None   # why the broker's log seems to have started again
        self.thread: threading.Thread | None = None
        self.producer = None
        self.verify_soon = False   # set by a subclass that saw a sign of a broker without its history
        self.published = 0
        self.last_error: str | None = None
        self.failing_since: float | None = None   # monotonic time of the first failure in a row

    # --- what a service says
    def records(self, session: Session, rows: Sequence[Row]) -> list[Record]:
        raise NotImplementedError

    def sent_values(self) -> dict[str, Any]:
        """Columns set with sent_at; `bindparam("b_partition")` / `bindparam("b_offset")` are where the
        broker wrote the row."""
        return {}

    def on_sent(self, rows: Sequence[Row]) -> None:
        """After the commit, the rows just marked sent; called with none when nothing was left to send."""

    def verify(self) -> None:
        """Run in the relay's thread at start and every `verify_every_s`; raising retries it."""

    # --- lifecycle
    def start(self) -> "OutboxRelay":
        self.thread = threading.Thread(target=self._run, name=f"{self.name}-outbox-relay", daemon=True)
        self.thread.start()
        return self

    def notify(self) -> None:
        self.wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        self.wake.set()
        if self.thread:
            self.thread.join(timeout)
            if self.thread.is_alive() and self.producer is not None:
                self.producer.close(timeout=0)  # aborts a send waiting on a dead broker
                self.thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def health(self) -> dict:
        """The relay as /readyz and /healthz show a consumer loop: stopped, failing for a while with events
        waiting (degraded: what was accepted is safe in the database, not yet on the broker), or running."""
        group = f"{self.name}-outbox-relay"
        if not self.alive:
            return {"group": group, "state": "stalled", "live": False,
                    "message": "le relais de l'outbox ne tourne plus (redémarrer le service)"}
        failing = time.monotonic() - self.failing_since if self.failing_since is not None else 0.0
        if failing > DEGRADED_AFTER_S and (waiting := self.backlog()):
            return {"group": group, "state": "degraded", "live": True, "backlog": waiting,
                    "message": f"{waiting} événement(s) accepté(s) en attente du broker depuis {failing:.0f} s, "
                               f"gardés en base ({self.last_error})"[:300]}
        return {"group": group, "state": "running", "live": True, "message": "ok"}

    def backlog(self) -> int:
        with self.sessions() as session:
            return session.execute(select(func.count()).select_from(self.table).where(self.unsent)).scalar()

    def _run(self) -> None:
        first_retry_s, max_retry_s = self.retry_s
        backoff, next_verify = first_retry_s, 0.0
        while not self.stopping.is_set():
            try:
                if self.producer is None:
                    # no producer linger: the relay gathers its batch itself and waits for the batch's acks
                    self.producer = make_producer(self.bootstrap, client_id=f"{self.name}-outbox-relay",
                                                  **{"linger_ms": 0, **self.producer_options})
                if self.verify_every_s is not None and (time.monotonic() >= next_verify or self.verify_soon):
                    self.verify_soon = False
                    self.verify()
                    self.verified.set()
                    next_verify = time.monotonic() + self.verify_every_s
                sent = self.relay_once()
                self.last_error = self.failing_since = None
                backoff = first_retry_s
                if self.held_elsewhere:
                    self.stopping.wait(HELD_RETRY_S)
                elif sent < self.batch_size:
                    if self.wake.wait(self.idle_s) and self.linger_s:
                        self.stopping.wait(self.linger_s)  # let a burst of commits gather into one batch
                    self.wake.clear()
            except Exception as exc:  # broker or database unreachable: wait and try again
                if self.stopping.is_set():
                    break
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                self.failing_since = self.failing_since or time.monotonic()
                self.log.warning("outbox relay error; retrying", extra={"error": self.last_error})
                if producer_is_broken(self.producer):
                    self._drop_producer()
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, max_retry_s)
        if self.producer is not None:
            try:
                self.producer.close(timeout=5)
            except Exception:  # pragma: no cover - closing after a failure
                pass

    def _drop_producer(self) -> None:
        producer, self.producer = self.producer, None
        if producer is not None:
            try:
                producer.close(timeout=0)
            except Exception:  # pragma: no cover - closing after a failure
                pass

    # --- one batch
    def lock(self, session: Session) -> bool:
        """With `lock_key`, whether this relay holds the outbox until the end of the transaction."""
        if self.lock_key is None or session.get_bind().dialect.name != "postgresql":
            return True  # SQLite serialises writers
        return bool(session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": self.lock_key}).scalar())

    def relay_once(self) -> int:
        """Publish one batch; returns how many rows were marked sent, or raises (after marking them) when
        the batch stopped short."""
        with unit_of_work(self.sessions) as session:
            self.held_elsewhere = not self.lock(session)
            if self.held_elsewhere:
                return 0
            query = select(self.table).where(self.unsent).order_by(self.order).limit(self.batch_size)
            if self.lock_key is None:
                query = query.with_for_update(skip_locked=True)
            rows = session.execute(query).all()
            acked, failure = self._send(rows, self.records(session, rows)) if rows else ([], None)
            if acked:
                session.execute(update(self.table).where(self.order == bindparam("b_key"))
                                .values({self.sent_at.name: utcnow(), **self.sent_values()}),
                                [{"b_key": row._mapping[self.order], "b_partition": md.partition,
                                  "b_offset": md.offset} for row, md in acked])
        self.published += len(acked)
        if acked or not rows:
            self.on_sent([row for row, _ in acked])
        if failure is not None:
            raise failure
        return len(acked)

    def _send(self, rows: Sequence[Row], records: list[Record]) -> tuple[list, Exception | None]:
        futures, failure = [], None
        for row, record in zip(rows, records):
            try:
                futures.append((row, send(self.producer, record)))
            except Exception as exc:  # e.g. no metadata within max_block_ms: stop here, keep the order
                failure = exc
                break
        acked = []
        for row, future in futures:
            try:
                acked.append((row, future.get(timeout=self.ack_timeout_s)))
            except Exception as exc:  # not acknowledged in time, or producer closed: later rows wait
                failure = failure or exc
                break
        self.watch_offsets([(md.topic, md.partition, md.offset) for _, md in acked])
        return acked, failure

    def watch_offsets(self, acked: list[tuple[str, int, int]]) -> None:
        """An offset at or below one already acknowledged on its partition: the broker started its log again
        (the embedded one restarted empty); `verify` runs soon (a relay that has one says what to do)."""
        for topic, partition, offset in acked:
            if offset < 0:   # a retried batch the broker had already written answers -1
                continue
            top = self.highest.get((topic, partition))
            if top is not None and offset <= top and self.went_back is None:
                self.went_back = f"{topic}[{partition}]: offset {offset} reçu après {top}"
                self.verify_soon = True
            self.highest[(topic, partition)] = max(offset, top if top is not None else offset)
