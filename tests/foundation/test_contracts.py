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
from dyade.contracts.envelope import payload_json_of

FIXTURES = Path(__file__).parent / "fixtures" / "events"


def call(**over) -> CallReceived:
    payload = CallPayload(call_id="C-1", nature_code="EMP", category=CallCategory.ETAT_MENTAL_PERTURBE,
                          location=Location(location_key="l_1", sector="S1"), **over)
    return CallReceived.new(payload=payload, occurred_at=datetime(2026, 1, 5, 9, 30, tzinfo=timezone.utc),
                            source="intake", correlation_id="C-1")


def test_round_trip_keeps_every_field():
    event = call(flags=("arme",))
    assert decode(event.to_bytes()) == event


def test_an_event_written_with_its_payload_already_serialized_is_the_same_bytes():
    event = call(flags=("arme",), summary="Homme en crise, « calme » après l'appel")
    payload_json = payload_json_of(event.payload)
    assert event.to_bytes(payload_json) == event.to_bytes()
    assert decode(event.to_bytes(payload_json)) == event


def test_a_payload_already_serialized_is_still_checked_for_text_a_consumer_refuses():
    event = call(summary="avant\x00après")
    with pytest.raises(EventError, match="summary"):
        event.to_bytes(payload_json_of(event.payload))


def test_every_event_travels_on_exactly_one_topic():
    carried = [cls for t in TOPICS for cls in t.events]
    assert sorted(c.TYPE for c in carried) == sorted(registry.classes)
    assert len(carried) == len(set(carried))


def test_topic_names_follow_the_convention():
    """`<domain>.<event>.v<major>`: the topic says which event it carries and from which version — the event's
    type is `<domain>.<event>` (the topic's domain may be plural); its schema version starts at the topic's
    major and grows with the changes an upcaster reads on the same topic (docs/operations.md)."""
    for t in TOPICS:
        domain, event, version = t.name.split(".")
        assert version.startswith("v") and version[1:].isdigit(), t.name
        for cls in t.events:
            kind, name = cls.TYPE.split(".")
            assert domain in (kind, kind + "s") and name == event, (t.name, cls.TYPE)
            assert cls.VERSION >= int(version[1:]), (t.name, cls.TYPE, cls.VERSION)


@pytest.mark.parametrize("old_type, version", [("triage.recurrence_overridden", 1), ("referral.status_changed", 1),
                                               ("call.updated", 1)])
def test_events_under_an_earlier_type_name_or_version_still_parse(old_type, version):
    """Types renamed to agree with their topic, and call.updated v1 (before calls.updated.v2): what is
    already in the topics reads as the current event."""
    from dyade.contracts import ReferralStatusChanged, RecurrenceOverridden
    from dyade.contracts.calls import CallUpdated
    from dyade.contracts.vocabulary import CallStatus, ReferralStatus
    now = datetime.now(timezone.utc)
    current = {
        "triage.recurrence_overridden": lambda: RecurrenceOverridden.new(payload={
            "person_key": "p_abc", "recurrent": False, "note": "fusion de deux dossiers", "author_key": "a_1"},
            occurred_at=now, source="infosocial", correlation_id="c"),
        "referral.status_changed": lambda: ReferralStatusChanged.new(payload={
            "referral_id": "R-1", "person_key": "p_abc", "status": ReferralStatus.ADMISSIBLE},
            occurred_at=now, source="infosocial", correlation_id="c"),
        "call.updated": lambda: CallUpdated.new(payload={"call_id": "X-1", "status": CallStatus.DISPATCHED},
                                                occurred_at=now, source="intake", correlation_id="X-1"),
    }[old_type]()
    data = json.loads(current.to_bytes())
    data["type"], data["schema_version"] = old_type, version
    event = decode(json.dumps(data).encode())
    assert type(event) is type(current) and event.schema_version == type(current).VERSION
    assert event.payload == current.payload


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


def test_the_label_catalogue_words_every_code_in_both_languages_and_the_services_use_it():
    from dyade.contracts.labels import CATALOGUE, label
    from services.analytics.entrypoints.i18n import CODES_EN, CODES_FR
    from services.notifier.domain import labels as notifier_labels
    from services.triage.domain import labels as triage_labels
    for vocabulary, words in CATALOGUE.items():
        assert set(words) == set(vocabulary), vocabulary
        for fr, en in words.values():
            assert fr.strip() and en.strip() and fr[0].isupper()
    # one word per code wherever it is shown
    from dyade.contracts.vocabulary import CallCategory, Disposition
    for code in Disposition:
        word = label(Disposition, code)
        assert triage_labels.DISPOSITIONS[code.value] == CODES_FR[code.value] == notifier_labels.DISPOSITIONS[code] == word
        assert CODES_EN[code.value] == label(Disposition, code, "en")
    for code in CallCategory:
        assert triage_labels.CATEGORIES[code.value] == notifier_labels.CATEGORIES[code] == label(CallCategory, code)
    assert label(Disposition, "pas_un_code") == "pas_un_code" and label(Disposition, None) is None
