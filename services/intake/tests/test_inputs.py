"""Updates, referrals, EIDO, batches and person resolution through the HTTP API, against the real
broker and PostgreSQL."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from dyade.contracts.topics import CALLS_RECEIVED, CALLS_UPDATED, REFERRALS_FILED
from services.intake.tests.conftest import call_body
from dyade.paths import EIDO_STANDARD

SAMPLE = EIDO_STANDARD / "sample-call-transfer.json"


def ago(minutes: int) -> str:
    return (datetime.now(timezone.utc) - timedelta(minutes=minutes)).isoformat()


def test_update_published_with_call_persons_and_sector_idempotent(intake, dispatch, reader, unique):
    updates = reader(CALLS_UPDATED)
    call = intake.post("/v1/calls", json=call_body(f"U-{unique}"), headers=dispatch).json()
    body = {"status": "cleared", "at": ago(1), "disposition": "transport_volontaire", "dyad_id": "D1"}
    r = intake.post(f"/v1/calls/U-{unique}/updates", json=body, headers=dispatch)
    assert r.status_code == 202, r.text
    again = intake.post(f"/v1/calls/U-{unique}/updates", json=body, headers=dispatch)
    assert again.json() == r.json() and again.headers["Idempotent-Replay"] == "true"
    conflict = intake.post(f"/v1/calls/U-{unique}/updates", json={**body, "disposition": "arrestation"},
                           headers=dispatch)
    assert conflict.status_code == 409
    [event] = updates.wait_for(lambda e: e.correlation_id == f"U-{unique}", 1)
    assert event.payload.disposition == "transport_volontaire" and event.payload.sector == "S1"
    assert list(event.payload.person_keys) == [p["person_key"] for p in call["persons"]]
    unknown = intake.post(f"/v1/calls/NOPE-{unique}/updates", json=body, headers=dispatch)
    assert unknown.status_code == 404 and "appel inconnu" in unknown.json()["detail"]
    bad = intake.post(f"/v1/calls/U-{unique}/updates", json={"status": "on_scene", "at": ago(1),
                                                            "disposition": "refere"}, headers=dispatch)
    assert bad.status_code == 422 and "cleared" in bad.json()["detail"]


def referral(unique: str, **over) -> dict:
    body = {"referral_id": f"R-{unique}", "referrer_type": "policier", "referrer_id": "matricule 4521",
            "person": {"first_name": "Sylvie", "last_name": f"Côté{unique}", "birth_date": "1969-11-02"},
            "clientele": ["trouble_sante_mentale"], "criteria": ["recurrence", "complexite_intervention"],
            "linked_call_ids": [f"C-{unique}"], "narrative": "Quatrième appel ce mois-ci."}
    body.update(over)
    return body


def test_referral_published_with_keys_and_refused_without_criterion(intake, token, reader, unique):
    filed = reader(REFERRALS_FILED)
    officer = token("officer")
    r = intake.post("/v1/referrals", json=referral(unique), headers=officer)
    assert r.status_code == 202, r.text
    assert r.json()["match"] == "new" and r.json()["person_key"].startswith("p_")
    again = intake.post("/v1/referrals", json=referral(unique), headers=officer)
    assert again.json() == r.json()
    assert intake.post("/v1/referrals", json=referral(unique, narrative="autre"), headers=officer).status_code == 409
    none = intake.post("/v1/referrals", json=referral(unique + "x", criteria=[]), headers=officer)
    assert none.status_code == 422 and "critère" in none.json()["detail"]
    [event] = filed.wait_for(lambda e: e.correlation_id == f"R-{unique}", 1)
    p = event.payload
    assert p.person_key == r.json()["person_key"] and p.referrer_key.startswith("r_")
    assert p.criteria == ("recurrence", "complexite_intervention")
    assert "Côté" not in event.to_bytes().decode() and "4521" not in event.to_bytes().decode()
    status = intake.get(f"/v1/referrals/R-{unique}", headers=officer).json()
    assert status["published"] is True


def test_near_duplicate_spellings_resolve_to_the_same_person(intake, token, dispatch, unique):
    sw = token("social_worker", subject=f"sw-spellings-{unique}")
    last = f"Tremblay{unique}"
    person = {"first_name": "Jean-François", "last_name": last, "birth_date": "1980-05-17"}
    assert intake.post("/v1/persons/resolve", headers=sw, json=person).status_code == 404  # a look-up makes no key
    r = intake.post("/v1/referrals", headers=token("officer"),
                    json={**referral(unique), "person": person, "linked_call_ids": []})
    assert r.status_code == 202 and r.json()["match"] == "new", r.text
    first = {"person_key": r.json()["person_key"], "match": "exact", "confidence": 1.0}
    exact = intake.post("/v1/persons/resolve", headers=sw,
                        json={"first_name": "JEAN FRANCOIS", "last_name": last.lower(), "birth_date": "1980-05-17"})
    assert exact.json() == {**first, "match": "exact"}
    reordered = intake.post("/v1/persons/resolve", headers=sw,
                            json={"first_name": last, "last_name": "Jean-François", "birth_date": "1980-05-17"})
    assert reordered.json()["person_key"] == first["person_key"]
    fuzzy = intake.post("/v1/persons/resolve", headers=sw,
                        json={"first_name": "Jean-Francoise", "last_name": last, "birth_date": "1980-05-17"}).json()
    assert fuzzy["person_key"] == first["person_key"] and fuzzy["match"] == "fuzzy" and 0.88 <= fuzzy["confidence"] < 1
    other_birth = intake.post("/v1/persons/resolve", headers=sw,
                              json={"first_name": "Jean-Francoise", "last_name": last, "birth_date": "1981-05-17"})
    assert other_birth.status_code == 404
    # A call naming the fuzzy spelling with a CAD person id carries the same key; the id alone then finds it.
    body = call_body(f"P-{unique}", persons=[{"first_name": "Jean Francoise", "last_name": last,
                                              "birth_date": "1980-05-17", "cad_person_id": f"CAD-{unique}"}])
    call = intake.post("/v1/calls", json=body, headers=dispatch).json()
    assert call["persons"][0]["person_key"] == first["person_key"] and call["persons"][0]["match"] == "fuzzy"
    by_id = intake.post("/v1/persons/resolve", headers=sw, json={"cad_person_id": f"CAD-{unique}"}).json()
    assert by_id == {"person_key": first["person_key"], "match": "cad_id", "confidence": 1.0}


def test_standard_eido_sample_accepted_published_and_idempotent(intake, dispatch, reader):
    calls = reader(CALLS_RECEIVED)
    doc = json.loads(SAMPLE.read_text())
    r = intake.post("/v1/eido", json=doc, headers=dispatch)
    assert r.status_code == 202, r.text
    again = intake.post("/v1/eido", json=doc, headers=dispatch)
    assert again.json() == r.json() and again.status_code == 202
    call_id = "urn:emergency:uid:incidentid:a56e556d871:bcf.state.pa.us"
    events = calls.wait_for(lambda e: e.correlation_id == call_id, 1)
    assert str(events[0].event_id) == r.json()["event_id"]
    assert events[0].payload.category == "autre" and events[0].payload.location.address == "0 bloc W Cellular Street, Wilmington, DE"
    broken = dict(doc, callComponent=[{"callStartTimestamp": 12}])
    bad = intake.post("/v1/eido", json=broken, headers=dispatch)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "callComponent[0].callStartTimestamp"


def test_batch_gives_one_result_per_item_and_one_bad_item_fails_nothing(intake, dispatch, reader, unique):
    calls = reader(CALLS_RECEIVED)
    first = call_body(f"B-{unique}-1")
    items = [first, {"call_id": f"B-{unique}-2"}, call_body(f"B-{unique}-3", nature_code="ZZZ"),
             call_body(f"B-{unique}-4", received_at=(datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()),
             first, "pas un objet", call_body(f"B-{unique}-5", nature_code="VC")]
    r = intake.post("/v1/calls:batch", json={"calls": items}, headers=dispatch)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["status"] for x in body["results"]] == ["accepted", "rejected", "rejected", "rejected", "duplicate",
                                                      "rejected", "accepted"]
    reasons = [x.get("reason", "") for x in body["results"]]
    assert "received_at" in reasons[1] and "ZZZ" in reasons[2] and "futur" in reasons[3]
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 1, 4)
    events = calls.wait_for(lambda e: e.correlation_id.startswith(f"B-{unique}"), 2)
    assert sorted(e.correlation_id for e in events) == [f"B-{unique}-1", f"B-{unique}-5"]


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+14:00", "1969-12-31T23:59:59+00:00"])
def test_a_time_before_1970_is_a_422_naming_the_field(intake, dispatch, token, unique, stamp):
    """0001-01-01T00:00:00+14:00 is before datetime's range once in UTC: it was a 500."""
    r = intake.post("/v1/calls", json=call_body(f"OLD-{unique}", received_at=stamp), headers=dispatch)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "received_at", r.text
    assert "date trop ancienne" in r.json()["detail"] and "1970-01-01" in r.json()["detail"]
    assert intake.get(f"/v1/calls/OLD-{unique}", headers=dispatch).status_code == 404
    assert intake.post("/v1/calls", json=call_body(f"UPD-{unique}"), headers=dispatch).status_code == 202
    u = intake.post(f"/v1/calls/UPD-{unique}/updates", json={"status": "dispatched", "at": stamp}, headers=dispatch)
    assert u.status_code == 422 and u.json()["errors"][0]["field"] == "at", u.text
    assert intake.get(f"/v1/calls/UPD-{unique}", headers=dispatch).json()["updates"] == []
    f = intake.post("/v1/referrals", json=referral(unique, filed_at=stamp), headers=token("officer"))
    assert f.status_code == 422 and f.json()["errors"][0]["field"] == "filed_at", f.text


