"""The same acceptance code on SQLite (the embedded default): calls, groups, updates, referrals,
idempotency and person resolution, without a broker (the outbox just fills)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from dyade.contracts.inbound import CallSubmission, CallUpdateSubmission, PersonIdentity, ReferralSubmission
from dyade.db import make_engine, make_sessionmaker, migrate
from services.intake.adapters import models as m
from services.intake.adapters.acceptance import Conflict, Intake
from services.intake.adapters.code_tables import CodeTables
from services.intake.tests.conftest import call_body


@pytest.fixture(scope="module")
def intake_sqlite(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'dyade.db'}"
    migrate(url)
    engine = make_engine(url)
    yield Intake(make_sessionmaker(engine), "k", CodeTables.load())
    engine.dispose()


def test_calls_updates_referrals_on_sqlite(intake_sqlite):
    it = intake_sqlite
    at = datetime.now(timezone(timedelta(hours=-5))) - timedelta(minutes=2)
    a = CallSubmission.model_validate(call_body("SQ-1", received_at=at.isoformat()))
    b = CallSubmission.model_validate(call_body("SQ-2", persons=[
        {"first_name": "Jean-Francoise", "last_name": "Tremblay", "birth_date": "1980-05-17"}]))
    results = it.accept_calls([(a, None, "http"), (b, None, "http"), (a, None, "http")])
    assert [r.duplicate for r in results] == [False, False, True]
    assert results[1].body["persons"][0]["match"] == "fuzzy"
    assert results[1].body["persons"][0]["person_key"] == results[0].body["persons"][0]["person_key"]
    with pytest.raises(Conflict):
        it.accept_call(CallSubmission.model_validate({**a.model_dump(mode="json"), "priority": 5}))
    up = CallUpdateSubmission(status="cleared", at=at, disposition="refere")
    first = it.accept_update("SQ-1", up)
    assert it.accept_update("SQ-1", up) == type(first)(first.body, duplicate=True)
    ref = ReferralSubmission(referral_id="R-SQ", referrer_type="prepose_911", referrer_id="p-12",
                             person=PersonIdentity(first_name="Jean François", last_name="TREMBLAY",
                                                   birth_date="1980-05-17"), criteria=["recurrence"])
    out = it.accept_referral(ref)
    assert out.body["person_key"] == results[0].body["persons"][0]["person_key"] and out.body["match"] == "exact"
    status = it.call_status("SQ-1")
    assert status["revisions"][0]["received_at"] == at.astimezone(timezone.utc).isoformat()
    with it.sessions() as s:
        assert s.execute(select(func.count()).select_from(m.outbox)).scalar() == 4
