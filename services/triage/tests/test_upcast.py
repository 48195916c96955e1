"""States and records written before triage's types (old_shapes.json: written by the worker of that time, with
the decisions it made from them) are still read, and decide the same; what is written now is the new shape."""
from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path

import msgspec
import orjson
import pytest

from dyade.contracts.topics import CALLS_RECEIVED, REFERRALS_SUGGESTED, TRIAGE_DECIDED
from services.triage.adapters import codec
from services.triage.domain import packing, state as S, upcast
from services.triage.domain.config import RulesetConfig
from services.triage.domain.place import PlaceState
from services.triage.domain.records import CallRecord, UpdateRecord
from services.triage.tests.fakes import Message, stages
from services.triage.tests.harness import call_event

OLD = json.loads(Path(__file__).with_name("old_shapes.json").read_text(encoding="utf-8"))
CFG = RulesetConfig(history_max_calls=OLD["history_max_calls"])
PERSON, PLACE = "p_old", "l_old"


def as_bytes(shape: dict) -> bytes:
    return orjson.dumps(shape)  # as the old worker wrote it (faust's json codec is orjson)


def comparable(decision: dict) -> dict:
    """A decision without what names the code that made it (the rule-set version hashes the deciding code)."""
    return {k: v for k, v in decision.items() if k not in ("decision_id", "ruleset_version")}


def comparable_state(st: S.SubjectState) -> dict:
    out = msgspec.to_builtins(st)
    out["decisions"] = [(d.time, d.call_id, d.revision, comparable(json.loads(S.unpack(d.packed))))
                        for d in st.decisions]
    return out


async def test_an_old_state_and_old_records_in_flight_decide_as_before():
    s, app = stages(CFG)
    s.subjects[PERSON] = codec.load_subject(as_bytes(OLD["subject_state"]))
    hand_off = s.hand_off.get_topic_name()
    for record in (OLD["update_record"], OLD["call_record"]):  # as a worker of before had handed them on
        await s.subject_message(Message(hand_off, PERSON.encode(), as_bytes(record)))
    (decided,) = app.events(TRIAGE_DECIDED.name)
    assert comparable(decided.payload.model_dump(mode="json")) == comparable(OLD["decision"])
    assert decided.payload.level == "dyade_prioritaire" and len(decided.payload.reasons) == 9  # not a trivial one
    assert app.events(REFERRALS_SUGGESTED.name) == [] and OLD["suggestion"] is None
    assert comparable_state(s.subjects[PERSON]) == comparable_state(upcast.subject(OLD["subject_state_after"]))


async def test_an_old_place_counts_and_decides_as_before():
    s, app = stages(CFG)
    s.places[PLACE] = codec.load_place(as_bytes(OLD["place"]))
    old_call = OLD["call_record"]
    await s.place_message(Message(CALLS_RECEIVED.name, PLACE.encode(), call_event(
        old_call["call_id"], datetime.fromisoformat(old_call["received_at"]), person=PERSON, category=old_call["cat"],
        flags=old_call["flags"], location=PLACE, caller=old_call["caller"], address=old_call["addr"],
        lat=old_call["lat"], lon=old_call["lon"], nature_code=old_call["nature"]).to_bytes()))
    (handed,) = app.topics[s.hand_off.get_topic_name()].sent
    record = codec.load_hand_off(handed.value)
    assert record == upcast.record(old_call)   # same record, counts of the old place included
    assert s.places[PLACE] == upcast.place(OLD["place_after_call"])
    nobody = OLD["nobody_record"]
    await s.place_message(Message(CALLS_RECEIVED.name, PLACE.encode(), call_event(
        nobody["call_id"], datetime.fromisoformat(nobody["received_at"]), category=nobody["cat"], flags=nobody["flags"],
        location=PLACE).to_bytes()))
    (decided,) = app.events(TRIAGE_DECIDED.name)
    assert comparable(decided.payload.model_dump(mode="json")) == comparable(OLD["nobody_decision"])
    assert decided.payload.level == "securite_policiers"
    after, expected = s.places[PLACE], upcast.place(OLD["place_after"])
    assert comparable_state(after.state) == comparable_state(expected.state)
    assert (after.recent, after.pending, after.overflow) == (expected.recent, expected.pending, expected.overflow)


