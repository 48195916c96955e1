"""The processed-event ledger (dyade.ledger): a referral event handled once is dropped when it comes again;
infosocial_0004 keeps the event ids handled before (and the outbox's rows), so they are still dropped."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text

from dyade.contracts.topics import REFERRALS_FILED
from dyade.db import make_engine, make_sessionmaker, migrate
from services.infosocial.adapters.models import OutboxRecord, Referral, processed
from services.infosocial.adapters.outbox import prune
from services.infosocial.adapters.queue import ReferralQueue
from tests.kit import database

from infosocial_helpers import filed

BEFORE = datetime(2026, 11, 1, 9, tzinfo=timezone.utc)


def referrals(sessions) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(Referral))


def test_a_referral_event_handled_before_is_dropped(sessions):
    committed = []
    queue = ReferralQueue(sessions, after_commit=lambda: committed.append(1))
    event = filed("p_ledger1")
    queue.handle(event)
    queue.handle(event)
    assert committed == [1] and referrals(sessions) == 1
    with sessions() as s:
        (row,) = s.execute(select(processed)).all()
    assert (row.event_id, row.topic) == (str(event.event_id), REFERRALS_FILED.name) and row.handled_at is not None


def test_event_ids_too_old_to_come_again_are_pruned(sessions):
    queue = ReferralQueue(sessions)
    queue.handle(filed("p_ledger2"))
    now = datetime.now(timezone.utc)
    assert prune(sessions, sent_before=now - timedelta(days=7), processed_before=now - timedelta(days=1)) == 0
    assert prune(sessions, sent_before=now - timedelta(days=7), processed_before=now + timedelta(seconds=1)) == 1
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(processed)) == 0


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_migration_keeps_the_events_handled_before_and_the_outbox(dialect, tmp_path):
    event = filed("p_ledger3")
    with database(dialect, tmp_path, up_to="infosocial_0003") as url:
        engine = make_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO infosocial_processed_events (event_id, at) VALUES (:id, :at)"),
                             {"id": str(event.event_id), "at": BEFORE})
                conn.execute(text("INSERT INTO infosocial_outbox (topic, key, value, event_type, created_at) "
                                  "VALUES ('frames.current.v1', 'p_ledger3', NULL, NULL, :at)"), {"at": BEFORE})
            migrate(url)
            sessions = make_sessionmaker(engine)
            with sessions() as s:
                (row,) = s.execute(select(processed)).all()
                (tombstone,) = s.scalars(select(OutboxRecord)).all()
            assert (row.event_id, row.topic) == (str(event.event_id), None)
            assert row.handled_at.replace(tzinfo=row.handled_at.tzinfo or timezone.utc) == BEFORE
            assert (tombstone.key, tombstone.value) == ("p_ledger3", None)
            ReferralQueue(sessions).handle(event)
            assert referrals(sessions) == 0
        finally:
            engine.dispose()
