"""Helpers of Info-social's tests (a module with a unique name: `conftest` is a name every service's tests share)."""
from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import datetime, timezone

from dyade.contracts import Criterion, ReferralFiled, ReferrerType
from dyade.contracts.referrals import ReferralPayload

SW_A, SW_B = "intervenante-a", "intervenante-b"
NOW = datetime(2026, 11, 20, 14, tzinfo=timezone.utc)


def filed(person: str, referral_id: str | None = None) -> ReferralFiled:
    """A referral intake accepted from an officer about `person`."""
    payload = ReferralPayload(referral_id=referral_id or f"R-{uuid.uuid4().hex[:10]}",
                              referrer_type=ReferrerType.POLICIER, referrer_key="k_agent42", person_key=person,
                              criteria=(Criterion.RECURRENCE, Criterion.COMPLEXITE_INTERVENTION),
                              linked_call_ids=("C-1",), summary="trois appels en deux semaines")
    return ReferralFiled.new(payload=payload, occurred_at=NOW, source="intake", correlation_id=payload.referral_id)


def frame_body(person_key: str, **over) -> dict:
    body = {
        "person_key": person_key, "display_name": "Personne Test",
        "particularites": "Trouble schizo-affectif suivi au CISSS",
        "interventions_a_privilegier": [{"text": "Parler calmement, se présenter par son nom", "source": "police"},
                                        "Rappeler son intervenante au CLSC"],
        "interventions_a_eviter": [{"text": "Éviter d'entrer à plusieurs dans l'appartement", "source": "police"}],
        "contacts": [{"name": "Mère", "role": "proche", "phone": "450-555-0101", "when_to_call": "en crise"},
                     {"name": "Concierge", "role": "voisin", "source": "police"}],
        "niveau_tolerance": {"text": "Tolérance élevée pour méfaits mineurs", "source": "police"},
        "mode_liberation": "Libération avec conditions, accompagnement à l'urgence psychiatrique",
        "risques": [{"text": "Couteau gardé dans la cuisine", "source": "police"}, "Idées suicidaires en automne"],
        "pii_link": "PII-2026-014",
        "consent": {"status": "obtenu", "scope": ["CISSS Lanaudière"]},
    }
    body.update(over)
    return body


def create_active(api, sw, person_key: str, **over) -> str:
    r = api.post("/v1/frames", json=frame_body(person_key, **over), headers=sw[0])
    assert r.status_code == 201, r.text
    frame_id = r.json()["frame_id"]
    r = api.post(f"/v1/frames/{frame_id}/approve", headers=sw[1])
    assert r.status_code == 200, r.text
    return frame_id


def known_to_intake(intake_url: str, token, person: dict) -> str:
    """The key intake makes for `person` when it accepts a referral about them (looking a person up makes none)."""
    import uuid

    import httpx
    body = {"referral_id": f"R-connu-{uuid.uuid4().hex[:12]}", "referrer_type": "policier",
            "referrer_id": "matricule 4521", "person": person, "criteria": ["recurrence"]}
    r = httpx.post(intake_url + "/v1/referrals", json=body, headers=token("officer", subject="agent-refere"))
    assert r.status_code == 202, r.text
    return r.json()["person_key"]


@contextmanager
def reading_triage_from(state, stand_in):
    """Info-social's triage reads (`state`: its app's state) pointed at a stand-in of triage's read API, started
    here; put back and the stand-in stopped afterwards."""
    from services.infosocial.adapters.triage_reads import TriageReads
    stand_in.start()
    original, state.triage = state.triage, TriageReads(stand_in.url)
    try:
        yield stand_in
    finally:
        state.triage.close()
        state.triage = original
        stand_in.stop()
