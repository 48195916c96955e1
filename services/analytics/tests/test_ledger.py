"""The processed-event ledger (dyade.ledger): an event stored once is dropped when it comes again, in the
same batch or later, and only once its facts are committed; analytics_0004 keeps the events stored before."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text

from dyade.contracts.topics import CALLS_RECEIVED
from dyade.db import make_engine, make_sessionmaker, migrate, unit_of_work
from services.analytics.adapters import models as m
from services.analytics.adapters import store
from services.analytics.tests.history import received
from tests.kit import database

AT = datetime(2026, 12, 1, 15, tzinfo=timezone.utc)


def calls(sessions) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(m.calls))


def test_an_event_seen_before_is_dropped(sessions):
    event = received("c-ledger", AT, AT + timedelta(seconds=2))
    with unit_of_work(sessions) as s:
        assert store.apply(s, [event, event]) == 1
    with unit_of_work(sessions) as s:
        assert store.apply(s, [event]) == 0
    with sessions() as s:
        (row,) = s.execute(select(m.processed)).all()
    assert (row.event_id, row.topic) == (str(event.event_id), CALLS_RECEIVED.name) and row.handled_at is not None
    assert calls(sessions) == 1


def test_an_event_whose_facts_were_rolled_back_is_not_seen(sessions):
    event = received("c-rolled-back", AT, AT)
    with pytest.raises(RuntimeError), unit_of_work(sessions) as s:
        store.apply(s, [event])
        raise RuntimeError("the transaction fails after the ledger was written")
    with unit_of_work(sessions) as s:
        assert store.apply(s, [event]) == 1
    assert calls(sessions) == 1


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_migration_keeps_the_events_stored_before(dialect, tmp_path):
    event = received("c-before", AT, AT)
    with database(dialect, tmp_path, up_to="analytics_0003") as url:
        engine = make_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO analytics_processed (event_id, topic) VALUES (:id, :topic)"),
                             {"id": str(event.event_id), "topic": CALLS_RECEIVED.name})
            migrate(url)
            sessions = make_sessionmaker(engine)
            with sessions() as s:
                (row,) = s.execute(select(m.processed)).all()
            assert (row.event_id, row.topic) == (str(event.event_id), CALLS_RECEIVED.name)
            assert row.handled_at is not None
            with unit_of_work(sessions) as s:
                assert store.apply(s, [event]) == 0
            assert calls(sessions) == 0
        finally:
            engine.dispose()
