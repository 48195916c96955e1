"""The live consumer: group `analytics` over the seven topics analytics reads; each batch is stored in one
transaction (duplicates dropped by event id), then the figure cache is invalidated."""
from __future__ import annotations

import logging
from typing import Callable

from sqlalchemy.orm import Session, sessionmaker

from dyade.contracts import Event
from dyade.db import unit_of_work
from dyade.consumer import Consumer
from services.analytics.adapters import store
from services.analytics.entrypoints.metrics import EVENTS_STORED

log = logging.getLogger("dyade.analytics")

TOPICS = store.TOPICS
GROUP = "analytics"


def batch_writer(sessions: sessionmaker[Session], on_stored: Callable[[], None] = lambda: None):
    def handle(events: list[Event]) -> None:
        if not events:
            return
        with unit_of_work(sessions) as session:
            new = store.apply(session, events)
        if new:
            EVENTS_STORED.inc(new)
            on_stored()
    return handle


def start_consumer(bootstrap: str, sessions: sessionmaker[Session], *, group_id: str = GROUP,
                   on_stored: Callable[[], None] = lambda: None) -> Consumer:
    return Consumer(bootstrap, group_id, TOPICS, service="analytics",
                    handle_batch=batch_writer(sessions, on_stored)).start()
