"""The two stages' handlers, registered by topic (and the person events by type), driven without a broker."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dyade.contracts.frames import FrameCurrent, FrameCurrentPayload, PoliceView
from dyade.contracts.referrals import ReferralFiled, ReferralPayload, ReferralStatusChanged, ReferralStatusPayload
from dyade.contracts.topics import (
    CALLS_RECEIVED, CALLS_UPDATED, FRAMES_CURRENT, REFERRALS_FILED, REFERRALS_STATUS, TRIAGE_DECIDED, TRIAGE_OVERRIDDEN,
)
from dyade.contracts.triage import OverridePayload, RecurrenceOverridden
from services.triage.adapters import codec
from services.triage.domain import events
from services.triage.domain.records import CallRecord, UpdateRecord
from services.triage.domain.state import SubjectState, Suggestion
from services.triage.entrypoints.consumers import NO_LOCATION_KEY, PERSON_INPUTS
from services.triage.tests.fakes import Message, hand_on_all, stages
from services.triage.tests.harness import call_event, update_event

NOW = datetime(2025, 6, 1, 12, tzinfo=timezone.utc)
P, L = "p_1", "l_1"


def message(topic, event, key: str) -> Message:
    return Message(topic.name, key.encode(), event.to_bytes())


def test_every_consumed_topic_has_one_handler_and_every_person_event_one():
    from services.triage import bootstrap
    s, _ = stages()
    assert set(s.at_place) == set(bootstrap.call_inputs.topics) == {CALLS_RECEIVED.name, CALLS_UPDATED.name}
    assert set(s.at_subject) - {s.hand_off.get_topic_name()} == set(bootstrap.subject_inputs.topics) - {
        bootstrap.BY_SUBJECT.name} == {REFERRALS_FILED.name, REFERRALS_STATUS.name, FRAMES_CURRENT.name,
                                       TRIAGE_OVERRIDDEN.name}
    assert set(events.APPLY) == {e for t in PERSON_INPUTS for e in t.events}
    assert set(s.handed_off) == {CallRecord, UpdateRecord}


async def test_a_call_about_a_person_crosses_both_stages_with_its_early_update():
    s, app = stages()
    await s.place_message(message(CALLS_UPDATED, update_event("c1", NOW + timedelta(minutes=5),
                                                               disposition="transport_p38", location=L), L))
    assert app.topics[s.hand_off.get_topic_name()].sent == [] and "c1" in s.places[L].pending  # held
    await s.place_message(message(CALLS_RECEIVED, call_event("c1", NOW, person=P, location=L), L))
    (sent,) = app.topics[s.hand_off.get_topic_name()].sent   # one internal record for the person
    handed = codec.load_hand_offs(sent.value)
    assert [type(r) for r in handed] == [CallRecord, UpdateRecord]  # the call first, then what was held
    assert handed[0].location_counts["30j"] == 1 and handed[0].location_crisis_30d == 1
    await hand_on_all(s, app)
    (decided,) = app.events(TRIAGE_DECIDED.name)
    assert decided.payload.call_id == "c1" and decided.payload.person_keys == (P,)
    assert s.subjects[P].calls["c1"].disposition == "transport_p38" and s.index.lookup("c1") == P
    assert s.places[L].state is None   # the place is not the subject of a call about a person


async def test_a_call_about_nobody_is_decided_at_its_place():
    s, app = stages()
    await s.place_message(message(CALLS_RECEIVED, call_event("c2", NOW, location=L, flags=("arme",)), L))
    (decided,) = app.events(TRIAGE_DECIDED.name)
    assert decided.payload.level == "securite_policiers" and decided.payload.location_key == L
    assert app.topics[s.hand_off.get_topic_name()].sent == [] and "c2" in s.places[L].state.calls
    await s.place_message(message(CALLS_UPDATED, update_event("c2", NOW + timedelta(hours=1), disposition="arrestation",
                                                              location=L), L))
    assert s.places[L].state.calls["c2"].disposition == "arrestation" and s.index.lookup("c2") == L


async def test_an_update_without_its_location_key_is_dead_lettered():
    s, app = stages()
    await s.place_message(message(CALLS_UPDATED, update_event("c3", NOW, location=None), "c3"))
    (dead,) = app.topics[CALLS_UPDATED.dlq_name].sent
    assert dict(dead.headers)["dlq.reason"] == NO_LOCATION_KEY.encode() and s.places == {}


async def test_each_person_event_goes_to_its_handler():
    s, _ = stages()
    s.subjects[P] = SubjectState(suggested=Suggestion(criteria=["recurrence"], call_id="c0", time=0.0))
    await s.subject_message(message(REFERRALS_FILED, ReferralFiled.new(payload=ReferralPayload(
        referral_id="r1", referrer_type="policier", referrer_key="o1", person_key=P, criteria=("recurrence",)),
        occurred_at=NOW, source="intake", correlation_id="r1"), P))
    assert [(x.time, x.status) for x in s.subjects[P].referrals["r1"]] == [(NOW.timestamp(), "recue")]
    assert s.subjects[P].suggested is None   # a file was opened
    await s.subject_message(message(REFERRALS_STATUS, ReferralStatusChanged.new(payload=ReferralStatusPayload(
        referral_id="r1", person_key=P, status="fermee"), occurred_at=NOW + timedelta(days=1), source="infosocial",
        correlation_id="r1"), P))
    assert [x.status for x in s.subjects[P].referrals["r1"]] == ["recue", "fermee"]
    await s.subject_message(message(FRAMES_CURRENT, FrameCurrent.new(payload=FrameCurrentPayload(
        person_key=P, frame_id="f1", version=4, stale=True, review_due=NOW.date(), consent="obtenu",
        police_view=PoliceView(risques=("fugue", "arme blanche"))), occurred_at=NOW, source="infosocial",
        correlation_id=P), P))
    (frame,) = s.subjects[P].frames
    assert (frame.active, frame.version, frame.stale, frame.risk_count) == (True, 4, True, 2)
    await s.subject_message(Message(FRAMES_CURRENT.name, P.encode(), None, timestamp=NOW.timestamp() + 60))
    assert [(f.time, f.active) for f in s.subjects[P].frames] == [(NOW.timestamp(), True),
                                                                  (NOW.timestamp() + 60, False)]
    until = NOW + timedelta(days=30)
    await s.subject_message(message(TRIAGE_OVERRIDDEN, RecurrenceOverridden.new(payload=OverridePayload(
        person_key=P, recurrent=False, until=until, author_key="sw1"), occurred_at=NOW, source="infosocial",
        correlation_id=P), P))
    (override,) = s.subjects[P].overrides
    assert (override.recurrent, override.until) == (False, until.timestamp())


async def test_an_event_on_the_wrong_topic_is_dead_lettered_and_an_unknown_topic_is_refused():
    s, app = stages()
    await s.subject_message(message(TRIAGE_OVERRIDDEN, call_event("c4", NOW, person=P), P))
    (dead,) = app.topics[TRIAGE_OVERRIDDEN.dlq_name].sent
    assert b"inattendu" in dict(dead.headers)["dlq.reason"] and s.subjects == {}
    with pytest.raises(KeyError):   # the agent's guard sets such a record aside
        await s.subject_message(Message("calls.raw.v1", b"k", b"{}"))
