"""The register of communications kept by Info-social, on PostgreSQL and the real broker: Info-social's own frame
reads are in it with their audit row (or neither is), the other services' entries come from
communications.recorded.v1 once each (a replay changes nothing), the admin's view filters and pages it, the
person's export holds every communication about them, an event with a name in place of the key is refused, and
a second instance reading the whole topic again (a restart with its offsets lost) adds nothing."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import httpx
import orjson
import pytest
from sqlalchemy import create_engine, func, select, text

from dyade.contracts import (CommunicationPayload, CommunicationRecorded, InformationType, LegalBasis, Recipient,
                             Reference, organisation_of)
from dyade.contracts.topics import COMMUNICATIONS_RECORDED
from dyade.kafka import publish, wait_until
from services.infosocial.adapters.models import Communication, FrameRead

from infosocial_helpers import SW_B, create_active


@pytest.fixture(scope="module")
def admin(token):
    return token("admin", subject="responsable-acces")


def identity_disclosed(person: str, *, at: datetime | None = None) -> CommunicationRecorded:
    """What intake publishes when it discloses an identity to a social worker."""
    payload = CommunicationPayload(
        person_key=person, information=InformationType.IDENTITE,
        recipient=Recipient(subject="intervenante-c", role="social_worker",
                            organisation=organisation_of("social_worker")),
        purpose="préparer la rencontre", legal_basis=LegalBasis.AUCUNE)
    return CommunicationRecorded.new(payload=payload, occurred_at=at or datetime.now(timezone.utc), source="intake",
                                     correlation_id=person)


def webhook_sent(person: str, alert_id: str) -> CommunicationRecorded:
    """What the notifier publishes before it sends an alert to a CAD terminal's webhook."""
    payload = CommunicationPayload(
        person_key=person, information=InformationType.ALERTE_WEBHOOK,
        recipient=Recipient(organisation="Terminal mobile du RAO (webhook de la dyade)", channel="webhook",
                            dyad_id="D7", sector="S7", webhook="rao.example.org"),
        purpose="alerte à la dyade assignée, pour une intervention adaptée", legal_basis=LegalBasis.CONSENTEMENT,
        reference=Reference(call_id="C-77", alert_id=alert_id))
    return CommunicationRecorded.new(payload=payload, occurred_at=datetime.now(timezone.utc), source="notifier",
                                     correlation_id="C-77")


def entries(api, admin, **params) -> list[dict]:
    r = api.get("/v1/audit/communications", params={"per_page": 500, **params}, headers=admin)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def counted(runtime, person: str) -> tuple[int, int]:
    """(register rows, audit rows) of the person, straight from the tables."""
    with runtime.factory() as s:
        return (s.scalar(select(func.count()).select_from(Communication).where(Communication.person_key == person)),
                s.scalar(select(func.count()).select_from(FrameRead).where(FrameRead.person_key == person)))


def test_a_frame_read_is_in_the_register_with_its_audit_row_in_french(api, sw, person, token, admin, runtime):
    fid = create_active(api, sw, person, consent={"status": "refuse", "legal_basis": "lrsss_74_76",
                                                  "justification": "intervention conjointe planifiée avec le CISSS"})
    officer = token("officer", subject="agent-7")
    assert api.get(f"/v1/persons/{person}/frame", params={"call_id": "C-2026-7"}, headers=officer).status_code == 200
    assert api.get(f"/v1/persons/{person}/frame", headers=token("dispatch", subject="rep-3")).status_code == 200
    assert counted(runtime, person) == (2, 2)

    assert api.get("/v1/audit/communications", headers=sw[0]).status_code == 403  # the admin's view only
    got = {e["recipient"]["subject"]: e for e in entries(api, admin, person_key=person)}
    assert set(got) == {"agent-7", "rep-3"}
    police, dispatch = got["agent-7"], got["rep-3"]
    assert (police["source"], police["information"], police["legal_basis"]) == \
        ("infosocial", "fiche_vue_policiere", "lrsss_74_76")
    assert police["reference"] == {"call_id": "C-2026-7", "call_revision": None, "referral_id": None,
                                   "frame_id": fid, "frame_version": 1, "alert_id": None}
    assert police["justification"] == "intervention conjointe planifiée avec le CISSS"
    assert police["recipient"]["role"] == "officer" and police["recipient"]["organisation"] == "Service de police"
    summary = police["summary"]
    assert summary.startswith(police["when"]) and "(heure de Montréal)" in police["when"]
    for words in ("Vue policière de la fiche Info-social", "Destinataire : agent-7 (policier ou policière, "
                  "Service de police)", "Communiqué par : Info-social", "Base légale : LRSSS, art. 74 à 76",
                  "Justification : intervention conjointe planifiée avec le CISSS",
                  f"Référence : appel C-2026-7, fiche {fid} version 1"):
        assert words in summary, (words, summary)
    assert dispatch["information"] == "fiche_vue_repartition" and "vue de la répartition" in dispatch["summary"]


