"""Wiring: database, commands and reads, the outbox relay, the referral consumer, the register of
communications and its consumer, the daily sweep, and the republication of current frames when the broker came
back empty."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import timedelta

from kafka import KafkaProducer
from sqlalchemy import create_engine

from dyade.contracts.topics import COMMUNICATIONS_RECORDED, FRAMES_CURRENT, REFERRALS_FILED, REFERRALS_SUGGESTED
from dyade.db import make_engine, make_sessionmaker, unit_of_work
from dyade.consumer import Consumer
from dyade.kafka import make_producer
from dyade.settings import Settings
from services.infosocial.adapters.desk import Desk
from services.infosocial.adapters.frames import FrameCommands, republish_current
from services.infosocial.adapters.outbox import Relay, prune, topic_is_empty
from services.infosocial.adapters.queue import ReferralQueue
from services.infosocial.adapters.reads import FrameReads, SnapshotCache
from services.infosocial.adapters.register import Register
from dyade.clock import utcnow

log = logging.getLogger("infosocial")

SWEEP_EVERY_S = 6 * 3600  # the sweep is idempotent; running it several times a day keeps it "daily" after restarts


@dataclass
class Runtime:
    settings: Settings
    consumer_group: str = "infosocial"
    cache: SnapshotCache = field(default_factory=SnapshotCache)
    relay: Relay | None = None
    consumer: Consumer | None = None
    register_consumer: Consumer | None = None  # the register keeps its own group: a stall there holds no referral
    stopping: threading.Event = field(default_factory=threading.Event)
    sweeper: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.engine = make_engine(self.settings.db_url)
        self.factory = make_sessionmaker(self.engine)
        self.frames = FrameCommands(self.factory, after_commit=self._changed)
        self.audit_engine = audit_engine(self.settings.db_url)
        self.reads = FrameReads(self.factory, self.cache, self.audit_engine)
        self.queue = ReferralQueue(self.factory, after_commit=self._wake)
        self.desk = Desk(self.factory)
        self.register = Register(self.factory)

    def _wake(self) -> None:
        if self.relay:
            self.relay.notify()

    def _changed(self, person_key: str) -> None:
        self.cache.invalidate(person_key)
        self._wake()

    def start(self, *, workers: bool = True, sweep: bool = True) -> "Runtime":
        bootstrap = self.settings.kafka_bootstrap_servers
        if workers and bootstrap:
            # the relay's first check, at once, republishes the current frames if the broker came back empty
            self.relay = Relay(self.factory, bootstrap, refill=republish_current).start()
            self.consumer = Consumer(bootstrap, self.consumer_group, (REFERRALS_FILED, REFERRALS_SUGGESTED),
                                     service="infosocial", handle=self.queue.handle).start()
            self.register_consumer = Consumer(bootstrap, f"{self.consumer_group}-register", (COMMUNICATIONS_RECORDED,),
                                              service="infosocial", handle_batch=self.register.handle_batch).start()
        if sweep:
            self.sweeper = threading.Thread(target=self._sweep_loop, name="infosocial-sweep", daemon=True)
            self.sweeper.start()
        return self

    def _sweep_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                counts = self.frames.sweep()
                now = utcnow()
                pruned = prune(self.factory, sent_before=now - timedelta(days=7),
                               processed_before=now - timedelta(days=30))
                log.info("review sweep done", extra=counts | {"pruned": pruned})
            except Exception:
                log.exception("review sweep failed")
            self.stopping.wait(SWEEP_EVERY_S)

    def stop(self) -> None:
        self.stopping.set()
        for consumer in (self.consumer, self.register_consumer):
            if consumer:
                consumer.stop()
        if self.relay:
            self.relay.stop()
        self.engine.dispose()
        if self.audit_engine is not None:
            self.audit_engine.dispose()

    def consumers_health(self) -> list[dict]:
        return [c.health() for c in (self.consumer, self.register_consumer) if c]

    def workers_ok(self) -> None:
        if self.relay and self.relay.last_error:
            raise RuntimeError(f"publication en attente: {self.relay.last_error}")


def audit_engine(url: str):
    """PostgreSQL: a small autocommit pool for the audit INSERT of every read (no BEGIN/COMMIT/pre-ping round
    trips). SQLite: None (the main engine serves)."""
    if not url.startswith("postgresql"):
        return None
    return create_engine(url, isolation_level="AUTOCOMMIT", pool_size=10, max_overflow=20, pool_recycle=1800,
                         pool_reset_on_return=None, hide_parameters=True)  # no personal data in its errors


def republish_if_empty(factory, bootstrap: str, topic: str = FRAMES_CURRENT.name) -> int:
    """The embedded broker keeps nothing across restarts: if the compacted topic is empty, publish every
    current frame again from the database (the record)."""
    if not topic_is_empty(bootstrap, topic):
        return 0
    producer = make_producer(bootstrap, client_id="infosocial-republish")
    try:
        return republish(factory, producer, topic)
    finally:
        producer.close(timeout=10)


def republish(factory, producer: KafkaProducer, topic: str = FRAMES_CURRENT.name) -> int:
    with unit_of_work(factory) as s:
        count = republish_current(s, producer, topic)
    if count:
        log.info("current frames republished", extra={"count": count})
    return count
