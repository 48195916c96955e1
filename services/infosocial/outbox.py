"""Transactional outbox: events are written in the same transaction as the change that caused them, and
a relay thread publishes them in order. A tombstone (value None) on frames.current.v1 removes a person's
frame from the compacted topic."""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone

from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dyade.contracts import Event, topic_for
from dyade.contracts.topics import FRAMES_CURRENT
from dyade.db import unit_of_work
from dyade.kafka import key_of, make_producer
from services.infosocial.models import OutboxRecord

log = logging.getLogger("infosocial.outbox")


def now() -> datetime:
    return datetime.now(timezone.utc)


def enqueue(session: Session, event: Event) -> None:
    topic = topic_for(type(event))
    session.add(OutboxRecord(topic=topic.name, key=key_of(event, topic).decode(), value=event.to_bytes(),
                             event_type=event.TYPE, created_at=now()))


def enqueue_tombstone(session: Session, person_key: str) -> None:
    session.add(OutboxRecord(topic=FRAMES_CURRENT.name, key=person_key, value=None, event_type=None,
                             created_at=now()))


class OutboxRelay:
    """Publishes unsent outbox rows; woken after each commit, and every second in any case."""

    def __init__(self, factory: sessionmaker, bootstrap: str, batch: int = 500):
        self.factory = factory
        self.bootstrap = bootstrap
        self.batch = batch
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.error: str | None = None
        self.published = 0

    def start(self) -> "OutboxRelay":
        self.thread = threading.Thread(target=self._run, name="infosocial-outbox", daemon=True)
        self.thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        self.wake.set()
        if self.thread:
            self.thread.join(timeout)

    def _run(self) -> None:
        producer = None
        delay = 0.5
        while not self.stopping.is_set():
            try:
                producer = producer or make_producer(self.bootstrap, client_id="infosocial-outbox")
                while self.relay_once(producer):
                    pass
                self.error = None
                delay = 0.5
                self.wake.wait(1.0)
                self.wake.clear()
            except Exception as exc:  # broker away: keep the rows, retry with backoff
                self.error = str(exc)[:300]
                log.warning("outbox relay failed; retrying", extra={"error": self.error})
                self.stopping.wait(delay)
                delay = min(delay * 2, 10.0)
        if producer is not None:
            producer.close(timeout=5)

    def relay_once(self, producer) -> int:
        """Publish one batch; returns how many rows went out."""
        with unit_of_work(self.factory) as s:
            query = select(OutboxRecord).where(OutboxRecord.sent_at.is_(None)).order_by(OutboxRecord.id)
            if s.bind.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = s.scalars(query.limit(self.batch)).all()
            if not rows:
                return 0
            futures = []
            for row in rows:
                headers = [("type", row.event_type.encode())] if row.event_type else []
                futures.append(producer.send(row.topic, key=row.key.encode(), value=row.value, headers=headers))
            producer.flush(timeout=30)
            for f in futures:
                f.get(timeout=30)
            sent = now()
            for row in rows:
                row.sent_at = sent
            self.published += len(rows)
            return len(rows)


def prune(factory: sessionmaker, *, sent_before: datetime, processed_before: datetime) -> int:
    """Forget outbox rows already published and event ids too old to be redelivered."""
    from sqlalchemy import delete
    from services.infosocial.models import ProcessedEvent
    with unit_of_work(factory) as s:
        a = s.execute(delete(OutboxRecord).where(OutboxRecord.sent_at.is_not(None),
                                                 OutboxRecord.sent_at < sent_before)).rowcount
        b = s.execute(delete(ProcessedEvent).where(ProcessedEvent.at < processed_before)).rowcount
    return (a or 0) + (b or 0)


def topic_is_empty(bootstrap: str, topic: str) -> bool:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, client_id="infosocial-probe", enable_auto_commit=False)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            return True
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return sum(ends.values()) == 0
    finally:
        consumer.close()
