"""The outbox relay: publishes stored events in order with the idempotent producer (acks=all), marks
them sent with the partition and offset the broker gave, and restores the broker's history when the
broker lost it.

Ordering and no duplicates: one relay at a time holds the outbox (a PostgreSQL advisory lock, per
batch); a batch is sent in `seq` order and waited on without a deadline (the producer retries by
itself, and its sequence numbers let the broker drop a retried write). When the broker is down, the
relay simply waits; requests keep being accepted into the outbox meanwhile.

Broker lost its history (the embedded Tansu keeps nothing across a restart): at start, and every
`verify_every_s`, the relay looks at the last event it sent to each (topic, partition): if the broker's
end offset is not past that offset, or the record there is not that event, every sent row is marked
unsent again and the whole outbox is republished in order, with the same event ids.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone

from kafka import KafkaConsumer, TopicPartition
from prometheus_client import Counter, Gauge
from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from dyade.contracts.topics import CALLS_RECEIVED, CALLS_UPDATED, REFERRALS_FILED
from dyade.db import unit_of_work
from dyade.kafka import create_topics, make_producer
from services.intake import models as m

log = logging.getLogger("intake.outbox")

PRODUCED_TOPICS = (CALLS_RECEIVED, CALLS_UPDATED, REFERRALS_FILED)
LOCK_KEY = 0x1D7A_0B0C  # advisory lock id of the intake relay
PUBLISHED = Counter("dyade_intake_outbox_published_total", "Events published by the intake outbox relay", ["topic"])
BACKLOG = Gauge("dyade_intake_outbox_backlog", "Events accepted by intake and not yet published")
REPUBLISHED = Counter("dyade_intake_outbox_history_restored_total",
                      "Times intake found the broker without its history and republished the outbox")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Relay:
    def __init__(self, sessions: sessionmaker[Session], bootstrap: str, *, batch_size: int = 500,
                 idle_s: float = 0.5, verify_every_s: float = 30.0, linger_s: float = 0.05):
        self.sessions = sessions
        self.bootstrap = bootstrap
        self.batch_size = batch_size
        self.idle_s = idle_s
        self.verify_every_s = verify_every_s
        self.linger_s = linger_s
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.producer = None
        self.published = 0
        self.restored = 0
        self.last_error: str | None = None
        self.verified = threading.Event()  # the broker's history was checked at least once

    # --- lifecycle
    def start(self) -> "Relay":
        self.thread = threading.Thread(target=self._run, name="intake-outbox-relay", daemon=True)
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

    def _run(self) -> None:
        backoff = 0.2
        next_verify = 0.0
        while not self.stopping.is_set():
            try:
                if self.producer is None:
                    self.producer = make_producer(self.bootstrap, client_id="intake-relay",
                                                  delivery_timeout_ms=7 * 24 * 3600 * 1000)
                if time.monotonic() >= next_verify:
                    self.restore_history_if_lost()
                    self.verified.set()
                    next_verify = time.monotonic() + self.verify_every_s
                sent = self.relay_once()
                self.last_error = None
                backoff = 0.2
                if sent < self.batch_size:
                    if self.wake.wait(self.idle_s):
                        self.stopping.wait(self.linger_s)  # let a burst of accepted calls gather
                    self.wake.clear()
            except Exception as exc:  # broker or database unreachable: wait and try again
                if self.stopping.is_set():
                    break
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.warning("outbox relay error; retrying", extra={"error": self.last_error})
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 5.0)
        if self.producer is not None:
            try:
                self.producer.close(timeout=5)
            except Exception:  # pragma: no cover - closing after a failure
                pass

    # --- one batch
    def _lock(self, session: Session) -> bool:
        if session.get_bind().dialect.name != "postgresql":
            return True  # SQLite serialises writers; one relay per file database
        return bool(session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": LOCK_KEY}).scalar())

    def relay_once(self) -> int:
        with unit_of_work(self.sessions) as session:
            if not self._lock(session):
                return 0
            rows = session.execute(select(m.outbox.c.seq, m.outbox.c.event_id, m.outbox.c.topic, m.outbox.c.msg_key,
                                          m.outbox.c.value, m.outbox.c.event_type, m.outbox.c.schema_version)
                                   .where(m.outbox.c.sent_at.is_(None)).order_by(m.outbox.c.seq)
                                   .limit(self.batch_size)).all()
            if not rows:
                BACKLOG.set(0)
                return 0
            futures, failure = [], None
            for row in rows:
                try:
                    futures.append((row, self.producer.send(
                        row.topic, key=row.msg_key.encode(), value=row.value,
                        headers=[("type", row.event_type.encode()),
                                 ("schema_version", str(row.schema_version).encode()),
                                 ("event_id", row.event_id.encode())])))
                except Exception as exc:  # e.g. no metadata in max_block_ms: stop here, keep order
                    failure = exc
                    break
            now = utcnow()
            marks = []
            for row, future in futures:
                try:
                    md = future.get()  # no deadline: the producer retries until the broker answers
                except Exception as exc:  # producer closed or delivery given up: later rows wait
                    failure = failure or exc
                    break
                marks.append({"b_seq": row.seq, "b_partition": md.partition, "b_offset": md.offset})
                PUBLISHED.labels(row.topic).inc()
            if marks:  # what the broker acknowledged is marked even when the batch stopped short
                session.execute(update(m.outbox).where(m.outbox.c.seq == bindparam("b_seq"))
                                .values(sent_at=now, partition=bindparam("b_partition"),
                                        offset=bindparam("b_offset"), publish_count=m.outbox.c.publish_count + 1),
                                marks)
        self.published += len(marks)
        if failure is not None:
            raise failure
        return len(marks)

    def backlog(self) -> int:
        with self.sessions() as session:
            return session.execute(select(func.count()).select_from(m.outbox).where(m.outbox.c.sent_at.is_(None))).scalar()

    # --- history check
    def last_sent(self, session: Session) -> list[tuple[str, int, int, str]]:
        """(topic, partition, offset, event_id) of the last event sent to each partition."""
        tops = select(m.outbox.c.topic, m.outbox.c.partition, func.max(m.outbox.c.offset).label("offset")) \
            .where(m.outbox.c.sent_at.is_not(None), m.outbox.c.offset.is_not(None)) \
            .group_by(m.outbox.c.topic, m.outbox.c.partition).subquery()
        rows = session.execute(select(tops.c.topic, tops.c.partition, tops.c.offset, m.outbox.c.event_id).join(
            m.outbox, (m.outbox.c.topic == tops.c.topic) & (m.outbox.c.partition == tops.c.partition)
            & (m.outbox.c.offset == tops.c.offset))).all()
        return [(r.topic, r.partition, r.offset, r.event_id) for r in rows]

    def broker_lost_history(self, last: list[tuple[str, int, int, str]]) -> str | None:
        """Why the broker does not hold what was sent, or None when it does: the record at the offset of
        the last event sent to each partition must be that event.

        The end offset alone is not trusted: Tansu reports the base offset of the last record batch + 1,
        a lower bound of the real end. So reading starts at min(offset, end - 1) and goes forward until
        the record at `offset` shows up, or the partition has no more data."""
        if not last:
            return None
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
                                 client_id="intake-history-check", request_timeout_ms=15000)
        try:
            for topic, partition, offset, event_id in last:
                known = consumer.partitions_for_topic(topic) or set()
                if partition not in known:
                    return f"{topic}[{partition}] absent du broker"
                tp = TopicPartition(topic, partition)
                end = consumer.end_offsets([tp]).get(tp, 0)
                if end == 0:
                    return f"{topic}[{partition}] vide, dernier envoi à l'offset {offset}"
                consumer.assign([tp])
                consumer.seek(tp, min(offset, end - 1))
                found, empty_polls, seen_any = None, 0, False
                while found is None and empty_polls < (3 if seen_any else 10):
                    records = consumer.poll(timeout_ms=500).get(tp, [])
                    if not records:
                        empty_polls += 1
                        continue
                    seen_any, empty_polls = True, 0
                    found = next((r for r in records if r.offset >= offset), None)
                if found is None or found.offset != offset:
                    return f"{topic}[{partition}]: aucun enregistrement à l'offset {offset}"
                if dict(found.headers or []).get("event_id", b"").decode() != event_id:
                    return f"{topic}[{partition}]@{offset}: un autre événement y est"
            return None
        finally:
            consumer.close()

    def restore_history_if_lost(self) -> bool:
        with self.sessions() as session:
            last = self.last_sent(session)
        reason = self.broker_lost_history(last)
        if reason is None:
            return False
        create_topics(self.bootstrap, PRODUCED_TOPICS)
        with unit_of_work(self.sessions) as session:
            if not self._lock(session):
                return False
            count = session.execute(update(m.outbox).where(m.outbox.c.sent_at.is_not(None))
                                    .values(sent_at=None, partition=None, offset=None)).rowcount
        self.restored += 1
        REPUBLISHED.inc()
        log.warning("broker without intake's history (%s): republishing the outbox", reason,
                    extra={"reason": reason, "events": count})
        self.wake.set()
        return True
