"""Event contracts: one registry, round trips, upcasting of older versions, generated docs in sync."""
import json
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

from dyade.contracts import (
    TOPICS, CallCategory, CallPayload, CallReceived, EventError, Location, decode, registry,
)
from dyade.contracts import generate

FIXTURES = Path(__file__).parent / "fixtures" / "events"


def call(**over) -> CallReceived:
    payload = CallPayload(call_id="C-1", nature_code="EMP", category=CallCategory.ETAT_MENTAL_PERTURBE,
                          location=Location(location_key="l_1", sector="S1"), **over)
    return CallReceived.new(payload=payload, occurred_at=datetime(2026, 1, 5, 9, 30, tzinfo=timezone.utc),
                            source="intake", correlation_id="C-1")


def test_round_trip_keeps_every_field():
    event = call(flags=("arme",))
    assert decode(event.to_bytes()) == event


def test_every_event_travels_on_exactly_one_topic():
    carried = [cls for t in TOPICS for cls in t.events]
    assert sorted(c.TYPE for c in carried) == sorted(registry.classes)
    assert len(carried) == len(set(carried))


def test_topic_names_follow_the_convention():
    for t in TOPICS:
        domain, event, version = t.name.split(".")
        assert version.startswith("v") and version[1:].isdigit(), t.name


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_events_written_by_previous_schema_versions_still_parse(fixture):
    data = json.loads(fixture.read_text())
    event = decode(fixture.read_bytes())
    assert event.schema_version == type(event).VERSION > data["schema_version"]
    assert str(event.event_id) == data["event_id"]
    assert event.payload.location.location_key == data["payload"]["location_key"]
    assert event.payload.location.sector == data["payload"]["sector"]


@pytest.mark.parametrize("raw, reason", [
    (b"not json", "JSON invalide"),
    (b"[1, 2]", "objet JSON"),
    (b'{"type": "call.exploded", "schema_version": 1}', "type d'événement inconnu"),
    (b'{"type": "call.received", "schema_version": 99}', "plus récent"),
])
def test_undecodable_events_say_why(raw, reason):
    with pytest.raises(EventError, match=reason):
        decode(raw)


def test_a_missing_field_is_named():
    data = json.loads(call().to_bytes())
    del data["payload"]["category"]
    with pytest.raises(EventError, match="payload.category"):
        decode(json.dumps(data))


def test_events_are_immutable():
    event = call()
    with pytest.raises(Exception):
        event.payload.call_id = "other"  # type: ignore[misc]


def test_decode_rejects_an_unexpected_type():
    with pytest.raises(EventError, match="inattendu"):
        from dyade.contracts import CallUpdated
        decode(call().to_bytes(), expect=CallUpdated)


def test_generated_schemas_and_asyncapi_match_the_code():
    assert generate.main(["--check"]) == 0, "run `make contracts` (python -m dyade.contracts.generate) and commit"


def test_json_schema_validates_a_real_event():
    import jsonschema
    schema = generate.event_schemas()["call.received.v2.json"]
    jsonschema.validate(json.loads(call().to_bytes()), schema)
    bad = json.loads(call().to_bytes())
    bad["payload"]["priority"] = 9
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
