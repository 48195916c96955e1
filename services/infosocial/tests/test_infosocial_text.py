"""Bad text at Info-social's edge: NUL, other control characters, DEL, a lone surrogate or U+FFFF in any
string field of any API body (fields found by walking the models: tests.kit.string_fields), in the
frame form or a page's note is refused naming the field; a referral event that carries one (written by
something else than intake) is dead-lettered and the queue goes on."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import orjson
import pytest

from dyade.contracts import Criterion, ReferralFiled, ReferrerType
from dyade.contracts.referrals import ReferralPayload
from dyade.contracts.topics import REFERRALS_FILED
from dyade.kafka import publish, wait_until
from tests.kit import BAD_TEXT, assert_every_string_field_guarded, bad_text_test, body_routes
from services.infosocial.entrypoints.api import router

ROUTES = body_routes(router.routes)


def test_the_api_has_bodies_and_every_string_field_is_guarded():
    assert len(ROUTES) >= 7
    assert_every_string_field_guarded(ROUTES)


test_bad_text_in_any_field_is_a_422_naming_it = bad_text_test(ROUTES, client="api")


def frame_form(person_key: str, **over) -> dict:
    form = {"person_key": person_key, "display_name": "Personne Test", "particularites": "Suivi au CISSS",
            "interventions_a_privilegier": "[police] Parler calmement\nRappeler son intervenante",
            "interventions_a_eviter": "", "risques": "", "niveau_tolerance": "", "mode_liberation": "",
            "contacts": "Mère ; proche ; 450-555-0101 ; en crise", "pii_link": "PII-1", "reason": "création",
            "consent_status": "non_demande", "consent_scope": "", "consent_justification": ""}
    form.update(over)
    return form


FORM_FIELDS = ["display_name", "particularites", "interventions_a_privilegier", "risques", "niveau_tolerance",
               "contacts", "pii_link", "reason", "consent_scope"]


@pytest.mark.parametrize("name", FORM_FIELDS)
@pytest.mark.parametrize("kind", ["NUL", "ESC", "DEL"])
def test_bad_text_in_the_frame_form_is_refused_on_the_page(api, sw, person, name, kind):
    value = {"contacts": f"Mè{BAD_TEXT[kind]}re ; proche"}.get(name, "Texte " + BAD_TEXT[kind] + " ici")
    r = api.post("/fiches", data=frame_form(person, **{name: value}), headers=sw[0])
    assert r.status_code == 422, r.text[:300]
    assert "caractère de contrôle interdit" in r.text
    assert api.get(f"/v1/persons/{person}/frame", headers=sw[0]).status_code == 404  # nothing written


def test_a_note_with_a_nul_on_the_pages_is_refused(api, sw, person):
    r = api.post("/references/R-inconnue/statut", data={"status": "admissible", "note": "a\x00b"}, headers=sw[0],
                 follow_redirects=False)
    assert r.status_code == 303 and "interdit" in httpx_unquote(r.headers["location"])
    r = api.post(f"/personnes/{person}/recurrence", data={"note": "note\x00 ici"}, headers=sw[0],
                 follow_redirects=False)
    assert r.status_code == 303 and "interdit" in httpx_unquote(r.headers["location"])


def httpx_unquote(url: str) -> str:
    from urllib.parse import unquote_plus
    return unquote_plus(url)


def filed(person: str, summary: str) -> ReferralFiled:
    payload = ReferralPayload(referral_id=f"R-{uuid.uuid4().hex[:10]}", referrer_type=ReferrerType.POLICIER,
                              referrer_key="k_agent42", person_key=person, criteria=(Criterion.RECURRENCE,),
                              summary=summary)
    return ReferralFiled.new(payload=payload, occurred_at=datetime.now(timezone.utc), source="intake",
                             correlation_id=payload.referral_id)


def test_a_referral_event_with_a_nul_is_dead_lettered_and_the_next_one_is_queued(api, sw, person, producer, reader):
    """The incident: a referral with a NUL in its narrative stalled Info-social (PostgreSQL refused it, the
    consumer retried forever). Intake refuses it now (422); an event written by anything else is poison."""
    poisoned = filed(person, "placeholder")
    raw = orjson.loads(poisoned.to_bytes())
    raw["payload"]["summary"] = "trois appels\x00 en deux semaines"
    producer.send(REFERRALS_FILED.name, key=person.encode(), value=orjson.dumps(raw))
    producer.flush()
    good = filed(person, "trois appels en deux semaines")
    publish(producer, good).get(timeout=10)  # same key, same partition: behind the poisoned one
    rows = wait_until(lambda: api.get("/v1/referrals", params={"person_key": person}, headers=sw[0]).json(),
                      timeout=60)
    assert [r["referral_id"] for r in rows] == [good.payload.referral_id]
    [dead] = reader(REFERRALS_FILED.dlq_name).wait_for_records(
        lambda r: r.key == person.encode() and dict(r.headers).get("dlq.service") == b"infosocial", timeout=60)
    assert b"payload.summary" in dict(dead.headers)["dlq.reason"] and b"U+0000" in dict(dead.headers)["dlq.reason"]
