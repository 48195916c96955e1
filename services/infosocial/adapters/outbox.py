"""Transactional outbox: events are written in the same transaction as the change that caused them, and
a relay thread (dyade.outbox) publishes them in order. A tombstone (value None) on frames.current.v1
removes a person's frame from the compacted topic."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable

from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dyade import ledger
from dyade.contracts import Event
from dyade.contracts.topics import FRAMES_CURRENT
from dyade.db import unit_of_work
from services.infosocial.adapters.models import OutboxRecord, processed

log = logging.getLogger("infosocial.outbox")


def enqueue(session: Session, event: Event) -> None:
    ledger.enqueue(session, OutboxRecord, event)


def enqueue_tombstone(session: Session, person_key: str) -> None:
    ledger.enqueue_tombstone(session, OutboxRecord, FRAMES_CURRENT.name, person_key)


class Relay(ledger.OutboxTable):
    """Publishes Info-social's outbox; woken after each commit, and every 2 s in any case (dyade.outbox).

    It also keeps frames.current.v1 whole, which the notifier reads for the police view: the embedded broker
    keeps nothing across a restart, and `dyade up` restarts it while the services run. Every `verify_every_s`,
    and as soon as the broker's offsets went back, a topic that lost the current frames is given them all again
    (`refill`), under the outbox's lock: no newer version the relay sends can be overtaken by an older
    snapshot."""
    verify_every_s = 30.0

    def __init__(self, sessions: sessionmaker, bootstrap: str,
                 refill: Callable[[Session, object, str], int] | None = None, frames_topic: str = FRAMES_CURRENT.name):
        # one relay at a time (advisory lock): with two replicas each taking unlocked rows, an older version
        # of a frame could reach the compacted frames.current.v1 after a newer one
        super().__init__(sessions, bootstrap, OutboxRecord.__table__, name="infosocial", lock_key=0x1D7A_0B0D)
        self.refill, self.frames_topic = refill, frames_topic
        self.restored = 0

    def verify(self) -> None:
        if self.refill is None:
            return
        reason = self.went_back or self.frames_missing()
        if reason is None:
            return
        with unit_of_work(self.sessions) as session:
            if not self.lock(session):
                self.verify_soon = True   # another replica's batch: after it
                return
            count = self.refill(session, self.producer, self.frames_topic)
        self.restored += 1
        self.highest, self.went_back = {}, None   # what is sent from now on is the new log's
        log.warning("frames.current.v1 incomplete (%s): current frames republished", reason,
                    extra={"reason": reason, "frames": count})

    def frames_missing(self) -> str | None:
        """Why the topic lacks current frames, or None. Empty while the database has current frames: the broker
        restarted empty. Else its partitions' ends become the offsets a send must pass (`watch_offsets`): a
        broker that restarts later is seen at the first send after it. (Not a count of records: Tansu's end
        offset is the last batch's first offset + 1.)"""
        from services.infosocial.adapters.frames import current_frames   # frames.py enqueues through this module
        with self.sessions() as session:
            current = session.scalar(select(func.count()).select_from(current_frames().subquery())) or 0
        if not current:
            return None
        ends = end_offsets(self.bootstrap, self.frames_topic)
        if not any(ends.values()):
            return f"sujet vide, {current} fiche(s) courante(s) en base"
        for partition, end in ends.items():
            if end > 0:
                key = (self.frames_topic, partition)
                self.highest[key] = max(self.highest.get(key, -1), end - 1)
        return None

def prune(factory: sessionmaker, *, sent_before: datetime, processed_before: datetime) -> int:
    """Forget outbox rows already published and event ids too old to be redelivered."""
    with unit_of_work(factory) as s:
        return ledger.prune(s, outbox_table=OutboxRecord.__table__, processed=processed,
                            sent_before=sent_before, processed_before=processed_before)


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Each partition's end offset ({} if the topic does not exist)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, client_id="infosocial-probe", enable_auto_commit=False)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            return {}
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return {tp.partition: end for tp, end in ends.items()}
    finally:
        consumer.close()


def topic_is_empty(bootstrap: str, topic: str) -> bool:
    return not any(end_offsets(bootstrap, topic).values())
