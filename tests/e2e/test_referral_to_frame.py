"""The social worker's path across services: an officer files a référence sociale at intake, it reaches the
Info-social queue; a frame is written and approved by a second worker; the next call about the person (a
spelling variant of the name) is triaged with the frame, and the dyad's alert carries the frame's police
view; the officer's read of the frame is audited with the call it was for; the administrator sees the audits and
the roster, never the frame, the identity, the triage state nor the alert."""
from __future__ import annotations

from datetime import datetime, timezone

import httpx

from dyade.kafka import wait_until

ALWAYS = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "00:00"}]


def test_referral_frame_call_alert_and_audit(platform, headers_for, unique):
    url = platform.settings.url_of
    http = httpx.Client(timeout=30)
    surname = f"Tremblay-Gagné{unique[:4]}"
    person = {"first_name": "Jean-François", "last_name": surname, "birth_date": "1979-06-02"}
    sw_a, sw_b = headers_for("social_worker", subject="intervenante-a"), headers_for("social_worker", subject="intervenante-b")

    # 1. an officer files a referral; intake resolves the person to a pseudonymous key
    r = http.post(f"{url('intake')}/v1/referrals", headers=headers_for("officer", subject="matricule-4411"), json={
        "referral_id": f"REF-{unique}", "referrer_type": "policier", "referrer_id": "4411",
        "person": {**person, "role": "sujet"}, "clientele": ["etat_mental_perturbe"],
        "criteria": ["recurrence", "implication_partenaires"], "narrative": "Appels répétés, refuse l'aide."})
    assert r.status_code == 202, r.text
    key = http.post(f"{url('intake')}/v1/persons/resolve", headers=sw_a, json=person).json()["person_key"]

    # 2. the referral is in the social worker's queue
    queue = wait_until(lambda: http.get(f"{url('infosocial')}/v1/referrals", headers=sw_a,
                                        params={"person_key": key}).json(), timeout=60, interval=0.5)
    assert queue[0]["status"] == "recue" and "recurrence" in str(queue[0])

    # 3. a frame written with the person (consent obtained), approved by a second worker
    r = http.post(f"{url('infosocial')}/v1/frames", headers=sw_a, json={
        "person_key": key, "interventions_a_privilegier": ["Parler calmement, proposer un café"],
        "interventions_a_eviter": ["Uniformes multiples à la porte"],
        "contacts": [{"name": "Sœur (Julie)", "role": "proche", "phone": "450-555-0101"}],
        "consent": {"status": "obtenu", "scope": ["CISSS"]}})
    assert r.status_code == 201, r.text
    frame_id = r.json()["frame_id"]
    assert http.post(f"{url('infosocial')}/v1/frames/{frame_id}/approve", headers=sw_a).status_code == 403
    assert http.post(f"{url('infosocial')}/v1/frames/{frame_id}/approve", headers=sw_b).status_code == 200

    # 4. the next call, about a spelling variant of the same person, in a sector with a dyad on duty
    sector = f"F{unique}"
    http.put(f"{url('notifier')}/v1/dyads/F{unique}", headers=headers_for("supervisor"), json={
        "name": "Dyade F", "sector": sector, "shifts": ALWAYS,
        "members": [{"name": "Agente", "role": "policier"}, {"name": "Intervenant", "role": "intervenant"}]
    }).raise_for_status()
    call_id = f"F-{unique}"
    dispatch = headers_for("dispatch")

    def decision():
        r = http.get(f"{url('triage')}/v1/calls/{call_id}/decision", headers=dispatch)
        return r.json() if r.status_code == 200 else None

    def post_call():
        return http.post(f"{url('intake')}/v1/calls", headers=dispatch, json={
            "call_id": call_id, "received_at": datetime.now(timezone.utc).isoformat(),
            "nature_code": "EMP", "priority": 2, "location": {"address": "88 rue des Pins", "sector": sector},
            "persons": [{"first_name": "Jean Francois", "last_name": surname.replace("é", "e"),
                         "birth_date": "1979-06-02", "role": "sujet"}],
            "caller_relation": "famille", "flags": ["idees_suicidaires"]})
    # the frame travels to triage on frames.current.v1; a call decided before it arrives would rightly not see it
    wait_until(lambda: (r := http.get(f"{url('triage')}/v1/persons/{key}/triage", headers=dispatch)).status_code
               == 200 and r.json()["fiche"]["active"], timeout=60, interval=0.5)
    assert post_call().status_code == 202
    found = wait_until(decision, timeout=90, interval=0.5)
    assert key in found["person_keys"], found  # the variant resolved to the same person
    assert found["frame"]["exists"], found
    assert "fiche.active" in {r["factor"] for r in found["reasons"]}

    # 5. the dyad's alert carries the frame's police view (and that read is audited by the notifier)
    dyad = headers_for("dyad", subject="agente-f", dyad_id=f"F{unique}", sector=sector)
    alert = wait_until(lambda: [a for a in http.get(f"{url('notifier')}/v1/alerts", headers=dyad).json()["alerts"]
                                if a["call_id"] == call_id], timeout=60, interval=0.5)[0]
    # the frame reaches the notifier on its own topic: until then the detail says it is coming, and the app
    # fetches the detail again when the alert's update announces it
    def detail_with_frame():
        d = http.get(f"{url('notifier')}/v1/alerts/{alert['alert_id']}", headers=dyad).json()
        return d if any(f.get("police_view") for f in d["frames"]) else None
    detail = wait_until(detail_with_frame, timeout=60, interval=0.5)
    view = str(detail["frames"])
    assert "Parler calmement, proposer un café" in view and "Uniformes multiples" in view and "450-555-0101" in view

    # 6. an officer's read of the frame in the patrol terminal is audited with the call it was for
    r = http.get(f"{url('infosocial')}/v1/persons/{key}/frame", headers=headers_for("officer", subject="agent-77"),
                 params={"call_id": call_id})
    assert r.status_code == 200 and "Parler calmement" in r.text
    admin = headers_for("admin", subject="exploitation")
    reads = http.get(f"{url('infosocial')}/v1/audit/reads", headers=admin, params={"person_key": key}).json()
    assert any(x.get("call_id") == call_id and "agent-77" in str(x) for x in reads)

    # 7. the administrator runs the platform (audits, roster, figures) but reads no health nor identity data
    for service, path in [("infosocial", f"/v1/persons/{key}/frame"), ("infosocial", f"/v1/frames/{frame_id}"),
                          ("infosocial", "/v1/referrals"), ("intake", f"/v1/persons/{key}/identity"),
                          ("intake", f"/v1/referrals/REF-{unique}"), ("intake", f"/v1/calls/{call_id}"),
                          ("triage", f"/v1/persons/{key}/triage"), ("triage", f"/v1/calls/{call_id}/decision"),
                          ("notifier", "/v1/alerts"), ("notifier", f"/v1/alerts/{alert['alert_id']}")]:
        r = http.get(f"{url(service)}{path}", headers=admin)
        assert r.status_code == 403 and "admin" in r.json()["detail"], (service, path, r.status_code)
    for service, path in [("intake", "/v1/persons/identity-reads"), ("intake", "/v1/outbox"),
                          ("notifier", "/v1/dyads"), ("analytics", "/v1/figures/overview")]:
        assert http.get(f"{url(service)}{path}", headers=admin).status_code == 200, (service, path)
