"""The referral work queue end to end: referrals and suggestions published on the real broker reach the
queue, moves follow the allowed states and are published; the recurrence override reaches triage's topic."""
from __future__ import annotations

import uuid

from dyade.contracts import Criterion, RecurrenceOverridden, ReferralStatusChanged, ReferralSuggested, decode
from dyade.contracts.referrals import ReferralSuggestedPayload
from dyade.contracts.topics import REFERRALS_FILED, REFERRALS_STATUS, TRIAGE_OVERRIDDEN
from dyade.kafka import publish, wait_until
from tests.kit import keyed

from infosocial_helpers import NOW, SW_A, create_active, filed


def suggested(person: str, call_id: str) -> ReferralSuggested:
    payload = ReferralSuggestedPayload(suggestion_id=f"S-{uuid.uuid4().hex[:10]}", person_key=person,
                                       call_id=call_id, criteria=(Criterion.RECURRENCE,),
                                       reasons=("5 appels en 30 jours",), ruleset_version="2026.1")
    return ReferralSuggested.new(payload=payload, occurred_at=NOW, source="triage", correlation_id=call_id)


def queue_of(api, sw, person):
    return api.get("/v1/referrals", params={"person_key": person}, headers=sw[0]).json()


def test_a_filed_referral_goes_through_its_states(api, sw, person, producer, reader):
    event = filed(person)
    publish(producer, event).get(timeout=10)
    publish(producer, event).get(timeout=10)  # delivered twice: handled once
    rows = wait_until(lambda: queue_of(api, sw, person), timeout=60)
    assert len(rows) == 1
    rid = rows[0]["referral_id"]
    assert rows[0]["status"] == "recue" and rows[0]["criteria"] == ["recurrence", "complexite_intervention"]
    assert rows[0]["frame_id"] is None

    def move(status, **kw):
        return api.post(f"/v1/referrals/{rid}/status", json={"status": status, **kw}, headers=sw[0])

    r = move("en_suivi")
    assert r.status_code == 409 and "non permis" in r.json()["detail"]
    assert move("admissible").json()["status"] == "admissible"
    r = move("premier_contact", first_contact_at="2026-11-21T15:00:00-05:00")
    assert r.json()["first_contact_at"].startswith("2026-11-21T20:00:00")
    r = move("refusee")
    assert r.status_code == 409 and "reste disponible" in r.json()["detail"]
    r = move("refusee", person_notified=True, note="ne souhaite pas d'aide pour l'instant")
    assert r.json()["status"] == "refusee"
    # Her refusal is respected, and officers still get police-derived recommendations: a frame can exist.
    fid = create_active(api, sw, person, consent={"status": "refuse"})
    detail = api.get(f"/v1/referrals/{rid}", headers=sw[1]).json()
    assert detail["frame_id"] == fid and detail["frame_active"] is True
    assert [s["status"] for s in detail["steps"]] == ["recue", "admissible", "premier_contact", "refusee"]
    assert "reste disponible" in detail["steps"][-1]["note"] and detail["steps"][-1]["by"] == SW_A
    assert move("premier_contact").json()["first_contact_at"].startswith("2026-11-21")  # she came back
    assert move("en_suivi").status_code == 200 and move("fermee").status_code == 200
    assert move("admissible").status_code == 409

    recs = reader(REFERRALS_STATUS).wait_for_records(keyed(person), 7)
    statuses = [decode(r.value, expect=ReferralStatusChanged).payload for r in recs]
    assert [(s.previous, s.status) for s in statuses] == [
        (None, "recue"), ("recue", "admissible"), ("admissible", "premier_contact"), ("premier_contact", "refusee"),
        ("refusee", "premier_contact"), ("premier_contact", "en_suivi"), ("en_suivi", "fermee")]
    assert statuses[2].first_contact_at is not None and statuses[0].referrer_type == "policier"


def test_suggestions_wait_apart_and_join_an_open_referral(api, sw, person, producer):
    first = suggested(person, "C-10")
    publish(producer, first).get(timeout=10)
    wait_until(lambda: api.get(f"/v1/suggestions/{first.payload.suggestion_id}", headers=sw[0]).status_code == 200,
               timeout=60)
    assert queue_of(api, sw, person) == []  # a suggestion is not a referral until confirmed
    publish(producer, suggested(person, "C-11")).get(timeout=10)
    sg = wait_until(lambda: (x := api.get(f"/v1/suggestions/{first.payload.suggestion_id}", headers=sw[0]).json())
                    ["calls"] == 2 and x, timeout=60)
    assert sg["call_ids"] == ["C-10", "C-11"] and sg["state"] == "a_confirmer"
    rid = api.post(f"/v1/suggestions/{first.payload.suggestion_id}/confirm", headers=sw[0]).json()["referral_id"]
    rows = queue_of(api, sw, person)
    assert [(r["referral_id"], r["origin"], r["referrer_type"]) for r in rows] == [(rid, "suggested", "triage")]
    publish(producer, suggested(person, "C-12")).get(timeout=10)
    rows = wait_until(lambda: [r for r in queue_of(api, sw, person) if "C-12" in r["linked_call_ids"]], timeout=60)
    assert len(queue_of(api, sw, person)) == 1 and rows[0]["linked_call_ids"] == ["C-10", "C-11", "C-12"]


def test_undecodable_referral_goes_to_the_dead_letter_topic(broker, producer, reader, unique):
    key = f"p_bad{unique}"
    producer.send(REFERRALS_FILED.name, key=key.encode(), value=b'{"type": "referral.filed", "schema_version": 1}')
    producer.flush()
    recs = reader(REFERRALS_FILED.dlq_name).wait_for_records(
        lambda r: r.key == key.encode() and dict(r.headers).get("dlq.service") == b"infosocial", timeout=60)
    assert any(b"payload" in dict(r.headers)["dlq.reason"] for r in recs)


def test_recurrence_override_is_published_for_triage(api, sw, person, reader, token):
    r = api.post(f"/v1/persons/{person}/recurrence-override",
                 json={"note": "Situation stabilisée, hébergée en ressource", "until": "2030-01-01T00:00:00Z"},
                 headers=sw[0])
    assert r.status_code == 201, r.text
    recs = reader(TRIAGE_OVERRIDDEN).wait_for_records(keyed(person), 1)
    event = decode(recs[0].value, expect=RecurrenceOverridden)
    assert event.payload.recurrent is False and event.payload.author_key == SW_A
    assert api.post(f"/v1/persons/{person}/recurrence-override", json={"note": "x"}, headers=sw[0]).status_code == 422
    assert api.post(f"/v1/persons/{person}/recurrence-override", json={"note": "abcd"},
                    headers=token("officer")).status_code == 403
    r = api.post(f"/v1/persons/{person}/recurrence-override", json={"note": "abcd", "until": "2001-01-01T00:00:00Z"},
                 headers=sw[0])
    assert r.status_code == 422 and "until" in r.json()["detail"]
