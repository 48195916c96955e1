"""One register of communications across services, every service its own process: a call's alert sent to the
dyad's CAD terminal (webhook) and phone (Web Push), the frame read in the alert's detail on the field app, the
identity and the narrative disclosed at intake, the frame read at Info-social — each shows up once in the register
Info-social keeps and in the person's export, a replayed event changes nothing, the register survives a restart
of Info-social, and no name, birth date, narrative or secret travels in the events."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from dyade.contracts import CommunicationPayload, CommunicationRecorded, InformationType, Recipient
from dyade.contracts.topics import COMMUNICATIONS_RECORDED
from dyade.kafka import make_producer, wait_until
from tests.kit import TopicReader
from services.notifier.tests.endpoints import Receivers

ALWAYS = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "00:00"}]
FIRST, LAST, BORN = "Marie-Ève", "Bouchard-Lavoie", "1983-07-19"
NARRATIVE = "Sa mère appelle: elle parle de se jeter du pont ce soir, elle a écrit une lettre."


def restart(platform, name: str, env: dict[str, str]) -> None:
    proc = platform.processes[name]
    proc.terminate()
    proc.wait(60)
    platform.start_service(platform.specs[name], env)
    wait_until(lambda: _ready(platform, name), timeout=120, interval=0.3)


def _ready(platform, name: str) -> bool:
    try:
        return httpx.get(platform.settings.url_of(name) + "/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def receivers(platform):
    """The dyad's CAD terminal and phone on loopback, so the notifier runs with loopback webhooks allowed for this
    module (as NOTIFIER_WEBHOOK_ALLOWLIST lets an organisation allow its own CAD gateway), then as it was."""
    original = dict(platform.env)
    restart(platform, "notifier", {**original, "NOTIFIER_WEBHOOK_ALLOWLIST": "127.0.0.1",
                                   "DYADE_WEBHOOK_ALLOW_HTTP": "true"})
    found = Receivers()
    try:
        yield found
    finally:
        found.close()
        restart(platform, "notifier", original)


def test_every_communication_is_once_in_the_one_register_and_in_the_export(platform, broker, headers_for, unique,
                                                                          receivers):
    url = platform.settings.url_of
    http = httpx.Client(timeout=30)
    sector, dyad_id, call_id = f"R{unique}", f"R{unique}", f"REG-{unique}"
    supervisor, admin = headers_for("supervisor"), headers_for("admin", subject="responsable-acces")
    sw_a, sw_b = headers_for("social_worker", subject="intervenante-a"), headers_for("social_worker",
                                                                                     subject="intervenante-b")
    dyad = headers_for("dyad", subject="agente-roy", dyad_id=dyad_id, sector=sector)

    # the dyad on duty, with its CAD terminal's webhook and a phone subscribed to Web Push
    http.put(f"{url('notifier')}/v1/dyads/{dyad_id}", headers=supervisor, json={
        "name": "Dyade du registre", "sector": sector, "shifts": ALWAYS,
        "members": [{"name": "Agente Roy", "role": "policier"}, {"name": "Marc Côté", "role": "intervenant"}]
    }).raise_for_status()
    r = http.put(f"{url('notifier')}/v1/dyads/{dyad_id}/webhook", headers=supervisor,
                 json={"url": f"{receivers.url}/cad/{unique}"})
    assert r.status_code == 200, r.text
    receivers.webhook_secret = secret = r.json()["secret"]
    receivers.vapid_public_key = http.get(f"{url('notifier')}/v1/push/key", headers=dyad).json()["public_key"]
    phone = receivers.device(f"phone-{unique}")
    assert http.post(f"{url('notifier')}/v1/subscriptions", json=phone.subscription(), headers=dyad).status_code == 201

    # a crisis call: the alert goes to the terminal and the phone
    r = http.post(f"{url('intake')}/v1/calls", headers=headers_for("dispatch"), json={
        "call_id": call_id, "received_at": (datetime.now(timezone.utc) - timedelta(seconds=5)).isoformat(),
        "nature_code": "SUIC", "priority": 1, "location": {"address": "1200 boulevard des Seigneurs", "sector": sector},
        "persons": [{"first_name": FIRST, "last_name": LAST, "birth_date": BORN, "role": "sujet"}],
        "caller_relation": "famille", "flags": ["idees_suicidaires", "plan_suicidaire"], "narrative": NARRATIVE})
    assert r.status_code == 202, r.text

    def alert() -> dict | None:
        r = http.get(f"{url('notifier')}/v1/alerts", headers=dyad)
        return next((a for a in r.json().get("alerts", []) if a.get("call_id") == call_id), None) \
            if r.status_code == 200 else None
    first = wait_until(alert, timeout=90, interval=0.3)
    alert_id, [key] = first["alert_id"], first["person_keys"]
    wait_until(lambda: [w for w in receivers.webhooks if w["alert"]["alert_id"] == alert_id], timeout=60)
    wait_until(lambda: [p for p in receivers.pushes if p["alert_id"] == alert_id], timeout=60)

    # Info-social: a frame for the person (consent obtained), approved by a second social worker
    r = http.post(f"{url('infosocial')}/v1/frames", headers=sw_a, json={
        "person_key": key, "interventions_a_privilegier": ["Parler doucement, l'appeler par son prénom"],
        "consent": {"status": "obtenu", "scope": ["CISSS"]}})
    assert r.status_code == 201, r.text
    frame_id = r.json()["frame_id"]
    assert http.post(f"{url('infosocial')}/v1/frames/{frame_id}/approve", headers=sw_b).status_code == 200

    # the field app: the alert's detail shows the frame's police view once the notifier has it (the list says so
    # without disclosing it)
    wait_until(lambda: (alert() or {}).get("has_frame"), timeout=60, interval=0.3)
    detail = http.get(f"{url('notifier')}/v1/alerts/{alert_id}", headers=dyad).json()
    assert [f["withheld"] for f in detail["frames"]] == [False]

    # intake: the identity and the narrative, to a social worker; Info-social: the frame, to an officer
    r = http.get(f"{url('intake')}/v1/persons/{key}/identity", params={"purpose": "préparer la rencontre"},
                 headers=sw_a)
    assert r.status_code == 200 and r.json()["last_name"] == LAST
    r = http.get(f"{url('intake')}/v1/calls/{call_id}/narrative", params={"purpose": "comprendre la crise"},
                 headers=sw_a)
    assert r.status_code == 200 and r.json()["narrative"] == NARRATIVE
    r = http.get(f"{url('infosocial')}/v1/persons/{key}/frame", params={"call_id": call_id},
                 headers=headers_for("officer", subject="agent-7"))
    assert r.status_code == 200, r.text

    expected = Counter({("notifier", "alerte_webhook"): 1, ("notifier", "alerte_appareil"): 1,
                        ("notifier", "fiche_vue_policiere"): 1, ("intake", "identite"): 1, ("intake", "recit"): 1,
                        ("infosocial", "fiche_vue_policiere"): 1})

    def register() -> list[dict]:
        r = http.get(f"{url('infosocial')}/v1/audit/communications", params={"person_key": key, "per_page": 500},
                     headers=admin)
        assert r.status_code == 200, r.text
        return r.json()["items"]

    def kinds(items) -> Counter:
        return Counter((e["source"], e["information"]) for e in items)
    got = wait_until(lambda: (x := register()) and kinds(x) == expected and x, timeout=90, interval=0.5)
    by_kind = {(e["source"], e["information"]): e for e in got}
    hook = by_kind[("notifier", "alerte_webhook")]
    assert hook["recipient"]["webhook"] == "127.0.0.1" and hook["recipient"]["dyad_id"] == dyad_id
    assert hook["reference"]["alert_id"] == alert_id and hook["reference"]["call_id"] == call_id
    read = by_kind[("notifier", "fiche_vue_policiere")]
    assert (read["recipient"]["subject"], read["legal_basis"], read["reference"]["frame_id"]) == \
        ("agente-roy", "consentement", frame_id)
    assert by_kind[("intake", "identite")]["purpose"] == "préparer la rencontre"
    assert by_kind[("intake", "recit")]["reference"]["call_id"] == call_id
    assert all(e["summary"].startswith(e["when"]) for e in got)

    # no name, birth date, narrative nor secret in the events: the key and the references only
    topic = TopicReader(broker.bootstrap_servers, COMMUNICATIONS_RECORDED)
    try:
        records = topic.wait_for_records(lambda rec: rec.key == key.encode(), count=5)
        raw = b"".join(rec.value for rec in records).decode()
        for private in (FIRST, LAST, BORN, NARRATIVE, "se jeter du pont", secret, f"/cad/{unique}",
                        phone.endpoint):
            assert private not in raw, private

        # a replayed event (the notifier's relay sending again) and, behind it on the person's partition, a new one
        replayed = next(rec for rec in records if b'"alerte_webhook"' in rec.value)
        producer = make_producer(broker.bootstrap_servers)
        try:
            producer.send(COMMUNICATIONS_RECORDED.name, key=replayed.key, value=replayed.value,
                          headers=replayed.headers)
            behind = CommunicationRecorded.new(
                payload=CommunicationPayload(person_key=key, information=InformationType.ALERTE_APPAREIL,
                                             recipient=Recipient(channel="web_push", dyad_id=dyad_id),
                                             purpose="contrôle du rejeu", legal_basis="consentement"),
                occurred_at=datetime.now(timezone.utc), source="notifier", correlation_id=call_id)
            producer.send(COMMUNICATIONS_RECORDED.name, key=key.encode(), value=behind.to_bytes())
            producer.flush()
        finally:
            producer.close()
    finally:
        topic.close()
    expected[("notifier", "alerte_appareil")] += 1
    got = wait_until(lambda: (x := register()) and str(behind.event_id) in {e["event_id"] for e in x} and x,
                     timeout=60, interval=0.3)
    assert kinds(got) == expected and len({e["event_id"] for e in got}) == len(got)

    # the person's export: every communication about them, from every service, each once, and the export itself
    file = http.get(f"{url('infosocial')}/v1/persons/{key}/export", headers=sw_b).json()
    exported = {c["event_id"] for c in file["communications"]}
    assert {e["event_id"] for e in got} < exported and len(exported) == len(got) + 1
    assert [c["information"] for c in file["communications"]].count("dossier_exporte") == 1

    # Info-social restarted: the register is still there, whole, and adds nothing
    before = {e["event_id"] for e in register()}
    restart(platform, "infosocial", platform.env)
    assert {e["event_id"] for e in register()} == before
