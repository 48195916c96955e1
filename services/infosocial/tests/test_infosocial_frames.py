"""Frames through the HTTP API, against PostgreSQL and the real broker: versions and approval, what is
published, consent filtering by role, the audit of every read, review-due and stale, archive tombstones."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dyade.contracts import FrameChanged, FrameCurrent, decode
from dyade.contracts.topics import FRAMES_CHANGED, FRAMES_CURRENT
from dyade.kafka import create_topics, wait_until
from dyade.contracts.topics import Topic
from tests.kit import keyed
from services.infosocial.domain.visibility import SUICIDE_WITHHELD_NOTE
from services.infosocial.runtime import republish_if_empty

from infosocial_helpers import SW_A, SW_B, create_active, frame_body
from sector_triage import sector_triage  # noqa: F401 (fixture: triage's answer for a dyad's sector check)


def currents(records) -> list:
    return [decode(r.value, expect=FrameCurrent) if r.value is not None else None for r in records]


def test_a_frame_is_active_only_after_a_second_person_approves(api, sw, person, token, reader):
    r = api.post("/v1/frames", json=frame_body(person), headers=sw[0])
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["version"] == 1 and created["status"] == "en_attente" and created["created"] is True
    fid = created["frame_id"]

    officer = token("officer", subject="agent-1")
    assert api.get(f"/v1/persons/{person}/frame", headers=officer).status_code == 404  # not active yet
    r = api.post(f"/v1/frames/{fid}/approve", headers=sw[0])  # the author cannot approve her own frame
    assert r.status_code == 403 and "autre personne" in r.json()["detail"]
    r = api.post(f"/v1/frames/{fid}/approve", headers=sw[1])
    assert r.status_code == 200 and r.json() == {"frame_id": fid, "version": 1, "status": "active", "created": False}
    assert api.post(f"/v1/frames/{fid}/approve", headers=sw[1]).status_code == 409  # nothing left to approve

    view = api.get(f"/v1/persons/{person}/frame", headers=officer).json()
    assert view["status"] == "active" and view["version"] == 1
    due = datetime.fromisoformat(view["review_due"]).date()
    assert 364 <= (due - datetime.now(timezone.utc).date()).days <= 366  # yearly review

    # A change is a new version, pending: officers keep seeing version 1 until it is approved.
    update = frame_body(person, reason="nouvel événement", risques=[{"text": "Chien agressif", "source": "police"}])
    r = api.put(f"/v1/frames/{fid}", json=update, headers=sw[1])
    assert r.status_code == 201 and r.json()["version"] == 2
    assert api.get(f"/v1/persons/{person}/frame", headers=officer).json()["version"] == 1
    assert api.post(f"/v1/frames/{fid}/approve", headers=sw[1]).status_code == 403  # sw B wrote version 2
    assert api.post(f"/v1/frames/{fid}/approve", headers=sw[0]).json()["version"] == 2
    view = api.get(f"/v1/persons/{person}/frame", headers=officer).json()
    assert view["version"] == 2 and view["police_view"]["risques"] == ["Chien agressif"]

    versions = api.get(f"/v1/frames/{fid}/versions", headers=sw[0]).json()
    assert [(v["version"], v["author"], v["approved_by"], v["state"]) for v in versions] == [
        (1, SW_A, SW_B, "approuvee"), (2, SW_B, SW_A, "active")]
    assert versions[1]["reason"] == "nouvel événement"
    first = api.get(f"/v1/frames/{fid}/versions/1", headers=sw[1]).json()  # earlier versions stay readable
    assert first["content"]["risques"][1]["text"] == "Idées suicidaires en automne"

    # The compacted topic holds the police view of each approved version, keyed by person.
    recs = reader(FRAMES_CURRENT).wait_for_records(keyed(person), 2)
    events = currents(recs)
    assert [e.payload.version for e in events] == [1, 2]
    assert events[1].payload.police_view.risques == ("Chien agressif",)
    changed = reader(FRAMES_CHANGED).wait_for_records(keyed(person), 2)
    kinds = [decode(r.value, expect=FrameChanged).payload for r in changed]
    assert [(k.change, k.version, k.first_activation) for k in kinds] == [("approved", 1, True), ("approved", 2, False)]


def test_posting_again_for_the_same_person_makes_a_new_version(api, sw, person):
    fid = create_active(api, sw, person)
    r = api.post("/v1/frames", json=frame_body(person, reason="révision annuelle"), headers=sw[1])
    assert r.status_code == 201 and r.json()["frame_id"] == fid and r.json()["version"] == 2


CONSENT_CASES = {
    "obtenu": {"status": "obtenu", "scope": ["CISSS"]},
    "refuse": {"status": "refuse"},
    "lrsss": {"status": "non_demande", "legal_basis": "lrsss_74_76",
              "justification": "Intervention adaptée en pratique mixte, personne inapte à consentir"},
}
HEALTH = "Trouble schizo-affectif"
POLICE = "Couteau gardé dans la cuisine"


@pytest.mark.parametrize("consent", list(CONSENT_CASES))
@pytest.mark.parametrize("role, sees_police, sees_health_with_basis, sees_identity", [
    ("social_worker", True, True, True),
    ("officer", True, True, False), ("dyad", True, True, False),
    ("dispatch", True, False, False),   # safety notes only (health ones only with a basis)
    ("analyst", False, False, False),   # no identity, no narrative
])
def test_consent_filtering_by_role(api, sw, person, token, consent, role, sees_police, sees_health_with_basis,
                                   sees_identity, sector_triage):
    create_active(api, sw, person, consent=CONSENT_CASES[consent])
    sector_triage.persons[person] = ["S1"]  # a dyad reads persons of its sector (services/infosocial/entrypoints/scope.py)
    claims = {"dyad_id": "D1", "sector": "S1"} if role == "dyad" else {}
    r = api.get(f"/v1/persons/{person}/frame", headers=token(role, subject=f"{role}-1", **claims))
    assert r.status_code == 200, r.text
    text = r.text
    assert (POLICE in text) == sees_police
    with_basis = consent != "refuse"
    full = role == "social_worker"
    if role == "dispatch":
        # a health-derived safety note about suicide: with consent; without, only with its disclosure test
        assert ("Idées suicidaires" in text) == (consent == "obtenu")
        assert (SUICIDE_WITHHELD_NOTE in text) == (consent == "lrsss")
        assert HEALTH not in text
    else:
        assert (HEALTH in text) == (full or (sees_health_with_basis and with_basis))
    assert ("Personne Test" in text) == sees_identity
    assert ("450-555-0101" in text) == (full or (role in ("officer", "dyad") and with_basis))


@pytest.mark.parametrize("role", ["calltaker", "partner", "supervisor", "admin"])
def test_other_roles_are_refused(api, sw, person, token, role):
    fid = create_active(api, sw, person)
    r = api.get(f"/v1/persons/{person}/frame", headers=token(role))
    assert r.status_code == 403 and "rôle" in r.json()["detail"]
    assert api.get(f"/v1/frames/{fid}", headers=token(role)).status_code == 403
    assert api.get(f"/v1/persons/{person}/frame").status_code == 401


def test_admin_runs_the_audit_and_the_sweep_but_reads_approves_and_exports_nothing(api, sw, person, token):
    fid = create_active(api, sw, person)
    pending = api.put(f"/v1/frames/{fid}", json=frame_body(person), headers=sw[0])
    assert pending.status_code == 201, pending.text
    admin = token("admin", subject="adm")
    detail = api.get(f"/v1/persons/{person}/frame", headers=admin).json()["detail"]
    assert "admin" in detail and "santé" in detail and "identités" in detail
    for path in (f"/v1/frames/{fid}", f"/v1/frames/{fid}/versions", f"/v1/frames/{fid}/versions/1",
                 f"/v1/persons/{person}/export", "/v1/frames", "/v1/referrals"):
        assert api.get(path, headers=admin).status_code == 403, path
    assert api.post(f"/v1/frames/{fid}/approve", json={}, headers=admin).status_code == 403
    assert api.post(f"/v1/frames/{fid}/consent", json={"status": "refuse", "note": "x"},
                    headers=admin).status_code == 403
    assert api.post("/v1/frames", json=frame_body(person), headers=admin).status_code == 403
    page = api.get("/", headers=admin)
    assert page.status_code == 403 and "administrer la plateforme" in page.text
    rows = api.get("/v1/audit/reads", params={"frame_id": fid}, headers=admin)
    assert rows.status_code == 200 and all(r["role"] != "admin" for r in rows.json())
    # the sweep is the administrator's: past the role check, an invalid time is refused before anything runs
    assert api.post("/v1/admin/sweep", params={"at": "pas-une-date"}, headers=admin).status_code == 422
    assert api.post("/v1/admin/sweep", params={"at": "pas-une-date"}, headers=sw[0]).status_code == 403


def test_consent_withdrawal_takes_effect_at_once_and_is_published(api, sw, person, token, reader):
    fid = create_active(api, sw, person)
    officer = token("officer", subject="agent-2")
    assert HEALTH in api.get(f"/v1/persons/{person}/frame", headers=officer).text
    r = api.post(f"/v1/frames/{fid}/consent", json={"status": "refuse", "note": "retrait au téléphone"},
                 headers=sw[0])
    assert r.status_code == 200 and r.json()["legal_basis"] == "aucune"
    view = api.get(f"/v1/persons/{person}/frame", headers=officer).json()
    assert HEALTH not in repr(view) and view["elements_retenus"] > 0 and view["legal_basis"] == "aucune"
    assert view["police_view"]["interventions_a_privilegier"] == ["Parler calmement, se présenter par son nom"]
    recs = reader(FRAMES_CURRENT).wait_for_records(keyed(person), 2)
    last = currents(recs)[-1].payload
    assert last.consent == "refuse" and last.police_view.particularites is None
    assert last.police_view.legal_basis == "aucune"


def test_every_read_is_audited_with_version_and_call(api, sw, person, token, sector_triage):
    fid = create_active(api, sw, person)
    sector_triage.persons[person] = ["S1"]
    api.get(f"/v1/persons/{person}/frame", params={"call_id": "C-2026-001"}, headers=token("officer", subject="agent-7"))
    api.get(f"/v1/persons/{person}/frame", headers=token("dispatch", subject="rep-3"))
    api.get(f"/v1/frames/{fid}", params={"call_id": "C-2026-002"},
            headers=token("dyad", subject="dyade-1", dyad_id="D1", sector="S1"))
    api.get(f"/v1/frames/{fid}/versions/1", headers=sw[0])
    assert api.get("/v1/audit/reads", params={"person_key": person}, headers=sw[0]).status_code == 403
    rows = api.get("/v1/audit/reads", params={"person_key": person}, headers=token("admin", subject="adm")).json()
    got = sorted((r["reader"], r["role"], r["view"], r["version"], r["call_id"], r["purpose"]) for r in rows)
    assert got == sorted([("agent-7", "officer", "police", 1, "C-2026-001", "lecture"),
                          ("rep-3", "dispatch", "dispatch", 1, None, "lecture"),
                          ("dyade-1", "dyad", "police", 1, "C-2026-002", "lecture"),
                          (SW_A, "social_worker", "complete", 1, None, "version")])
    assert all(r["legal_basis"] == "consentement" and r["frame_id"] == fid for r in rows)

    export = api.get(f"/v1/persons/{person}/export", headers=sw[1])
    assert export.status_code == 200
    file = export.json()
    assert file["frames"][0]["versions"][0]["content"]["pii_link"] == "PII-2026-014"
    assert {r["reader"] for r in file["reads"]} >= {"agent-7", "rep-3", "dyade-1"}
    rows = api.get("/v1/audit/reads", params={"frame_id": fid}, headers=token("admin")).json()
    assert any(r["purpose"] == "export" and r["reader"] == SW_B for r in rows)


def test_review_due_ahead_then_stale_and_published_as_stale(api, sw, person, token, runtime, reader):
    fid = create_active(api, sw, person)
    due = datetime.fromisoformat(api.get(f"/v1/frames/{fid}", headers=sw[0]).json()["review_due"]).date()
    noon = lambda d: datetime(d.year, d.month, d.day, 17, tzinfo=timezone.utc)  # noqa: E731
    assert runtime.frames.sweep(noon(due - timedelta(days=40)), frame_ids=[fid]) == {"review_due": 0, "stale": 0, "danger_lapsed": 0}
    assert runtime.frames.sweep(noon(due - timedelta(days=20)), frame_ids=[fid]) == {"review_due": 1, "stale": 0, "danger_lapsed": 0}
    assert runtime.frames.sweep(noon(due - timedelta(days=19)), frame_ids=[fid]) == {"review_due": 0, "stale": 0, "danger_lapsed": 0}
    assert runtime.frames.sweep(noon(due + timedelta(days=1)), frame_ids=[fid]) == {"review_due": 0, "stale": 1, "danger_lapsed": 0}
    assert runtime.frames.sweep(noon(due + timedelta(days=2)), frame_ids=[fid]) == {"review_due": 0, "stale": 0, "danger_lapsed": 0}

    view = api.get(f"/v1/persons/{person}/frame", headers=token("officer")).json()
    assert view["status"] == "perimee" and view["stale"] is True and "PÉRIMÉE" in view["avertissement"]
    due_list = api.get("/v1/frames", params={"due_within_days": 0}, headers=sw[0]).json()
    assert any(f["frame_id"] == fid and f["stale"] for f in due_list)

    changed = reader(FRAMES_CHANGED).wait_for_records(keyed(person), 3)
    assert [decode(r.value).payload.change for r in changed] == ["approved", "review_due", "stale"]
    recs = reader(FRAMES_CURRENT).wait_for_records(keyed(person), 2)
    assert currents(recs)[-1].payload.stale is True

    # A new approved version is the review: current again, next review a year later.
    api.put(f"/v1/frames/{fid}", json=frame_body(person, reason="révision annuelle"), headers=sw[0])
    api.post(f"/v1/frames/{fid}/approve", headers=sw[1])
    assert api.get(f"/v1/persons/{person}/frame", headers=token("officer")).json()["status"] == "active"


def test_archive_publishes_a_tombstone(api, sw, person, token, reader):
    fid = create_active(api, sw, person)
    r = api.post(f"/v1/frames/{fid}/archive", json={"reason": "déménagé hors territoire"}, headers=sw[0])
    assert r.status_code == 200 and r.json()["status"] == "archivee"
    recs = reader(FRAMES_CURRENT).wait_for_records(keyed(person), 2)
    assert recs[0].value is not None and recs[-1].value is None  # tombstone: the key leaves the compacted topic
    assert api.get(f"/v1/persons/{person}/frame", headers=token("officer")).status_code == 404
    assert api.post(f"/v1/frames/{fid}/approve", headers=sw[1]).status_code == 409
    # A new frame can be opened for the person afterwards.
    assert api.post("/v1/frames", json=frame_body(person), headers=sw[0]).json()["frame_id"] != fid


def test_current_frames_republished_when_the_topic_is_empty(api, sw, person, runtime, broker, reader, unique):
    create_active(api, sw, person)
    fresh = Topic(f"frames.current.test-{unique}", "person_key", (FrameCurrent,), "test", compacted=True, partitions=1)
    create_topics(broker.bootstrap_servers, [fresh])
    n = republish_if_empty(runtime.factory, broker.bootstrap_servers, fresh.name)
    assert n >= 1
    recs = reader(fresh).wait_for_records(keyed(person), 1)
    assert currents(recs)[0].payload.person_key == person
    assert republish_if_empty(runtime.factory, broker.bootstrap_servers, fresh.name) == 0  # not empty any more


def test_the_relay_gives_current_frames_back_to_a_broker_that_lost_them(api, sw, person, runtime, broker, reader,
                                                                      unique):
    """The embedded broker restarted empty under a running Info-social: the relay's check finds the topic empty
    while the database has current frames, and republishes them all, under the outbox's lock; a topic that
    holds them is left alone, and an offset going back (a restart seen by a send) is reason enough."""
    from dyade.kafka import make_producer
    from services.infosocial.adapters.frames import republish_current
    from services.infosocial.adapters.outbox import Relay
    create_active(api, sw, person)
    lost = Topic(f"frames.current.lost-{unique}", "person_key", (FrameCurrent,), "test", compacted=True, partitions=1)
    create_topics(broker.bootstrap_servers, [lost])   # the restarted broker's empty topic
    relay = Relay(runtime.factory, broker.bootstrap_servers, refill=republish_current, frames_topic=lost.name)
    relay.producer = make_producer(broker.bootstrap_servers)
    try:
        assert relay.frames_missing() is not None
        wait_until(lambda: relay.verify() or relay.restored == 1, timeout=30)   # the live relay's batch may hold the lock
        assert person in {c.payload.person_key for c in currents(reader(lost).wait_for_records(keyed(person), 1))}
        assert relay.frames_missing() is None and relay.highest[(lost.name, 0)] >= 0   # a restart will show
        relay.verify()
        assert relay.restored == 1   # whole: nothing sent again
        relay.went_back = "calls[0]: offset 0 reçu après 7"
        wait_until(lambda: relay.verify() or relay.restored == 2, timeout=30)
        assert relay.went_back is None and len(currents(reader(lost).wait_for_records(keyed(person), 2))) == 2
    finally:
        relay.producer.close()


@pytest.mark.parametrize("body, where", [
    ({"person_key": "Jean Tremblay", "risques": ["x"]}, "person_key"),
    ({"person_key": "p_abcdef12"}, "au moins une"),
    ({"person_key": "p_abcdef12", "risques": ["x"], "consent": {"status": "peut-être"}}, "consent.status"),
    ({"person_key": "p_abcdef12", "risques": [{"text": "x", "source": "voisinage"}]}, "source"),
    ({"person_key": "p_abcdef12", "risques": ["x"], "contacts": [{"name": "A"}]}, "contacts.0.role"),
    ({"person_key": "p_abcdef12", "risques": ["x"], "review_due": "2020-01-01"}, "review_due"),
    ({"person_key": "p_abcdef12", "risques": ["x"], "inconnu": 1}, "inconnu"),
])
def test_bad_input_gets_a_4xx_naming_the_problem(api, sw, body, where):
    r = api.post("/v1/frames", json=body, headers=sw[0])
    assert r.status_code == 422 and where in r.json()["detail"], r.text


def test_bad_ids_and_moves_are_4xx(api, sw, person, token):
    assert api.get("/v1/persons/Jean/frame", headers=token("officer")).status_code == 422
    assert api.get("/v1/frames/f_0000000000000000", headers=sw[0]).status_code == 404
    assert api.post("/v1/frames/f_0000000000000000/approve", headers=sw[1]).status_code == 404
    fid = create_active(api, sw, person)
    r = api.put(f"/v1/frames/{fid}", json=frame_body("p_autrepersonne1"), headers=sw[0])
    assert r.status_code == 422 and "person_key" in r.json()["detail"]
    r = api.get(f"/v1/persons/{person}/frame", params={"call_id": "x y"}, headers=token("officer"))
    assert r.status_code == 422 and "call_id" in r.json()["detail"]


def test_readiness(api):
    r = wait_until(lambda: (r := api.get("/readyz")).status_code == 200 and r, timeout=30)
    assert r.json()["checks"]["workers"] == "ok" and r.json()["consumers"][0]["state"] == "running", r.text
    wait_until(lambda: api.get("/metrics").status_code == 200)


def test_published_outbox_rows_are_pruned_after_a_week(runtime, unique):
    from sqlalchemy import select

    from dyade.db import unit_of_work
    from services.infosocial.adapters.models import OutboxRecord
    from dyade.clock import utcnow as now
    from services.infosocial.adapters.outbox import prune
    key = f"p_prune{unique}"
    with unit_of_work(runtime.factory) as s:  # rows already published (the relay leaves them alone)
        for days in (10, 1):
            s.add(OutboxRecord(topic="frames.changed.v1", key=key, value=b"{}", event_type=f"{days}j",
                               created_at=now() - timedelta(days=days), sent_at=now() - timedelta(days=days)))
    prune(runtime.factory, sent_before=now() - timedelta(days=7), processed_before=now() - timedelta(days=3650))
    with unit_of_work(runtime.factory) as s:
        left = s.scalars(select(OutboxRecord).where(OutboxRecord.key == key)).all()
        assert [r.event_type for r in left] == ["1j"]
        s.delete(left[0])


def test_approval_during_a_broker_outage_is_published_when_it_returns(api, sw, person, token, broker, reader,
                                                                      runtime):
    """The database is the record: the frame is active for terminals at once, the event waits in the outbox."""
    r = api.post("/v1/frames", json=frame_body(person), headers=sw[0])
    fid = r.json()["frame_id"]
    broker.pause()
    try:
        assert api.post(f"/v1/frames/{fid}/approve", headers=sw[1]).status_code == 200
        assert api.get(f"/v1/persons/{person}/frame", headers=token("officer")).json()["status"] == "active"
    finally:
        broker.resume()
    recs = reader(FRAMES_CURRENT).wait_for_records(keyed(person), 1, timeout=90)
    assert currents(recs)[0].payload.frame_id == fid


def test_an_imminent_danger_basis_lapses_after_three_days(api, sw, person, token, runtime, reader):
    danger = {"status": "refuse", "legal_basis": "danger_imminent",
              "justification": "Menaces de mort envers sa sœur ce soir, arme blanche au domicile"}
    fid = create_active(api, sw, person, consent=danger)
    officer = token("officer", subject="agent-danger")
    view = api.get(f"/v1/persons/{person}/frame", headers=officer).json()
    assert view["legal_basis"] == "danger_imminent" and HEALTH in repr(view)
    at = datetime.now(timezone.utc) + timedelta(days=1)
    assert runtime.frames.sweep(at, frame_ids=[fid])["danger_lapsed"] == 0
    at = datetime.now(timezone.utc) + timedelta(days=3, hours=1)
    assert runtime.frames.sweep(at, frame_ids=[fid])["danger_lapsed"] == 1
    view = api.get(f"/v1/persons/{person}/frame", headers=officer).json()
    assert view["legal_basis"] == "aucune" and HEALTH not in repr(view) and POLICE in repr(view)
    recs = reader(FRAMES_CURRENT).wait_for_records(keyed(person), 2)
    last = currents(recs)[-1].payload.police_view
    assert last.legal_basis == "aucune" and last.particularites is None
    history = api.get(f"/v1/persons/{person}/export", headers=sw[0]).json()["frames"][0]["consents"]
    assert "échue" in history[-1]["note"] and history[-1]["recorded_by"] == "revue-quotidienne"
    # a version written with the basis of then does not bring it back
    r = api.put(f"/v1/frames/{fid}", json=frame_body(person, consent=danger), headers=sw[0])
    assert r.status_code == 409 and "formulaire de consentement" in r.json()["detail"], r.text
    assert api.put(f"/v1/frames/{fid}", json=without_consent(frame_body(person)), headers=sw[0]).status_code == 201
    assert api.post(f"/v1/frames/{fid}/approve", headers=sw[1]).status_code == 200
    view = api.get(f"/v1/persons/{person}/frame", headers=officer).json()
    assert view["version"] == 2 and view["legal_basis"] == "aucune" and HEALTH not in repr(view)


LRSSS = CONSENT_CASES["lrsss"]
SUICIDE = "Idées suicidaires récurrentes, plan évoqué"
JUSTIFICATION = "Plan évoqué avec arme blanche: les policiers doivent le savoir pour ne pas aggraver la crise"


def test_a_suicide_related_element_reaches_officers_only_once_its_disclosure_test_is_recorded(
        api, sw, person, token, reader):
    risks = [{"text": POLICE, "source": "police"}, SUICIDE]
    fid = create_active(api, sw, person, consent=LRSSS, risques=risks,
                        particularites={"text": "Crises l'hiver", "suicide_related": True})
    officer, dispatch = token("officer", subject="agent-s"), token("dispatch", subject="rep-s")
    view = api.get(f"/v1/persons/{person}/frame", headers=officer).json()
    assert view["legal_basis"] == "lrsss_74_76" and HEALTH not in repr(view)  # particularites: ticked suicide
    assert view["police_view"]["risques"] == [SUICIDE_WITHHELD_NOTE, POLICE] and view["elements_suicide_retenus"] == 2
    assert SUICIDE not in repr(view)
    assert api.get(f"/v1/persons/{person}/frame", headers=dispatch).json()["safety_notes"] == [
        SUICIDE_WITHHELD_NOTE, POLICE]
    [event] = currents(reader(FRAMES_CURRENT).wait_for_records(keyed(person), 1))
    assert event.payload.police_view.risques == (SUICIDE_WITHHELD_NOTE, POLICE)
    assert event.payload.police_view.particularites is None and SUICIDE.encode() not in event.to_bytes()

    # Version 2 records the test for the risk (B writes, A approves): it goes through, the other stays withheld.
    tested = [{"text": POLICE, "source": "police"}, {"text": SUICIDE, "disclosure": {
        "justification": JUSTIFICATION, "recorded_by": "quelqu'un d'autre"}}]
    winter = {"text": "Crises l'hiver", "suicide_related": True}
    r = api.put(f"/v1/frames/{fid}", json=frame_body(person, consent=LRSSS, risques=tested, particularites=winter),
                headers=sw[1])
    assert r.status_code == 201, r.text
    assert api.get(f"/v1/persons/{person}/frame", headers=officer).json()["version"] == 1  # not before approval
    assert api.post(f"/v1/frames/{fid}/approve", headers=sw[0]).status_code == 200
    view = api.get(f"/v1/persons/{person}/frame", headers=officer).json()
    assert view["police_view"]["risques"] == [SUICIDE_WITHHELD_NOTE, POLICE, SUICIDE]
    assert view["elements_suicide_retenus"] == 1 and view["police_view"]["particularites"] is None
    last = currents(reader(FRAMES_CURRENT).wait_for_records(keyed(person), 2))[-1]
    assert last.payload.police_view.risques == (SUICIDE_WITHHELD_NOTE, POLICE, SUICIDE)

    complete = api.get(f"/v1/frames/{fid}", headers=sw[0]).json()
    test = complete["content"]["risques"][1]["disclosure"]
    assert test["recorded_by"] == SW_B and test["justification"] == JUSTIFICATION and test["recorded_at"]
    assert [(e["field"], e["reaches_police"]) for e in complete["suicide_elements"]] == [
        ("particularites", False), ("risques", True)]
    # versioned: version 1 holds no test; the versions list says who wrote and who approved the one that does
    assert api.get(f"/v1/frames/{fid}/versions/1", headers=sw[0]).json()["content"]["risques"][1]["disclosure"] is None
    versions = api.get(f"/v1/frames/{fid}/versions", headers=sw[0]).json()
    assert (versions[1]["author"], versions[1]["approved_by"]) == (SW_B, SW_A)

    # consent obtained: the person agreed, the test is not asked for
    api.post(f"/v1/frames/{fid}/consent", json={"status": "obtenu", "scope": ["CISSS"]}, headers=sw[0])
    view = api.get(f"/v1/persons/{person}/frame", headers=officer).json()
    assert "Crises l'hiver" in repr(view) and SUICIDE_WITHHELD_NOTE not in repr(view)


NCR = {"status": "refuse", "legal_basis": "lrsss_74_76_verdict_ncr",
       "justification": "Intervention adaptée, personne visée par un verdict de non-responsabilité criminelle"}
VERDICT = {"kind": "inaptitude_a_subir_son_proces", "date": "2025-09-02", "reference": "700-01-987654-259"}


def test_the_2024_basis_needs_the_verdict_and_keeps_it_from_officers_and_events(api, sw, person, token, reader):
    r = api.post("/v1/frames", json=frame_body(person, consent=NCR), headers=sw[0])
    assert r.status_code == 422 and "verdict" in r.json()["detail"], r.text
    r = api.post("/v1/frames", json=frame_body(person, consent=NCR, verdict={**VERDICT, "kind": "coupable"}),
                 headers=sw[0])
    assert r.status_code == 422 and "verdict.kind" in r.json()["detail"], r.text
    fid = create_active(api, sw, person, consent=NCR, verdict=VERDICT)
    officer = token("officer", subject="agent-ncr")
    view = api.get(f"/v1/persons/{person}/frame", headers=officer).json()
    assert view["legal_basis"] == "lrsss_74_76_verdict_ncr" and HEALTH in repr(view)  # as LRSSS 74–76
    assert VERDICT["reference"] not in repr(view) and "inaptitude" not in repr(view)
    [event] = currents(reader(FRAMES_CURRENT).wait_for_records(keyed(person), 1))
    assert event.payload.police_view.legal_basis == "lrsss_74_76_verdict_ncr"
    assert VERDICT["reference"].encode() not in event.to_bytes() and b"inaptitude" not in event.to_bytes()
    assert api.get(f"/v1/frames/{fid}", headers=sw[1]).json()["content"]["verdict"]["reference"] == VERDICT["reference"]

    # A version without the verdict waits; the basis cannot be kept with it (nor changed by it).
    assert api.put(f"/v1/frames/{fid}", json=frame_body(person, consent=LRSSS), headers=sw[0]).status_code == 409
    r = api.put(f"/v1/frames/{fid}", json=without_consent(frame_body(person)), headers=sw[0])
    assert r.status_code == 201
    r = api.post(f"/v1/frames/{fid}/consent", json=NCR, headers=sw[0])  # the active version has the verdict
    assert r.status_code == 200 and r.json()["legal_basis"] == "lrsss_74_76_verdict_ncr"
    r = api.post(f"/v1/frames/{fid}/approve", headers=sw[1])
    assert r.status_code == 409 and "verdict" in r.json()["detail"]


def test_the_2024_basis_is_refused_on_a_frame_without_the_verdict(api, sw, person):
    fid = create_active(api, sw, person, consent=LRSSS)
    r = api.post(f"/v1/frames/{fid}/consent", json=NCR, headers=sw[0])
    assert r.status_code == 422 and "verdict" in r.json()["detail"]


def test_the_page_form_marks_a_suicide_related_element_and_records_its_test(api, sw, person):
    form = {"person_key": person, "display_name": "Personne Test", "particularites": "Anxiété sévère",
            "interventions_a_privilegier": "[police] Parler calmement", "interventions_a_eviter": "",
            "contacts": "Sœur ; proche ; 450-555-0110 ; si idées noires",
            "risques": f"[suicide] Crises l'hiver\n[divulgation: {JUSTIFICATION}] {SUICIDE}",
            "niveau_tolerance": "", "mode_liberation": "", "pii_link": "", "reason": "création",
            "consent_status": "refuse", "consent_scope": "", "consent_legal_basis": "lrsss_74_76_verdict_ncr",
            "consent_justification": NCR["justification"], "verdict_kind": "non_responsabilite_criminelle",
            "verdict_date": "2024-12-01", "verdict_reference": "500-01-000001-247"}
    r = api.post("/fiches", data=form, headers=sw[0], follow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    fid = api.get(f"/v1/persons/{person}/frame", headers=sw[0]).json()["frame_id"]
    content = api.get(f"/v1/frames/{fid}", headers=sw[0]).json()["content"]
    assert [(x["text"], x["suicide_related"], bool(x["disclosure"])) for x in content["risques"]] == [
        ("Crises l'hiver", True, False), (SUICIDE, True, True)]
    assert content["risques"][1]["disclosure"]["recorded_by"] == SW_A
    assert content["verdict"]["reference"] == "500-01-000001-247"
    page = api.get(f"/personnes/{person}", headers=sw[1]).text
    assert "lié au suicide (détecté dans le texte)" in page  # the sister's contact: found in its words
    assert f"consigné par {SW_A}" in page and "verdict de non-responsabilité criminelle" in page
    prefill = api.get("/fiches/nouvelle", params={"person_key": person}, headers=sw[0]).text
    assert f"[divulgation: {JUSTIFICATION}] {SUICIDE}" in prefill.replace("&#39;", "'")
    assert "actuel : <strong>refusé" in prefill and "loi de 2024" in prefill  # the consent: read-only
    assert 'name="consent_legal_basis"' not in prefill
    bad = api.post("/fiches", data={**form, "risques": "[divulgation: court] Idées suicidaires"}, headers=sw[0])
    assert bad.status_code == 422 and "risques.0.disclosure.justification" in bad.text


def enqueued_currents(runtime, person: str) -> list:
    """The police views this service put in its outbox for `person` (committed with the command that made them)."""
    from sqlalchemy import select

    from dyade.db import unit_of_work
    from services.infosocial.adapters.models import OutboxRecord
    with unit_of_work(runtime.factory) as s:
        rows = s.scalars(select(OutboxRecord).where(OutboxRecord.topic == FRAMES_CURRENT.name,
                                                    OutboxRecord.key == person).order_by(OutboxRecord.id)).all()
        return [decode(r.value, expect=FrameCurrent).payload for r in rows if r.value is not None]


def without_consent(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "consent"}


def test_a_version_does_not_bring_back_a_withdrawn_consent(api, sw, person, token, runtime, reader):
    fid = create_active(api, sw, person)  # consent obtenu
    officer = token("officer", subject="agent-retrait")
    assert api.post(f"/v1/frames/{fid}/consent", json={"status": "refuse", "note": "retrait"},
                    headers=sw[1]).status_code == 200
    # A's edit, written from a form prefilled before the withdrawal, still says « obtenu »
    stale = frame_body(person, reason="maj", mode_liberation="Accompagnement à l'urgence")
    for r in (api.put(f"/v1/frames/{fid}", json=stale, headers=sw[0]),
              api.post("/v1/frames", json=stale, headers=sw[0])):
        assert r.status_code == 409, r.text
        assert "formulaire de consentement" in r.json()["detail"] and "actuel : refusé" in r.json()["detail"]
    assert api.post(f"/v1/frames/{fid}/approve", headers=sw[1]).status_code == 409  # no version was written
    assert [(p.consent, p.police_view.particularites) for p in enqueued_currents(runtime, person)] == [
        ("obtenu", HEALTH + " suivi au CISSS"), ("refuse", None)]
    view = api.get(f"/v1/persons/{person}/frame", headers=officer).json()
    assert view["consent_status"] == "refuse" and HEALTH not in repr(view)

    # The same edit without consent (or with the current one) is a version; the frame keeps « refusé ».
    r = api.put(f"/v1/frames/{fid}", json=without_consent(stale), headers=sw[0])
    assert r.status_code == 201 and r.json()["version"] == 2, r.text
    r = api.put(f"/v1/frames/{fid}", json={**stale, "consent": {"status": "refuse"}}, headers=sw[0])
    assert r.status_code == 201 and r.json()["version"] == 3, r.text
    assert api.get(f"/v1/frames/{fid}", headers=sw[0]).json()["consent"]["status"] == "refuse"
    assert api.post(f"/v1/frames/{fid}/approve", headers=sw[1]).json()["version"] == 3
    last = enqueued_currents(runtime, person)[-1]
    assert (last.version, last.consent, last.police_view.particularites) == (3, "refuse", None)
    assert last.police_view.legal_basis == "aucune"
    view = api.get(f"/v1/persons/{person}/frame", headers=officer).json()
    assert view["version"] == 3 and HEALTH not in repr(view)
    history = api.get(f"/v1/persons/{person}/export", headers=sw[0]).json()["frames"][0]["consents"]
    assert [c["status"] for c in history] == ["obtenu", "refuse"]


def test_the_new_version_form_shows_the_consent_read_only_and_a_stale_one_is_refused(api, sw, person, runtime):
    fid = create_active(api, sw, person)
    assert api.post(f"/v1/frames/{fid}/consent", json={"status": "refuse", "note": "retrait"},
                    headers=sw[1]).status_code == 200
    prefill = api.get("/fiches/nouvelle", params={"person_key": person}, headers=sw[0])
    assert prefill.status_code == 200
    assert 'name="consent_status"' not in prefill.text and 'name="consent_scope"' not in prefill.text
    assert "actuel : <strong>refusé" in prefill.text and f'href="/personnes/{person}#consentement"' in prefill.text

    # a form kept open from before the withdrawal (the consent fields of then)
    form = {"person_key": person, "particularites": HEALTH, "interventions_a_privilegier": "[police] Parler calmement",
            "reason": "maj", "consent_status": "obtenu", "consent_scope": "CISSS"}
    r = api.post("/fiches", data=form, headers=sw[0], follow_redirects=False)
    assert r.status_code == 409 and '<p class="err" role="alert">' in r.text
    assert "formulaire de consentement" in r.text and "Traceback" not in r.text
    assert 'name="consent_status"' not in r.text and "actuel : <strong>refusé" in r.text  # sent again: kept
    assert [p.consent for p in enqueued_currents(runtime, person)] == ["obtenu", "refuse"]
    kept = {k: v for k, v in form.items() if not k.startswith("consent_")}
    r = api.post("/fiches", data=kept, headers=sw[0], follow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    frame = api.get(f"/v1/frames/{fid}", headers=sw[1]).json()
    assert frame["consent"]["status"] == "refuse" and frame["pending_versions"] == [2]


def test_the_new_version_form_is_an_audited_read(api, sw, person, token):
    fid = create_active(api, sw, person)
    admin = token("admin", subject="adm")
    before = api.get("/v1/audit/reads", params={"frame_id": fid}, headers=admin).json()
    prefill = api.get("/fiches/nouvelle", params={"person_key": person}, headers=sw[1])
    assert prefill.status_code == 200 and HEALTH in prefill.text
    after = api.get("/v1/audit/reads", params={"frame_id": fid}, headers=admin).json()
    assert len(after) == len(before) + 1
    row = after[0]  # the latest first
    assert (row["reader"], row["role"], row["view"], row["purpose"], row["person_key"], row["version"]) == (
        SW_B, "social_worker", "complete", "page", person, 1)
