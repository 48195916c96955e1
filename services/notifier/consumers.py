"""Consumers: triage decisions (alerts), call updates (busy/free, closing), frame changes (review,
stale), and the compacted frames.current.v1 (the police view per person; a tombstone = the frame was
archived), each through the shared ConsumerLoop."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy.exc import DataError

from dyade.contracts import topic_for
from dyade.contracts.calls import CallUpdated
from dyade.contracts.frames import FrameChanged, FrameCurrent
from dyade.contracts.topics import CALLS_UPDATED, FRAMES_CHANGED, FRAMES_CURRENT, TRIAGE_DECIDED
from dyade.contracts.triage import TriageDecided
from dyade.kafka import ConsumerLoop, key_of

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


def apply_frame(notifier: "Notifier", event: FrameCurrent) -> None:
    """The police view of a person's frame, kept current; a frame that can never apply is dead-lettered.
    Transient failures raise: the loop retries, offsets stay uncommitted meanwhile."""
    try:
        with notifier.work() as session:
            handlers.apply_frame(session, event.payload, now=notifier.clock())
    except PERMANENT as exc:
        reject(notifier, event, exc)


def forget_frame(notifier: "Notifier", person_key: bytes) -> None:
    with notifier.work() as session:
        handlers.remove_frame(session, person_key.decode())


def start_consumers(notifier: "Notifier", bootstrap: str) -> list:
    group = notifier.config.group_id
    events = ConsumerLoop(bootstrap=bootstrap, group_id=group, topics=(TRIAGE_DECIDED, CALLS_UPDATED, FRAMES_CHANGED),
                          handler=lambda e: handle(notifier, e), service="notifier",
                          batch_handler=lambda events: handle_batch(notifier, events)).start()
    frames = ConsumerLoop(bootstrap=bootstrap, group_id=f"{group}-frames", topics=(FRAMES_CURRENT,),
                          handler=lambda e: apply_frame(notifier, e), service="notifier",
                          on_tombstone=lambda key: forget_frame(notifier, key)).start()
    return [events, frames]
