"""The processed-event ledger (dyade.ledger): an event handled once is dropped when it comes again, in the
same batch or later, and only once its effect is committed; notifier_0005 keeps the outbox's rows."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select, text

from dyade.contracts.topics import CALLS_UPDATED, TRIAGE_DECIDED
from dyade.db import make_engine, make_sessionmaker, migrate, unit_of_work
from services.notifier.adapters.handlers import unseen
from services.notifier.adapters.models import OutboxRow, processed
from services.notifier.tests.conftest import DAY, call_update, decision
from tests.kit import database

BEFORE = datetime(2026, 11, 1, 9, tzinfo=timezone.utc)


def test_an_event_handled_before_is_dropped(sessions):
    d, u = decision("C-ledger", sector="S1", at=DAY), call_update("C-ledger", "cleared", at=DAY)
    with unit_of_work(sessions) as s:
        assert unseen(s, [d, u, d]) == [d, u]
    with unit_of_work(sessions) as s:
        assert unseen(s, [u, d]) == []
    with sessions() as s:
        topics = dict(s.execute(select(processed.c.event_id, processed.c.topic)).all())
    assert topics == {str(d.event_id): TRIAGE_DECIDED.name, str(u.event_id): CALLS_UPDATED.name}


def test_an_event_whose_effect_was_rolled_back_is_not_seen(sessions):
    d = decision("C-rolled-back", sector="S1", at=DAY)
    with pytest.raises(RuntimeError), unit_of_work(sessions) as s:
        assert unseen(s, [d]) == [d]
        raise RuntimeError("the handler fails after the ledger was written")
    with unit_of_work(sessions) as s:
        assert unseen(s, [d]) == [d]


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_migration_keeps_the_outbox(dialect, tmp_path):
    with database(dialect, tmp_path, up_to="notifier_0004_outbox") as url:
        engine = make_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO notifier_outbox (topic, key, value, event_type, created_at) "
                                  "VALUES ('communications.recorded.v1', 'p_1', :v, 'communication.recorded', :at)"),
                             {"v": b"{}", "at": BEFORE})
            migrate(url)
            with make_sessionmaker(engine)() as s:
                (row,) = s.scalars(select(OutboxRow)).all()
                assert s.execute(select(processed)).all() == []
            assert (row.key, row.value, row.event_type, row.sent_at) == ("p_1", b"{}", "communication.recorded", None)
        finally:
            engine.dispose()


def test_the_scheduler_forgets_published_outbox_rows_after_a_week_and_event_ids_past_retention(notifier):
    from datetime import timedelta
    from sqlalchemy import func
    from services.notifier.runtime import LEDGER_KEPT
    now = datetime.now(timezone.utc)
    with notifier.work() as s:
        s.execute(OutboxRow.__table__.insert(), [
            {"topic": "t", "key": "old", "value": b"{}", "event_type": "x", "created_at": now - timedelta(days=9),
             "sent_at": now - timedelta(days=8)},
            {"topic": "t", "key": "recent", "value": b"{}", "event_type": "x", "created_at": now, "sent_at": now},
            {"topic": "t", "key": "unsent", "value": b"{}", "event_type": "x", "created_at": now - timedelta(days=30),
             "sent_at": None}])
        s.execute(processed.insert(), [{"event_id": "old-event", "topic": "t", "handled_at": now - LEDGER_KEPT - timedelta(days=1)},
                                       {"event_id": "kept-event", "topic": "t", "handled_at": now - timedelta(days=300)}])
    notifier._pruned_at = None
    assert notifier.tick(now)["pruned"] >= 2
    with notifier.work() as s:
        keys = set(s.scalars(select(OutboxRow.key).where(OutboxRow.key.in_(["old", "recent", "unsent"]))))
        ids = set(s.scalars(select(processed.c.event_id).where(processed.c.event_id.in_(["old-event", "kept-event"]))))
    assert keys == {"recent", "unsent"} and ids == {"kept-event"}
    assert "pruned" not in notifier.tick(now + timedelta(minutes=1))     # once an hour


def test_the_scheduler_forgets_cleared_calls_once_no_decision_about_them_could_page(notifier, unique):
    from datetime import timedelta
    from services.notifier.adapters.models import ClearedCallRow
    from services.notifier.runtime import CLEARED_KEPT_PAST_HORIZON
    now = datetime.now(timezone.utc)
    kept = notifier.config.horizon + CLEARED_KEPT_PAST_HORIZON
    with notifier.work() as s:
        s.add_all([ClearedCallRow(call_id=f"old-{unique}", cleared_at=now - kept - timedelta(minutes=1)),
                   ClearedCallRow(call_id=f"recent-{unique}", cleared_at=now - kept + timedelta(minutes=1))])
    notifier._pruned_at = None
    notifier.tick(now)
    with notifier.sessions() as s:
        left = set(s.scalars(select(ClearedCallRow.call_id).where(ClearedCallRow.call_id.like(f"%-{unique}"))))
    assert left == {f"recent-{unique}"}
