"""Consumers: triage decisions (alerts), call updates (busy/free, closing), frame changes (review,
stale) through the shared ConsumerLoop; the compacted frames.current.v1 through a small loop of its
own, because there a value-less record is a tombstone (the frame was archived), not an error."""
from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from kafka import KafkaConsumer
from sqlalchemy.exc import DataError

from dyade.contracts import EventError, decode, topic_for
from dyade.contracts.calls import CallUpdated
from dyade.contracts.frames import FrameChanged, FrameCurrent
from dyade.contracts.topics import CALLS_UPDATED, FRAMES_CHANGED, FRAMES_CURRENT, TRIAGE_DECIDED
from dyade.contracts.triage import TriageDecided
from dyade.kafka import FAST_GROUP, ConsumerLoop, dead_letter, key_of, make_producer

from services.notifier import handlers

if TYPE_CHECKING:
    from services.notifier.runtime import Notifier

log = logging.getLogger("dyade.notifier.consumers")


PERMANENT = (DataError, ValueError)  # the event can never be applied (value too long, impossible state)


def apply(notifier: "Notifier", session, event, now) -> None:
    if isinstance(event, TriageDecided):
        outcome = handlers.handle_decision(session, event.payload, notifier.config, now=now)
        log.info("decision handled", extra={"call_id": event.payload.call_id, "outcome": outcome})
    elif isinstance(event, CallUpdated):
        handlers.handle_call_update(session, event.payload, now=now)
    elif isinstance(event, FrameChanged):
        handlers.apply_frame_change(session, event.payload, now=now)


def handle_batch(notifier: "Notifier", events: list) -> None:
    """A polled batch in one transaction (one commit, not one per event: the notifier keeps up under a
    burst). If one event can never apply, the batch is redone one event at a time so that only that one
    goes to the dead-letter topic."""
    try:
        with notifier.work() as session:
            for event in events:
                apply(notifier, session, event, notifier.clock())
    except PERMANENT:
        for event in events:
            handle(notifier, event)


def handle(notifier: "Notifier", event) -> None:
    """Apply one event; a permanent failure sends it to its dead-letter topic with the reason instead of
    blocking the stream. Transient failures (database away) raise: the loop retries with backoff."""
    try:
        with notifier.work() as session:
            apply(notifier, session, event, notifier.clock())
    except PERMANENT as exc:
        reject(notifier, event, exc)


def reject(notifier: "Notifier", event, exc: Exception) -> None:
    topic = topic_for(type(event))
    reason = f"notifier: {type(exc).__name__}: {str(getattr(exc, 'orig', None) or exc).splitlines()[0]}"[:1000]
    notifier.producer.send(topic.dlq_name, key=key_of(event, topic), value=event.to_bytes(), headers=[
        ("dlq.reason", reason.encode()), ("dlq.source_topic", topic.name.encode()), ("dlq.service", b"notifier")])
    notifier.producer.flush(timeout=30)
    log.warning("event dead-lettered", extra={"topic": topic.name, "event_id": str(event.event_id),
                                              "reason": reason[:200]})


class FrameLoop:
    """frames.current.v1 → the police view per person; tombstone → forget it."""

    def __init__(self, notifier: "Notifier", bootstrap: str, group_id: str):
        self.notifier, self.bootstrap, self.group_id = notifier, bootstrap, group_id
        self.stop_event, self.ready = threading.Event(), threading.Event()
        self.error: BaseException | None = None
        self.processed = 0
        self.thread = threading.Thread(target=self._run, name=f"consumer-{group_id}", daemon=True)

    def start(self) -> "FrameLoop":
        self.thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout)

    @property
    def healthy(self) -> bool:
        return self.thread.is_alive() and self.error is None

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:
            self.error = exc
            log.exception("frame loop stopped")

    def _loop(self) -> None:
        consumer = KafkaConsumer(FRAMES_CURRENT.name, bootstrap_servers=self.bootstrap, group_id=self.group_id,
                                 enable_auto_commit=False, auto_offset_reset="earliest",
                                 client_id=f"notifier-{self.group_id}", **FAST_GROUP)
        producer = make_producer(self.bootstrap, client_id="notifier-frames-dlq")
        try:
            while not self.stop_event.is_set():
                batch = consumer.poll(timeout_ms=200)
                if consumer.assignment():
                    self.ready.set()
                if not batch:
                    continue
                for records in batch.values():
                    for record in records:
                        self._one(record, producer)
                producer.flush()
                consumer.commit()
        finally:
            consumer.close()
            producer.close()

    def _one(self, record, producer) -> None:
        now = self.notifier.clock()
        if record.value is None:
            if record.key:
                with self.notifier.work() as session:
                    handlers.remove_frame(session, record.key.decode())
            return
        try:
            event = decode(record.value, FrameCurrent)
        except EventError as exc:
            dead_letter(producer, record.topic, record, exc.reason, "notifier")
            return
        delay = 0.2
        while True:  # a database hiccup must not lose a frame: retry, offsets stay uncommitted meanwhile
            try:
                with self.notifier.work() as session:
                    handlers.apply_frame(session, event.payload, now=now)
                break
            except PERMANENT as exc:
                reject(self.notifier, event, exc)
                break
            except Exception:
                if self.stop_event.is_set():
                    raise
                log.exception("frame not applied; retrying")
                self.stop_event.wait(delay)
                delay = min(delay * 2, 10.0)
        self.processed += 1


def start_consumers(notifier: "Notifier", bootstrap: str) -> list:
    group = notifier.config.group_id
    events = ConsumerLoop(bootstrap=bootstrap, group_id=group, topics=(TRIAGE_DECIDED, CALLS_UPDATED, FRAMES_CHANGED),
                          handler=lambda e: handle(notifier, e), service="notifier",
                          batch_handler=lambda events: handle_batch(notifier, events)).start()
    frames = FrameLoop(notifier, bootstrap, f"{group}-frames").start()
    return [events, frames]
