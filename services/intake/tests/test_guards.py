"""Bad input of any kind gets a 4xx naming the field and the problem and changes nothing; every
endpoint requires a token, with the roles the issue gives."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services.intake.tests.conftest import call_body


@pytest.mark.parametrize("change, status, field", [
    (lambda b: b.update(priority="haute"), 422, "priority"),
    (lambda b: b.pop("received_at"), 422, "received_at"),
    (lambda b: b.update(received_at="2024-01-01T10:00:00"), 422, "received_at"),  # no time zone
    (lambda b: b.update(received_at=(datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()), 422, "received_at"),
    (lambda b: b.update(nature_code="XYZ-INCONNU"), 422, "nature_code"),
    (lambda b: b["location"].update(address="<UNKNOWN> / "), 422, "location.address"),
    (lambda b: b["location"].update(lat=123), 422, "location.lat"),
    (lambda b: b.update(flags=["pas_un_drapeau"]), 422, "flags.0"),
    (lambda b: b.update(persons=[{"first_name": "Jean"}]), 422, "persons.0"),
    (lambda b: b.update(call_id="a b/c"), 422, "call_id"),
    (lambda b: b.update(surprise=1), 422, "surprise"),
])
def test_bad_call_is_refused_naming_the_field_and_stores_nothing(intake, dispatch, unique, change, status, field):
    body = call_body(f"BAD-{unique}")
    change(body)
    r = intake.post("/v1/calls", json=body, headers=dispatch)
    assert r.status_code == status, r.text
    fields = [e["field"] for e in r.json()["errors"]]
    assert any(f == field or f.startswith(field) for f in fields), fields
    assert r.json()["detail"]
    if body.get("call_id") == f"BAD-{unique}":
        assert intake.get(f"/v1/calls/BAD-{unique}", headers=dispatch).status_code == 404


def test_unknown_code_table_and_unknown_code_name_what_is_wrong(intake, dispatch, unique):
    r = intake.post("/v1/calls?code_table=atlantis", json=call_body(f"T-{unique}"), headers=dispatch)
    assert r.status_code == 422 and "atlantis" in r.json()["detail"]
    r = intake.post("/v1/calls", json=call_body(f"T-{unique}", nature_code="5150"), headers=dispatch)
    assert r.status_code == 422 and "'5150'" in r.json()["detail"]
    ok = intake.post("/v1/calls?code_table=berkeley", json=call_body(f"T-{unique}", nature_code="5150"),
                     headers=dispatch)
    assert ok.status_code == 202 and ok.json()["category"] == "etat_mental_perturbe"


def test_invalid_utf8_malformed_json_and_oversize_bodies(intake, dispatch, unique):
    headers = {**dispatch, "Content-Type": "application/json"}
    raw = ('{"call_id": "UTF-%s", "nature_code": "EMP"}' % unique).encode().replace(b"EMP", b"\xff\xfeEMP")
    r = intake.post("/v1/calls", content=raw, headers=headers)
    assert r.status_code == 400 and "UTF-8" in r.json()["detail"]
    r = intake.post("/v1/calls", content=b'{"call_id": ', headers=headers)
    assert r.status_code == 422 and "JSON" in r.text
    big = b'{"call_id": "' + b"x" * 1_100_000 + b'"}'
    assert intake.post("/v1/calls", content=big, headers=headers).status_code == 413

    def chunks():  # no Content-Length: the guard counts the bytes itself
        for _ in range(12):
            yield b" " * 100_000
    assert intake.post("/v1/calls", content=chunks(), headers=headers).status_code == 413
    assert intake.post("/v1/calls", json=[1, 2], headers=dispatch).status_code == 422
    assert intake.post("/v1/eido", json=[1, 2], headers=dispatch).status_code == 422


ENDPOINTS = [
    ("post", "/v1/calls", {"dispatch"}),
    ("post", "/v1/calls:batch", {"dispatch"}),
    ("post", "/v1/calls/X-1/updates", {"dispatch"}),
    ("post", "/v1/eido", {"dispatch"}),
    ("post", "/v1/referrals", {"officer", "calltaker", "partner", "social_worker"}),
    ("post", "/v1/persons/resolve", {"officer", "calltaker", "social_worker"}),
    ("get", "/v1/calls/X-1", {"dispatch", "supervisor"}),
    ("get", "/v1/referrals/R-1", {"officer", "calltaker", "partner", "social_worker", "supervisor"}),
    ("get", "/v1/persons/p_abcd1234/identity", {"social_worker"}),
    ("post", "/v1/persons/identities", {"social_worker"}),
    ("get", "/v1/persons/identity-reads", {"admin"}),
    ("get", "/v1/code-tables", {"dispatch", "supervisor", "analyst", "admin"}),
    ("get", "/v1/outbox", {"supervisor", "admin"}),
]
ROLES = ["dispatch", "officer", "calltaker", "partner", "social_worker", "dyad", "supervisor", "analyst", "admin"]


@pytest.mark.parametrize("method, path, allowed", ENDPOINTS)
def test_auth_matrix(intake, token, method, path, allowed):
    kw = {"json": {}} if method == "post" else {}
    assert getattr(intake, method)(path, **kw).status_code == 401
    bad = {"Authorization": "Bearer pas.un.jeton"}
    assert getattr(intake, method)(path, headers=bad, **kw).status_code == 401
    for role in ROLES:
        r = getattr(intake, method)(path, headers=token(role), **kw)
        if role in allowed:  # admin too: only where it is listed
            assert r.status_code not in (401, 403), (role, r.status_code)
        else:
            assert r.status_code == 403, (role, r.status_code)
            assert "rôle" in r.json()["detail"]