def eido_version(unique: str, stamp: str, notes: str | None = None) -> dict:
    doc = {**json.loads(SAMPLE.read_text()), "$id": f"eido-{unique}", "lastUpdateTimeStamp": stamp}
    if notes:
        doc["notesComponent"] = [{"notesActionComments": notes}]
    return doc


def test_an_eido_older_than_the_latest_accepted_version_is_a_409_and_not_published(intake, dispatch, reader,
                                                                                   unique):
    """Consumers keep a call's highest revision: an older version arriving late (retried after a 503) must not
    get one."""
    calls = reader(CALLS_RECEIVED)
    newer = intake.post("/v1/eido", json=eido_version(unique, "2021-04-30T15:00:00-04:00", "Homme calme"),
                        headers=dispatch)
    assert newer.status_code == 202 and newer.json()["revision"] == 1, newer.text
    older = intake.post("/v1/eido", json=eido_version(unique, "2021-04-30T14:45:00-04:00", "Homme en crise"),
                        headers=dispatch)
    assert older.status_code == 409, older.text
    detail = older.json()["detail"]
    assert "version plus récente" in detail and f"eido-{unique}" in detail
    assert "2021-04-30T19:00:00+00:00" in detail and "2021-04-30T14:45:00-04:00" in detail
    # the same instant written in UTC is the same version: the first answer again
    same = intake.post("/v1/eido", json=eido_version(unique, "2021-04-30T19:00:00Z", "Homme calme"), headers=dispatch)
    assert same.status_code == 202 and same.json() == newer.json() and same.headers["Idempotent-Replay"] == "true"
    latest = intake.post("/v1/eido", json=eido_version(unique, "2021-04-30T15:10:00-04:00", "Transporté"),
                         headers=dispatch)
    assert latest.status_code == 202 and latest.json()["revision"] == 2, latest.text
    revisions = intake.get(f"/v1/calls/eido-{unique}", headers=dispatch).json()["revisions"]
    assert [x["event_id"] for x in revisions] == [newer.json()["event_id"], latest.json()["event_id"]]
    calls.wait_for(lambda e: e.correlation_id == f"eido-{unique}", 2)
    calls.poll()
    assert sorted(e.payload.revision for e in calls.events(lambda e: e.correlation_id == f"eido-{unique}")) == [1, 2]


