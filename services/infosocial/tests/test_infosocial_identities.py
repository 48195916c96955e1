"""Names next to the keys on the social worker's page: asked of a real intake (served in this process) with her
own token, so intake audits her; when intake is down the page still renders, with the keys and a notice."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import httpx
import pytest

from dyade.broker import free_port
from dyade.contracts import Criterion, ReferralFiled, ReferrerType
from dyade.contracts.referrals import ReferralPayload
from dyade.kafka import make_producer, publish, wait_until
from services.infosocial.adapters.identities import UNAVAILABLE

from infosocial_helpers import SW_A, known_to_intake


@pytest.fixture(scope="module")
def referred(intake_url, infosocial, broker, token):
    """A person intake knows, with an open referral in Info-social's queue."""
    unique = uuid.uuid4().hex[:8]
    key = known_to_intake(intake_url, token,
                          {"first_name": "Réjean", "last_name": f"Bouchard{unique}", "birth_date": "1968-07-14"})
    payload = ReferralPayload(referral_id=f"R-id-{unique}", referrer_type=ReferrerType.POLICIER,
                              referrer_key="k_agent7", person_key=key, criteria=(Criterion.RECURRENCE,),
                              linked_call_ids=("C-9",), summary="appels répétés")
    producer = make_producer(broker.bootstrap_servers)
    publish(producer, ReferralFiled.new(payload=payload, occurred_at=datetime.now(timezone.utc), source="intake",
                                        correlation_id=payload.referral_id))
    producer.flush()
    producer.close()
    runtime = infosocial[1].state.runtime
    wait_until(lambda: runtime.queue.list(statuses=None, person_key=key, limit=1), timeout=60, interval=0.1)
    return key, f"Réjean Bouchard{unique} (1968-07-14)"


def test_the_page_shows_who_the_keys_are_and_intake_audits_the_reader(api, referred, reading_from, intake_url,
                                                                      token):
    key, name = referred
    reading_from(intake_url)
    me = token("social_worker", subject=SW_A)
    queue = api.get("/", params={"tri": "recentes"}, headers=me)
    assert queue.status_code == 200 and key in queue.text and name in queue.text
    assert UNAVAILABLE not in queue.text
    page = api.get(f"/personnes/{key}", headers=me)
    assert page.status_code == 200 and name in page.text
    reads = httpx.get(intake_url + "/v1/persons/identity-reads", params={"person_key": key},
                      headers=token("admin")).json()
    assert [(x["subject"], x["role"], x["purpose"]) for x in reversed(reads)] == [
        (SW_A, "social_worker", "infosocial: file de travail"),
        (SW_A, "social_worker", "infosocial: dossier de la personne")]


def test_the_page_keeps_the_keys_when_intake_is_down(api, referred, reading_from, token):
    key, name = referred
    reading_from(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    me = token("social_worker", subject=SW_A)
    for path in ("/?tri=recentes", f"/personnes/{key}"):
        page = api.get(path, headers=me)
        assert page.status_code == 200, page.text
        assert key in page.text and name not in page.text and UNAVAILABLE in page.text
