"""Looking a person up by name and birth date (`POST /v1/persons/resolve`) is read-only, audited and limited: an
unknown person is not found and gets no key (a key is made when a call or a referral about them is accepted); a
near spelling found is not remembered; every look-up, found or not, is a row of intake_identity_reads with the
reader, role, purpose and outcome; one reader makes at most INTAKE_LOOKUPS_PER_MINUTE a minute (429, Retry-After)."""
from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from services.intake.adapters import models as m
from services.intake.config import IntakeConfig
from services.intake.entrypoints.limits import PerReaderLimit
from services.intake.tests.conftest import call_body


def count(intake, table, *where) -> int:
    with intake.app.state.intake.sessions() as session:
        return session.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def lookups_of(intake, subject: str) -> list[dict]:
    r = m.identity_reads.c
    with intake.app.state.intake.sessions() as session:
        rows = session.execute(select(r.person_key, r.role, r.purpose, r.outcome).where(r.subject == subject)
                               .order_by(r.id)).all()
    return [row._asdict() for row in rows]


def test_an_unknown_person_is_not_found_and_gets_no_key(intake, token, unique):
    subject = f"sw-lookup-{unique}"
    person = {"first_name": "Éloïse", "last_name": f"Inconnue-{unique}", "birth_date": "1987-02-11"}
    r = intake.post("/v1/persons/resolve", json=person, headers=token("social_worker", subject=subject))
    assert r.status_code == 404 and "introuvable" in r.json()["detail"] and "ne crée pas de clé" in r.json()["detail"]
    assert count(intake, m.identities, m.identities.c.last_name == person["last_name"]) == 0
    assert count(intake, m.resolutions, m.resolutions.c.ref == subject) == 0
    assert lookups_of(intake, subject) == [{"person_key": None, "role": "social_worker",
                                            "purpose": "recherche d'une personne par son identité",
                                            "outcome": "introuvable"}]
    r = intake.post("/v1/persons/resolve", json={"cad_person_id": f"CAD-nul-{unique}"},
                    params={"purpose": "appel en cours"}, headers=token("calltaker", subject=subject))
    assert r.status_code == 404
    assert lookups_of(intake, subject)[-1] == {"person_key": None, "role": "calltaker", "purpose": "appel en cours",
                                               "outcome": "introuvable"}


def test_a_person_is_found_once_a_call_about_them_is_accepted_and_every_look_up_is_audited(
        intake, token, dispatch, unique):
    last = f"Bélanger-{unique}"
    person = {"first_name": "Marc-André", "last_name": last, "birth_date": "1979-08-30"}
    call = intake.post("/v1/calls", json=call_body(f"L-{unique}", persons=[{**person, "role": "sujet"}]),
                       headers=dispatch)
    assert call.status_code == 202, call.text
    key = call.json()["persons"][0]["person_key"]
    spellings = count(intake, m.identities, m.identities.c.person_key == key)
    subject = f"agent-lookup-{unique}"
    officer = token("officer", subject=subject)

    exact = intake.post("/v1/persons/resolve", json={**person, "first_name": "MARC ANDRE"}, headers=officer)
    assert exact.status_code == 200 and exact.json() == {"person_key": key, "match": "exact", "confidence": 1.0}
    near = intake.post("/v1/persons/resolve", json={**person, "first_name": "Marc-Andrée"},
                       params={"purpose": "vérification avant intervention"}, headers=officer)
    assert near.status_code == 200 and near.json()["person_key"] == key and near.json()["match"] == "fuzzy"
    assert count(intake, m.identities, m.identities.c.person_key == key) == spellings  # nothing remembered
    assert intake.post("/v1/persons/resolve", json={**person, "birth_date": "1979-08-31"},
                       headers=officer).status_code == 404

    assert [(x["person_key"], x["outcome"], x["purpose"]) for x in lookups_of(intake, subject)] == [
        (key, "exact", "recherche d'une personne par son identité"),
        (key, "fuzzy", "vérification avant intervention"),
        (None, "introuvable", "recherche d'une personne par son identité")]
    listed = intake.get("/v1/persons/identity-reads", params={"person_key": key}, headers=token("admin")).json()
    assert [(x["subject"], x["role"], x["outcome"]) for x in listed] == [(subject, "officer", "fuzzy"),
                                                                        (subject, "officer", "exact")]
    everything = intake.get("/v1/persons/identity-reads", params={"limit": 50}, headers=token("admin"))
    assert everything.status_code == 200 and any(x["person_key"] is None for x in everything.json())
    # each look-up that found her disclosed who she is: an entry of the register of communications each
    entries = [e for e in outbox_communications(intake, key) if e["recipient"]["subject"] == subject]
    assert [(e["information"], e["purpose"]) for e in entries] == [
        ("identite", "recherche d'une personne par son identité"), ("identite", "vérification avant intervention")]


