"""Transactional outbox: events are written in the same transaction as the change that caused them, and
a relay thread (dyade.outbox) publishes them in order. A tombstone (value None) on frames.current.v1
removes a person's frame from the compacted topic."""
from __future__ import annotations

from datetime import datetime

from kafka import KafkaConsumer, TopicPartition
from sqlalchemy.orm import Session, sessionmaker

from dyade import ledger
from dyade.contracts import Event
from dyade.contracts.topics import FRAMES_CURRENT
from dyade.db import unit_of_work
from services.infosocial.adapters.models import OutboxRecord, processed


def enqueue(session: Session, event: Event) -> None:
    ledger.enqueue(session, OutboxRecord, event)


def enqueue_tombstone(session: Session, person_key: str) -> None:
    ledger.enqueue_tombstone(session, OutboxRecord, FRAMES_CURRENT.name, person_key)


class Relay(ledger.OutboxTable):
    """Publishes Info-social's outbox; woken after each commit, and every second in any case."""

    def __init__(self, sessions: sessionmaker, bootstrap: str):
        # one relay at a time (advisory lock): with two replicas each taking unlocked rows, an older version
        # of a frame could reach the compacted frames.current.v1 after a newer one
        super().__init__(sessions, bootstrap, OutboxRecord.__table__, name="infosocial", lock_key=0x1D7A_0B0D)


def prune(factory: sessionmaker, *, sent_before: datetime, processed_before: datetime) -> int:
    """Forget outbox rows already published and event ids too old to be redelivered."""
    with unit_of_work(factory) as s:
        return ledger.prune(s, outbox_table=OutboxRecord.__table__, processed=processed,
                            sent_before=sent_before, processed_before=processed_before)


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
