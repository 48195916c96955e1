"""Identities for the roles allowed to know them (social workers; not admin): role matrix, unknown keys, the batch
form and its limit, and one audit row per disclosure (who, role, key, purpose)."""
from __future__ import annotations

import pytest


def known(intake, token, person: dict, unique: str) -> str:
    """The key intake made for `person` when it accepted a referral about them (a look-up makes none)."""
    body = {"referral_id": f"R-id-{unique}-{person['last_name']}", "referrer_type": "policier",
            "referrer_id": "matricule 4521", "person": person, "criteria": ["recurrence"]}
    r = intake.post("/v1/referrals", json=body, headers=token("officer", subject="agent-refere"))
    assert r.status_code == 202, r.text
    return r.json()["person_key"]


@pytest.fixture
def person(intake, token, unique):
    """A person intake knows (by name and birth date, plus a CAD id) from a referral."""
    body = {"first_name": "Mélodie", "last_name": f"Gagnon-{unique}", "birth_date": "1991-03-08",
            "cad_person_id": f"CAD-{unique}"}
    return known(intake, token, body, unique), body


def reads_of(intake, token, key: str) -> list[dict]:
    r = intake.get("/v1/persons/identity-reads", params={"person_key": key}, headers=token("admin", subject="adm"))
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("role,status", [("dispatch", 403), ("officer", 403), ("analyst", 403),
                                         ("calltaker", 403), ("supervisor", 403), ("admin", 403),
                                         ("social_worker", 200)])
def test_only_social_workers_read_an_identity(intake, token, person, role, status):
    key, body = person
    r = intake.get(f"/v1/persons/{key}/identity", headers=token(role, subject=f"who-{role}"))
    assert r.status_code == status, r.text
    r = intake.post("/v1/persons/identities", json={"person_keys": [key], "purpose": "test"},
                    headers=token(role, subject=f"who-{role}"))
    assert r.status_code == status, r.text
    reads = reads_of(intake, token, key)
    assert [(x["subject"], x["role"]) for x in reads] == ([(f"who-{role}", role)] * 2 if status == 200 else [])


def test_identity_without_token_is_401(intake, person):
    assert intake.get(f"/v1/persons/{person[0]}/identity").status_code == 401


def test_the_identity_intake_knows(intake, token, person):
    key, body = person
    r = intake.get(f"/v1/persons/{key}/identity", params={"purpose": "fiche"},
                   headers=token("social_worker", subject="sw-1"))
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["person_key"], got["first_name"], got["last_name"], got["birth_date"]) == \
        (key, "Mélodie", body["last_name"], "1991-03-08")
    assert got["cad_person_ids"] == [body["cad_person_id"]]
    [read] = reads_of(intake, token, key)
    assert (read["subject"], read["role"], read["purpose"]) == ("sw-1", "social_worker", "fiche")


def test_unknown_key_is_404_and_not_audited(intake, token, unique):
    key = f"p_{'0' * 24}{unique}"
    r = intake.get(f"/v1/persons/{key}/identity", headers=token("social_worker"))
    assert r.status_code == 404 and "inconnue" in r.json()["detail"]
    assert reads_of(intake, token, key) == []
    assert intake.get("/v1/persons/pas-une-cle/identity", headers=token("social_worker")).status_code == 422


def test_batch_discloses_the_known_and_audits_each(intake, token, person, unique):
    key, body = person
    other = {"person_key": known(intake, token, {"first_name": "Luc", "last_name": f"Roy-{unique}",
                                                 "birth_date": "1975-01-02"}, unique)}
    unknown = "p_ffffffffffffffffffffffffffffffff"
    r = intake.post("/v1/persons/identities", headers=token("social_worker", subject="sw-2"),
                    json={"person_keys": [key, other["person_key"], unknown, key], "purpose": "file de travail"})
    assert r.status_code == 200, r.text
    got = r.json()
    assert set(got["identities"]) == {key, other["person_key"]} and got["unknown"] == [unknown]
    assert got["identities"][other["person_key"]]["last_name"] == f"Roy-{unique}"
    for k in (key, other["person_key"]):
        assert [(x["subject"], x["purpose"]) for x in reads_of(intake, token, k)] == [("sw-2", "file de travail")]


def test_batch_limit_and_body_are_checked(intake, token):
    sw = token("social_worker")
    keys = [f"p_{i:032x}" for i in range(201)]
    r = intake.post("/v1/persons/identities", json={"person_keys": keys, "purpose": "trop"}, headers=sw)
    assert r.status_code == 422 and "person_keys" in r.text
    assert intake.post("/v1/persons/identities", json={"person_keys": keys[:200], "purpose": "limite"},
                       headers=sw).status_code == 200
    for bad in ({"person_keys": [], "purpose": "vide"}, {"person_keys": ["x"], "purpose": "clé"},
                {"person_keys": [keys[0]]}):
        assert intake.post("/v1/persons/identities", json=bad, headers=sw).status_code == 422


def test_only_admins_list_the_audit(intake, token):
    for role in ("social_worker", "supervisor", "officer"):
        assert intake.get("/v1/persons/identity-reads", headers=token(role)).status_code == 403
    assert intake.get("/v1/persons/identity-reads", params={"limit": 5}, headers=token("admin")).status_code == 200
