"""Consumers: triage decisions (alerts), call updates (busy/free, closing), frame changes (review,
stale), and the compacted frames.current.v1 (the police view per person; a tombstone = the frame was
archived), each on the consumer kernel (`dyade.consumer`): what can never apply is dead-lettered there."""
from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Callable, Protocol

from dyade.consumer import Consumer, Invalid
from dyade.contracts.calls import CallUpdated
from dyade.contracts.frames import FrameChanged
from dyade.contracts.topics import CALLS_UPDATED, FRAMES_CHANGED, FRAMES_CURRENT, TRIAGE_DECIDED
from dyade.contracts.triage import TriageDecided

from services.notifier.adapters import handlers



class Notifier(Protocol):
    """What the consumers need of the running notifier (services.notifier.runtime.Notifier): no import of
    it here, so the runtime that starts the consumers is not imported back by them."""
    config: object
    clock: Callable[[], datetime]

    def work(self) -> AbstractContextManager: ...

log = logging.getLogger("dyade.notifier.consumers")


def _decision(notifier: Notifier, session, event: TriageDecided, now) -> None:
    outcome = handlers.handle_decision(session, event.payload, notifier.config, now=now)
    log.info("decision handled", extra={"call_id": event.payload.call_id, "outcome": outcome})


APPLY = {
    TriageDecided: _decision,
    CallUpdated: lambda notifier, session, event, now: handlers.handle_call_update(session, event.payload, now=now),
    FrameChanged: lambda notifier, session, event, now: handlers.apply_frame_change(session, event.payload, now=now),
}


def handle_batch(notifier: Notifier, events: list) -> None:
    """A polled batch in one transaction (one commit, not one per event: the notifier keeps up under a
    burst), an event handled before dropped (dyade.ledger); if it fails, the kernel applies the events one
    at a time."""
    with notifier.work() as session:
        events = handlers.unseen(session, events)
        handlers.know_batch(session, [e.payload for e in events if isinstance(e, TriageDecided)])
        for event in events:
            _apply(notifier, session, event)


def _apply(notifier: Notifier, session, event) -> None:
    try:
        APPLY[type(event)](notifier, session, event, notifier.clock())
    except ValueError as exc:   # an impossible state: retrying cannot help
        raise Invalid(f"notifier: {exc}") from exc


def apply_frame(notifier: Notifier, event) -> None:
    with notifier.work() as session:
        try:
            handlers.apply_frame(session, event.payload, now=notifier.clock())
        except ValueError as exc:
            raise Invalid(f"notifier: {exc}") from exc


def forget_frame(notifier: Notifier, person_key: bytes) -> None:
    with notifier.work() as session:
        handlers.remove_frame(session, person_key.decode())


def start_consumers(notifier: Notifier, bootstrap: str) -> list[Consumer]:
    group = notifier.config.group_id
    events = Consumer(bootstrap, group, (TRIAGE_DECIDED, CALLS_UPDATED, FRAMES_CHANGED), service="notifier",
                      handle_batch=lambda events: handle_batch(notifier, events), on_alert_path=True).start()
    frames = Consumer(bootstrap, f"{group}-frames", (FRAMES_CURRENT,), service="notifier",
                      handle=lambda e: apply_frame(notifier, e),
                      on_tombstone=lambda key: forget_frame(notifier, key)).start()
    return [events, frames]