def test_no_entry_no_frame(api, sw, person, token, runtime, settings):
    """The audit row and the register entry are one write: when the register cannot take it, the officer gets no
    frame and no audit row is left behind."""
    create_active(api, sw, person)
    officer = token("officer", subject="agent-8")
    engine = create_engine(settings.db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE infosocial_communications RENAME TO infosocial_communications_away"))
        try:  # on a connection of its own: the server closes the one a 500 went out on
            r = httpx.get(api.base_url.join(f"/v1/persons/{person}/frame"), headers=officer, timeout=30)
        finally:
            with engine.begin() as conn:
                conn.execute(text("ALTER TABLE infosocial_communications_away RENAME TO infosocial_communications"))
        assert r.status_code == 500 and "police_view" not in r.text
        assert counted(runtime, person) == (0, 0)
        assert api.get(f"/v1/persons/{person}/frame", headers=officer).status_code == 200
        assert counted(runtime, person) == (1, 1)
    finally:
        engine.dispose()


def test_the_other_services_entries_come_from_the_topic_once_even_replayed(api, person, admin, producer, runtime):
    disclosed, sent = identity_disclosed(person), webhook_sent(person, f"A-{uuid.uuid4().hex[:8]}")
    for event in (disclosed, sent):
        publish(producer, event)
    producer.flush()
    wait_until(lambda: len(entries(api, admin, person_key=person)) == 2, timeout=60, interval=0.2)

    # the same events again (a relay re-sending after a lost acknowledgement, a republished outbox), then a new
    # one for the same person: same key, same partition, so once it is in, the replays were handled before it
    dead_letters = runtime.register_consumer.dead_lettered
    for event in (disclosed, sent):
        publish(producer, event)
    later = identity_disclosed(person)
    publish(producer, later)
    producer.flush()
    got = wait_until(lambda: (x := entries(api, admin, person_key=person))
                     and str(later.event_id) in {e["event_id"] for e in x} and x, timeout=60, interval=0.2)
    assert sorted(e["event_id"] for e in got) == sorted(str(e.event_id) for e in (disclosed, sent, later))
    assert runtime.register_consumer.dead_lettered == dead_letters  # a replay is no error either
    hook = next(e for e in got if e["information"] == "alerte_webhook")
    assert hook["recipient"]["webhook"] == "rao.example.org" and hook["recipient"]["channel"] == "webhook"
    assert "Destinataire : webhook « rao.example.org » (Terminal mobile du RAO (webhook de la dyade), dyade D7, " \
           "secteur S7), envoi par webhook" in hook["summary"]
    assert "Communiqué par : Application terrain et alertes (notifier)" in hook["summary"]


def test_the_export_holds_every_communication_about_the_person_from_every_service(api, sw, person, token, admin,
                                                                                 producer):
    fid = create_active(api, sw, person)
    officer = token("officer", subject="agent-9")
    api.get(f"/v1/frames/{fid}", params={"call_id": "C-9"}, headers=officer).raise_for_status()
    for event in (identity_disclosed(person), webhook_sent(person, "A-9")):
        publish(producer, event)
    producer.flush()
    wait_until(lambda: len(entries(api, admin, person_key=person)) == 3, timeout=60, interval=0.2)

    r = api.get(f"/v1/persons/{person}/export", headers=sw[1])
    assert r.status_code == 200, r.text
    file = r.json()
    got = [(c["source"], c["information"]) for c in file["communications"]]
    assert sorted(got) == sorted([("infosocial", "fiche_vue_policiere"), ("intake", "identite"),
                                  ("notifier", "alerte_webhook"), ("infosocial", "dossier_exporte")])
    exported = next(c for c in file["communications"] if c["information"] == "dossier_exporte")
    assert exported["recipient"]["subject"] == SW_B and exported["legal_basis"] is None
    assert "Base légale : Droit d'accès de la personne à son dossier" in exported["summary"]
    assert all(c["summary"] for c in file["communications"])
    # the export is entered in the register too, and its audit rows stay where they were
    assert any(e["information"] == "dossier_exporte" for e in entries(api, admin, person_key=person))
    assert any(x["purpose"] == "export" for x in api.get("/v1/audit/reads", params={"person_key": person},
                                                         headers=admin).json())


def test_a_person_known_only_by_communications_has_a_file_to_export(api, sw, person, admin, producer):
    assert api.get(f"/v1/persons/{person}/export", headers=sw[0]).status_code == 404
    publish(producer, identity_disclosed(person))
    producer.flush()
    wait_until(lambda: entries(api, admin, person_key=person), timeout=60, interval=0.2)
    file = api.get(f"/v1/persons/{person}/export", headers=sw[0]).json()
    assert file["frames"] == [] and [c["information"] for c in file["communications"]] == ["identite",
                                                                                           "dossier_exporte"]


def test_the_admin_filters_by_service_type_and_period_and_pages(api, person, admin, producer):
    old = datetime.now(timezone.utc) - timedelta(days=40)
    events = [identity_disclosed(person, at=old + timedelta(minutes=i)) for i in range(3)]
    events.append(webhook_sent(person, "A-P"))
    for event in events:
        publish(producer, event)
    producer.flush()
    wait_until(lambda: len(entries(api, admin, person_key=person)) == 4, timeout=60, interval=0.2)

    assert [e["source"] for e in entries(api, admin, person_key=person, service="notifier")] == ["notifier"]
    assert len(entries(api, admin, person_key=person, information="identite")) == 3
    recent = entries(api, admin, person_key=person, since=(old + timedelta(days=1)).isoformat())
    assert [e["information"] for e in recent] == ["alerte_webhook"]
    window = entries(api, admin, person_key=person, since=old.isoformat(),
                     until=(old + timedelta(minutes=2)).isoformat())
    assert [e["event_id"] for e in window] == [str(events[1].event_id), str(events[0].event_id)]  # newest first

    first = api.get("/v1/audit/communications", params={"person_key": person, "per_page": 3}, headers=admin).json()
    second = api.get("/v1/audit/communications", params={"person_key": person, "per_page": 3, "page": 2},
                     headers=admin).json()
    assert (first["total"], first["pages"], len(first["items"]), len(second["items"])) == (4, 2, 3, 1)
    assert second["items"][0]["event_id"] == str(events[0].event_id)  # the oldest, last

    r = api.get("/v1/audit/communications", params={"since": old.isoformat(), "until": old.isoformat()},
                headers=admin)
    assert r.status_code == 422 and r.json()["detail"].startswith("until")
    r = api.get("/v1/audit/communications", params={"information": "nom"}, headers=admin)
    assert r.status_code == 422 and "information" in str(r.json()["detail"])
    r = api.get("/v1/audit/communications", params={"service": "triage"}, headers=admin)
    assert r.status_code == 422 and "service" in str(r.json()["detail"])


def test_an_event_naming_the_person_is_dead_lettered_not_registered(api, admin, producer, person, reader):
    event = identity_disclosed(person)
    raw = orjson.loads(event.to_bytes())
    raw["payload"]["person_key"] = "Jean Tremblay"
    producer.send(COMMUNICATIONS_RECORDED.name, key=person.encode(), value=orjson.dumps(raw))
    producer.flush()
    dead = reader(COMMUNICATIONS_RECORDED.dlq_name).wait_for_records(lambda r: r.key == person.encode())
    headers = dict(dead[0].headers)
    assert headers["dlq.service"] == b"infosocial" and b"person_key" in headers["dlq.reason"]
    assert b"Tremblay" not in headers["dlq.reason"]  # the reason names the field, not the value
    assert entries(api, admin, person_key=person) == []


def test_a_second_instance_reading_the_whole_topic_again_adds_nothing(api, sw, person, token, admin, producer,
                                                                    settings, runtime, reader):
    """The register is in the database: an instance started afresh (a restart that lost its consumer offsets)
    reads communications.recorded.v1 from its beginning and every entry stays one."""
    from services.infosocial.runtime import Runtime
    create_active(api, sw, person)
    api.get(f"/v1/persons/{person}/frame", headers=token("officer", subject="agent-10")).raise_for_status()
    publish(producer, identity_disclosed(person))
    producer.flush()
    wait_until(lambda: len(entries(api, admin, person_key=person)) == 2, timeout=60, interval=0.2)
    with runtime.factory() as s:
        total_before = s.scalar(select(func.count()).select_from(Communication))

        from_topic = s.scalar(select(func.count()).select_from(Communication)
                              .where(Communication.source != "infosocial"))

    again = Runtime(settings, consumer_group=f"infosocial-again-{uuid.uuid4().hex[:8]}").start(sweep=False)
    try:  # read to the end of the topic, every entry already there read again
        wait_until(lambda: again.register_consumer.health()["lag"] == 0
                   and again.register_consumer.processed >= from_topic, timeout=120, interval=0.2)
    finally:
        again.stop()
    # what it dead-lettered, if anything, is only the poison of the test above (a name in place of the key)
    reasons = [dict(r.headers)["dlq.reason"] for r in reader(COMMUNICATIONS_RECORDED.dlq_name).wait_for_records(
        lambda r: dict(r.headers).get("dlq.group") == again.register_consumer.group_id.encode(),
        count=again.register_consumer.dead_lettered)] if again.register_consumer.dead_lettered else []
    assert all(b"person_key" in reason for reason in reasons), reasons
    assert counted(runtime, person)[0] == 2
    with runtime.factory() as s:
        assert s.scalar(select(func.count()).select_from(Communication)) == total_before
