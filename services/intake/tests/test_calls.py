"""POST /v1/calls end to end: accepted once stored, published once, idempotent, 409 on conflict."""
from __future__ import annotations

from dyade.contracts.topics import CALLS_RECEIVED
from services.intake.tests.conftest import call_body


def test_call_is_accepted_and_published_with_keys_not_names(intake, dispatch, reader, unique):
    calls = reader(CALLS_RECEIVED)
    r = intake.post("/v1/calls", json=call_body(f"C-{unique}"), headers=dispatch)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "accepted" and body["category"] == "etat_mental_perturbe"
    [event] = calls.wait_for(lambda e: e.correlation_id == f"C-{unique}", 1)
    assert str(event.event_id) == body["event_id"]
    p = event.payload
    assert p.location.location_key.startswith("l_") and p.location.address == "1200 bloc rue Principale, Terrebonne"
    assert p.persons[0].person_key.startswith("p_") and p.persons[0].role == "sujet"
    raw = calls.records[-1].value.decode()
    assert "Tremblay" not in str(event.model_dump()) and "1234" not in str(event.model_dump())
    assert p.flags == ("idees_suicidaires",) and p.caller_relation == "famille"
    status = intake.get(f"/v1/calls/C-{unique}", headers=dispatch).json()
    assert status["revisions"][0]["event_id"] == body["event_id"] and status["revisions"][0]["published"]
    assert raw


def test_same_call_twice_returns_first_answer_and_publishes_once(intake, dispatch, reader, unique):
    calls = reader(CALLS_RECEIVED)
    body = call_body(f"D-{unique}")
    first = intake.post("/v1/calls", json=body, headers=dispatch)
    again = intake.post("/v1/calls", json=body, headers=dispatch)
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json() and again.headers["Idempotent-Replay"] == "true"
    rev2 = intake.post("/v1/calls", json={**body, "revision": 2, "priority": 1}, headers=dispatch)
    assert rev2.status_code == 202 and rev2.json()["event_id"] != first.json()["event_id"]
    events = calls.wait_for(lambda e: e.correlation_id == f"D-{unique}", 2)
    calls.poll()
    events = calls.events(lambda e: e.correlation_id == f"D-{unique}")
    assert sorted(e.payload.revision for e in events) == [1, 2]


def test_conflicting_body_for_same_revision_is_409_and_changes_nothing(intake, dispatch, unique):
    body = call_body(f"E-{unique}")
    first = intake.post("/v1/calls", json=body, headers=dispatch)
    r = intake.post("/v1/calls", json={**body, "priority": 5}, headers=dispatch)
    assert r.status_code == 409 and "révision" in r.json()["detail"]
    status = intake.get(f"/v1/calls/E-{unique}", headers=dispatch).json()
    assert [x["event_id"] for x in status["revisions"]] == [first.json()["event_id"]]


def test_the_same_call_under_another_code_table_is_409_even_if_the_names_share_their_start(intake, token, dispatch,
                                                                                           unique):
    """The fingerprint keeps only the first 8 characters of the table's name: "montreal" and "montreal-nord"
    must not make a resent call a duplicate."""
    admin = token("admin", subject="admin-tables-prefixe")
    table = {"source_system": "mtl-rao", "codes": {"10-EMP": "etat_mental_perturbe"}, "reason": "essai"}
    name, longer = f"mtl{unique}", f"mtl{unique}-nord"
    for n in (name, longer):
        assert intake.put(f"/v1/code-tables/{n}", json=table, headers=admin).status_code == 201
    body = call_body(f"T-{unique}", nature_code="10-EMP")
    first = intake.post(f"/v1/calls?code_table={name}", json=body, headers=dispatch)
    assert first.status_code == 202, first.text
    again = intake.post(f"/v1/calls?code_table={name}", json=body, headers=dispatch)
    assert again.status_code == 202 and again.headers["Idempotent-Replay"] == "true"
    other = intake.post(f"/v1/calls?code_table={longer}", json=body, headers=dispatch)
    assert other.status_code == 409, other.text
    assert "table de codes" in other.json()["detail"] and longer in other.json()["detail"]
    status = intake.get(f"/v1/calls/T-{unique}", headers=dispatch).json()
    assert [(x["event_id"], x["code_table"]) for x in status["revisions"]] == [(first.json()["event_id"], name)]
