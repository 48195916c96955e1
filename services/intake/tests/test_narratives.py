"""Free text stays home: a narrative full of who someone is reaches calls.received.v2 (and referrals.filed.v1)
redacted, through intake's HTTP API, batches and EIDO alike; the original stays in intake, readable by a
social worker only, each read audited."""
from __future__ import annotations

import json
import re

from dyade.contracts.topics import CALLS_RECEIVED, REFERRALS_FILED
from services.intake.tests.conftest import call_body

# Recognisable on purpose: none of it may be found in an event.
NARRATIVE = ("Mère de Jean-François TREMBLAY-{U} (né le 12 mars 1984) appelle du 450-555-0173: son fils, "
             "NAM TREM 8403 1288, est au 4871 rue des Érables, écrit à jf.tremblay.{u}@exemple.qc.ca qu'il veut "
             "mourir. Trembley refuse d'ouvrir; rappeler Mme Gagnon au (514) 555-0199.")
LEAKS = ("Tremblay", "TREMBLAY", "tremblay", "Trembley", "Jean-François", "1984", "12 mars", "555-0173", "8403", "1288",
         "4871", "exemple.qc.ca", "jf.tremblay", "Gagnon", "555-0199")


def letters(unique: str) -> str:
    """A unique suffix that a name can hold (names have no digits): 'b773' → 'Bhhd'."""
    return "".join("abcdefghijklmnop"[int(c, 16)] for c in unique).capitalize()


def narrative(unique: str) -> str:
    return NARRATIVE.format(u=unique, U=letters(unique).upper())


def body_with_narrative(call_id: str, unique: str) -> dict:
    return call_body(call_id, narrative=narrative(unique),
                     persons=[{"first_name": "Jean-François", "last_name": f"Tremblay-{letters(unique)}",
                               "birth_date": "1984-03-12", "role": "sujet"}])


# Values made by machines, where digits such as 1288 turn up by chance: times, event ids, pseudonymous keys.
MACHINE_MADE = re.compile(r"\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d)?|[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}"
                          r"|[a-z]{1,3}_[0-9a-f]{16,64}")


def readable(value) -> list[str]:
    """Every name and text of an event a person could read: its strings (keys too) and whole numbers."""
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in readable(k) + readable(v)]
    if isinstance(value, list):
        return [t for v in value for t in readable(v)]
    if isinstance(value, str):
        return [] if MACHINE_MADE.fullmatch(value) else [value]
    return [str(value)] if isinstance(value, int) else []


def assert_no_leak(raw: str, unique: str) -> None:
    texts = readable(json.loads(raw))
    found = [x for x in LEAKS + (letters(unique), letters(unique).upper()) if any(x in t for t in texts)]
    assert not found, f"{found} dans l'événement: {raw[:600]}"


def test_the_leak_check_reads_texts_not_times_ids_or_keys():
    event = {"event_id": "66e8fcd4-22b3-45d2-b775-0cb612880000", "produced_at": "2026-12-03T14:48:41.112880Z",
             "payload": {"person_key": "p_1288aaaaaaaaaaaaaaaaaaaaaaaa1984", "summary": "[nom] au [téléphone]"}}
    assert_no_leak(json.dumps(event), "0000")
    for leak in ({"summary": "NAM TREM 8403 1288"}, {"note_1984": "x"}, {"birth_year": 1984}):
        try:
            assert_no_leak(json.dumps({**event, "payload": leak}), "0000")
        except AssertionError:
            continue
        raise AssertionError(f"not caught: {leak}")


def test_no_identity_of_the_narrative_reaches_calls_received(intake, dispatch, reader, unique, token):
    calls = reader(CALLS_RECEIVED)
    r = intake.post("/v1/calls", json=body_with_narrative(f"N-{unique}", unique), headers=dispatch)
    assert r.status_code == 202, r.text
    batch = intake.post("/v1/calls:batch", json={"calls": [body_with_narrative(f"NB-{unique}", unique)]},
                        headers=dispatch)
    assert batch.status_code == 200 and batch.json()["accepted"] == 1, batch.text
    events = calls.wait_for(lambda e: e.correlation_id in (f"N-{unique}", f"NB-{unique}"), 2)
    records = [rec for rec in calls.records if f"N-{unique}".encode() in rec.value or f"NB-{unique}".encode() in rec.value]
    assert len(records) == 2
    for rec in records:
        assert_no_leak(rec.value.decode(), unique)
    summary = events[0].payload.summary
    assert summary.startswith("Mère de [nom] (né le [date de naissance]) appelle du [téléphone]: son fils, NAM [NAM], "
                              "est au 4800 bloc rue des Érables, écrit à [courriel]"), summary
    assert "Mme [nom]" in summary and "veut mourir" in summary


def test_the_original_narrative_is_for_social_workers_and_audited(intake, dispatch, token, unique):
    r = intake.post("/v1/calls", json=body_with_narrative(f"NO-{unique}", unique), headers=dispatch)
    assert r.status_code == 202, r.text
    for role in ("dispatch", "officer", "supervisor", "analyst", "admin", "dyad"):
        refused = intake.get(f"/v1/calls/NO-{unique}/narrative", headers=token(role))
        assert refused.status_code == 403, (role, refused.text)
    got = intake.get(f"/v1/calls/NO-{unique}/narrative", params={"purpose": "préparer l'intervention"},
                     headers=token("social_worker", subject="sw-narr"))
    assert got.status_code == 200, got.text
    assert got.json()["narrative"] == narrative(unique) and got.json()["revision"] == 1
    reads = intake.get("/v1/narrative-reads", params={"kind": "call", "ref": f"NO-{unique}"},
                       headers=token("admin")).json()
    assert [(x["subject"], x["role"], x["purpose"]) for x in reads] == \
        [("sw-narr", "social_worker", "préparer l'intervention")]
    missing = intake.get(f"/v1/calls/NOPE-{unique}/narrative", headers=token("social_worker"))
    assert missing.status_code == 404 and "aucun récit" in missing.json()["detail"]
    assert intake.get("/v1/narrative-reads", params={"ref": f"NOPE-{unique}"}, headers=token("admin")).json() == []
    assert intake.get("/v1/narrative-reads", headers=token("social_worker")).status_code == 403


def test_referral_narratives_are_redacted_too(intake, token, reader, unique):
    filed = reader(REFERRALS_FILED)
    body = {"referral_id": f"RN-{unique}", "referrer_type": "policier", "referrer_id": "matricule 4521",
            "person": {"first_name": "Sylvie", "last_name": f"Bergeron-{letters(unique)}", "birth_date": "1969-11-02"},
            "criteria": ["recurrence"],
            "narrative": f"Sylvie Bergeron-{letters(unique)}, DDN 1969-11-02, tél. 819-555-0142, vit au 233 rue King."}
    r = intake.post("/v1/referrals", json=body, headers=token("officer"))
    assert r.status_code == 202, r.text
    [event] = filed.wait_for(lambda e: e.correlation_id == f"RN-{unique}", 1)
    assert event.payload.summary == "[nom], DDN [date de naissance], tél. [téléphone], vit au 200 bloc rue King."
    got = intake.get(f"/v1/referrals/RN-{unique}/narrative", headers=token("social_worker"))
    assert got.status_code == 200 and got.json()["narrative"] == body["narrative"]