def test_an_eido_version_sent_again_with_another_offset_is_a_duplicate_after_a_newer_one(intake, dispatch, unique):
    first = intake.post("/v1/eido", json=eido_version(unique, "2021-04-30T14:45:00-04:00"), headers=dispatch)
    second = intake.post("/v1/eido", json=eido_version(unique, "2021-04-30T15:00:00-04:00"), headers=dispatch)
    assert (first.json()["revision"], second.json()["revision"]) == (1, 2), (first.text, second.text)
    again = intake.post("/v1/eido", json=eido_version(unique, "2021-04-30T18:45:00+00:00"), headers=dispatch)
    assert again.status_code == 202 and again.json() == first.json(), again.text
    assert again.headers["Idempotent-Replay"] == "true"


@pytest.mark.parametrize("path, value", [
    ("lastUpdateTimeStamp", "0001-01-01T00:00:00+14:00"),
    ("callComponent[0].callStartTimestamp", "0001-01-01T00:00:00+14:00"),
    ("lastUpdateTimeStamp", (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()),
])
def test_an_eido_time_before_1970_or_in_the_future_is_a_422_naming_its_path(intake, dispatch, unique, path, value):
    doc = eido_version(unique, "2021-04-30T15:00:00-04:00")
    if path == "lastUpdateTimeStamp":
        doc[path] = value
    else:
        doc["callComponent"] = [{**doc["callComponent"][0], "callStartTimestamp": value}]
    r = intake.post("/v1/eido", json=doc, headers=dispatch)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == path, r.text
    assert intake.get(f"/v1/calls/eido-{unique}", headers=dispatch).status_code == 404