def test_the_upcast_names_every_old_field():
    st = upcast.subject(OLD["subject_state"])
    assert st.overflow.categories and st.overflow.pushed_out == ["c0", "c1", "c2"] and st.overflow.latest > 0
    assert [d.calls for d in st.overflow.days] == [1, 1, 1] and st.overflow.days[-1].domestic_violence == 1
    assert st.calls["c5"].disposition == "transport_p38" and st.calls["c5"].dyad_time is not None
    assert [f.risk_count for f in st.frames] == [2, 0, 1] and st.frames[0].stale and st.frames[0].version == 2
    assert [(o.recurrent, o.until is None) for o in st.overrides] == [(False, False), (True, True)]
    assert [s.status for s in st.referrals["r1"]] == ["recue", "refusee"]
    assert st.pending["c9"][0].disposition == "refere" and st.suggested.call_id == "c3"
    assert len(st.decisions) == S.MAX_DECISIONS and S.unpack(st.decisions[0].packed).startswith("{")
    place = upcast.place(OLD["place"])
    assert place.recent["n1"].subject is None and place.recent["c5"].crisis and place.state.calls["n1"].disposition
    call = upcast.record(OLD["call_record"])
    assert isinstance(call, CallRecord) and call.location_key == PLACE and call.location_counts["30j"] == 6
    assert call.location_crisis_30d == 5 and call.nature_code == "EMP" and call.correlation_id == "c-next"
    update = upcast.record(OLD["update_record"])
    assert isinstance(update, UpdateRecord) and (update.disposition, update.dyad_id) == ("arrestation", "D2")


def test_what_is_written_is_the_new_shape_and_reads_back_as_it_was():
    st = codec.load_subject(as_bytes(OLD["subject_state"]))
    written = codec.dump_state(st)
    assert written[:1] != b"{" and b"calls" in written and b"upto" not in written
    assert msgspec.msgpack.decode(written, type=S.SubjectState) == st   # today's decoder alone reads it
    assert codec.load_subject(written) == st
    place = codec.load_place(as_bytes(OLD["place"]))
    assert msgspec.msgpack.decode(codec.dump_state(place), type=PlaceState) == place
    record = codec.load_hand_off(as_bytes(OLD["call_record"]))
    assert b'"lk"' not in codec.dump(record) and codec.load_hand_off(codec.dump(record)) == record


def test_a_state_kept_as_json_of_todays_types_with_decisions_as_text_still_reads():
    """What the changelogs held before the states were msgpack: today's field names, `packed` as `z1:` text."""
    st = codec.load_subject(as_bytes(OLD["subject_state"]))
    place = codec.load_place(as_bytes(OLD["place"]))
    place.state = st
    before = msgspec.to_builtins(msgspec.convert(place, upcast.maps_shape(PlaceState), from_attributes=True))
    for d in before["state"]["decisions"]:
        d["packed"] = packing.PACKED_TEXT + d["packed"]
    assert codec.load_place(msgspec.json.encode(before)) == place
    assert codec.load_subject(msgspec.json.encode(before["state"])) == st
    assert codec.kept_calls_of_place(msgspec.json.encode(before)) == [d.call_id for d in st.decisions]
    assert codec.kept_calls_of_place(codec.dump_state(place)) == [d.call_id for d in st.decisions]


def test_a_state_kept_as_msgpack_whose_items_were_maps_still_reads():
    """What the changelogs held before a state's items (calls, decisions, …) were arrays of their fields."""
    written = OLD["msgpack_with_maps"]
    st = codec.load_subject(as_bytes(OLD["subject_state"]))
    place = codec.load_place(as_bytes(OLD["place"]))
    place.state = st
    before = base64.b64decode(written["subject"]), base64.b64decode(written["place"])
    assert codec.load_subject(before[0]) == st and codec.load_place(before[1]) == place
    assert codec.kept_calls_of_subject(before[0]) == codec.kept_calls_of_place(before[1]) == [
        d.call_id for d in st.decisions]
    now = codec.dump_state(st)
    assert len(now) < 0.9 * len(before[0]) and b"revision" not in now
    assert codec.load_subject(now) == st and codec.kept_calls_of_subject(now) == [d.call_id for d in st.decisions]


def test_an_old_record_of_the_oldest_workers_without_address_still_reads():
    oldest = {k: v for k, v in OLD["call_record"].items() if k not in ("addr", "lat", "lon", "nature")}
    record = codec.load_hand_off(as_bytes(oldest))
    assert record.address is None and record.nature_code is None and record.revision == 1


@pytest.mark.parametrize("load, data", [
    (codec.load_subject, b'{"calls": 3}'),
    (codec.load_subject, b"\x01 not a state"),
    (codec.load_place, b'{"recent": {"c1": [1.0]}}'),
    (codec.load_hand_off, b'{"kind": "call", "call_id": "c1"}'),
    (codec.load_hand_off, b'{"kind": "nothing"}'),
])
def test_what_is_neither_shape_is_refused_with_todays_reason(load, data):
    with pytest.raises(msgspec.ValidationError):
        load(data)


def test_bytes_that_are_not_json_are_refused():
    with pytest.raises(msgspec.DecodeError):
        codec.load_hand_off(b"not json")