def outbox_communications(intake, person_key: str) -> list[dict]:
    import orjson
    o = m.outbox.c
    with intake.app.state.intake.sessions() as session:
        values = session.execute(select(o.value).where(o.event_type == "communication.recorded")
                                 .order_by(o.created_at)).scalars().all()
    payloads = [orjson.loads(v)["payload"] for v in values]
    return [p for p in payloads if p["person_key"] == person_key]


def test_one_reader_makes_at_most_the_set_number_of_look_ups_a_minute(intake, token, unique):
    per_minute = intake.app.state.lookups.per_minute
    assert per_minute == IntakeConfig().lookups_per_minute == 30
    person = {"first_name": "Rose", "last_name": f"Limite-{unique}", "birth_date": "1990-01-01"}
    reader = token("social_worker", subject=f"sw-limit-{unique}")
    statuses = [intake.post("/v1/persons/resolve", json=person, headers=reader).status_code
                for _ in range(per_minute)]
    assert statuses == [404] * per_minute
    refused = intake.post("/v1/persons/resolve", json=person, headers=reader)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "au plus 30 par minute" in refused.json()["detail"] and "réessayez" in refused.json()["detail"]
    assert len(lookups_of(intake, f"sw-limit-{unique}")) == per_minute  # a refused look-up looked nothing up
    other = token("social_worker", subject=f"sw-autre-{unique}")
    assert intake.post("/v1/persons/resolve", json=person, headers=other).status_code == 404
    bad = intake.post("/v1/persons/resolve", json={"last_name": "X"}, headers=other)
    assert bad.status_code == 422  # refused before it counts


def test_the_window_slides_per_reader():
    now = [1000.0]
    limit = PerReaderLimit(3, clock=lambda: now[0])
    taken = []
    for _ in range(3):
        taken.append(limit.take("a"))
        now[0] += 10
    assert taken == [None, None, None]  # at 1000, 1010, 1020
    assert limit.take("a") == 30 and limit.take("b") is None
    now[0] = 1059.2
    assert limit.take("a") == 1
    now[0] = 1060.1  # the first look-up is a minute old: one more, then wait for the second's minute
    assert limit.take("a") is None and limit.take("a") == 10


def test_a_purpose_with_control_characters_is_refused_naming_it(intake, token, unique):
    r = intake.post("/v1/persons/resolve", json={"cad_person_id": f"CAD-{unique}"}, params={"purpose": "a\x01b"},
                    headers=token("social_worker", subject=f"sw-purpose-{unique}"))
    assert r.status_code == 422 and "purpose" in r.text


def test_the_limit_is_a_setting(monkeypatch):
    monkeypatch.setenv("INTAKE_LOOKUPS_PER_MINUTE", "5")
    assert IntakeConfig(_env_file=None).lookups_per_minute == 5
    monkeypatch.setenv("INTAKE_LOOKUPS_PER_MINUTE", "0")
    with pytest.raises(ValidationError, match="lookups_per_minute"):
        IntakeConfig(_env_file=None)
