"""Intake's outbox relay (dyade.outbox): publishes stored events in order with the idempotent producer
(acks=all), marks them sent with the partition and offset the broker gave, and restores the broker's
history when the broker lost it.

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
import time
from collections import deque
from datetime import datetime

from kafka import KafkaConsumer, TopicPartition
from prometheus_client import Counter, Gauge
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from dyade.contracts import Event
from dyade.contracts.topics import (
    CALLS_RECEIVED, CALLS_UPDATED, COMMUNICATIONS_RECORDED, REFERRALS_FILED, topic_for,
)
from dyade.db import unit_of_work
from dyade.kafka import Record, create_topics, key_of
from dyade.outbox import OutboxRelay
from services.intake.adapters import models as m


def outbox_row(event: Event, now: datetime) -> dict:
    """An event as a row of intake_outbox, stored in the transaction that caused it (calls, updates,
    referrals, the register's entries); the relay below publishes it."""
    topic = topic_for(type(event))
    return dict(event_id=str(event.event_id), topic=topic.name, msg_key=key_of(event, topic).decode()[:200],
                event_type=event.TYPE, schema_version=event.VERSION, value=event.to_bytes(),
                correlation_id=event.correlation_id[:64], created_at=now)

log = logging.getLogger("intake.outbox")

PRODUCED_TOPICS = (CALLS_RECEIVED, CALLS_UPDATED, REFERRALS_FILED, COMMUNICATIONS_RECORDED)
LOCK_KEY = 0x1D7A_0B0C  # advisory lock id of the intake relay
PUBLISHED = Counter("dyade_intake_outbox_published_total", "Events published by the intake outbox relay", ["topic"])
BACKLOG = Gauge("dyade_intake_outbox_backlog", "Events accepted by intake and not yet published")
REPUBLISHED = Counter("dyade_intake_outbox_history_restored_total",
                      "Times intake found the broker without its history and republished the outbox")


class Relay(OutboxRelay):
    verify_every_s = 30.0
    # After a wake-up, the relay may wait `linger_s` for more commits to join its batch. While calls trickle in
    # it does not wait (each call's publication is its latency); once it relayed BUSY_PER_S events or more in
    # the last second it waits BUSY_LINGER_S, so that under load each batch (a lock, a read, the sends, a mark,
    # a commit) serves many more events: at 10 ms it cost about a quarter of a millisecond of the process's CPU
    # per call beyond what 50 ms costs (measured: bench.intake's closed loop, relay threads' CPU), CPU the HTTP
    # path then lacked.
    QUIET_LINGER_S, BUSY_LINGER_S, BUSY_PER_S = 0.0, 0.05, 40

    def __init__(self, sessions: sessionmaker[Session], bootstrap: str):
        super().__init__(sessions, bootstrap, m.outbox, name="intake", lock_key=LOCK_KEY, ack_timeout_s=None,
                         producer_options={"delivery_timeout_ms": 7 * 24 * 3600 * 1000},
                         linger_s=self.QUIET_LINGER_S, retry_s=(0.2, 5.0))
        self.restored = 0
        self._backlog = (0.0, 0)  # (monotonic time counted, unsent rows)
        self.recent: deque[tuple[float, int]] = deque()   # (monotonic time, events) of the last second's batches

    def start(self) -> "Relay":
        BACKLOG.set_function(self.scraped_backlog)  # the gauge follows the relay that runs in this process
        return super().start()

    def scraped_backlog(self) -> float:
        """Unsent rows for the gauge, counted when Prometheus scrapes (at most every 5 s; a partial index keeps
        it cheap), so it rises while the broker is away, when nothing is being sent."""
        counted_at, n = self._backlog
        if time.monotonic() - counted_at > 5:
            try:
                n = self.backlog()
            except Exception:  # noqa: BLE001 - the database being away is reported elsewhere; keep the last count
                return float(n)
            self._backlog = (time.monotonic(), n)
        return float(n)

    def records(self, session: Session, rows) -> list[Record]:
        return [Record(row.topic, row.msg_key.encode(), row.value,
                       [("type", row.event_type.encode()), ("schema_version", str(row.schema_version).encode()),
                        ("event_id", row.event_id.encode())]) for row in rows]

    def sent_values(self) -> dict:
        return {"partition": bindparam("b_partition"), "offset": bindparam("b_offset"),
                "publish_count": m.outbox.c.publish_count + 1}

    def on_sent(self, rows) -> None:
        for row in rows:
            PUBLISHED.labels(row.topic).inc()
        now = time.monotonic()
        self.recent.append((now, len(rows)))
        while self.recent and self.recent[0][0] < now - 1.0:
            self.recent.popleft()
        busy = sum(n for _, n in self.recent) >= self.BUSY_PER_S
        self.linger_s = self.BUSY_LINGER_S if busy else self.QUIET_LINGER_S

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

    def verify(self) -> None:
        """Marks every sent row unsent again when the broker lost intake's history."""
        with self.sessions() as session:
            last = self.last_sent(session)
        reason = self.went_back or self.broker_lost_history(last)
        if reason is None:
            self.highest = {(topic, partition): offset for topic, partition, offset, _ in last}
            return
        create_topics(self.bootstrap, PRODUCED_TOPICS)
        with unit_of_work(self.sessions) as session:
            if not self.lock(session):
                return
            count = session.execute(update(m.outbox).where(m.outbox.c.sent_at.is_not(None))
                                    .values(sent_at=None, partition=None, offset=None)).rowcount
        self.restored += 1
        self.highest, self.went_back = {}, None   # what is sent from now on is the new log's
        REPUBLISHED.inc()
        log.warning("broker without intake's history (%s): republishing the outbox", reason,
                    extra={"reason": reason, "events": count})
        self.wake.set()
