"""The worker on the real broker: decisions, read API, late updates, frames, referrals, suggestions, DLQ."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from dyade.contracts.frames import FrameCurrent, FrameCurrentPayload, PoliceView
from dyade.contracts.referrals import ReferralFiled, ReferralPayload
from dyade.contracts.topics import CALLS_RECEIVED, REFERRALS_SUGGESTED, TRIAGE_DECIDED, TRIAGE_OVERRIDDEN
from dyade.contracts.triage import OverridePayload, RecurrenceOverridden, TriageDecided
from dyade.kafka import publish, wait_until
from tests.kit import TopicReader, keyed
from services.triage.tests.harness import call_event, update_event

NOW = datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture
def decisions(reader):
    return reader(TRIAGE_DECIDED)


def decided(reader: TopicReader, call_ids: set[str], timeout: float = 180) -> dict[str, TriageDecided]:
    def got(events):
        found = {e.payload.call_id: e for e in events if isinstance(e, TriageDecided) and e.payload.call_id in call_ids}
        return found if set(found) == call_ids else None
    return reader.wait(got, timeout)


def api(worker, path, headers):
    return httpx.get(worker.url + path, headers=headers, timeout=10)


def test_worker_started_and_reports_ready(triage_worker):
    r = httpx.get(triage_worker.url + "/readyz", timeout=5)
    assert r.status_code == 200 and r.json()["checks"]["worker"] == "ok", r.text
    [consumer] = r.json()["consumers"]
    # "degraded" when the worker, replaying the session's topics from the start, dead-letters the poison
    # records other tests left there: still ready
    assert consumer["state"] in ("running", "degraded"), consumer
    # the lag is probed every 5 s once the worker runs
    def probed():
        c = httpx.get(triage_worker.url + "/readyz", timeout=5).json()["consumers"][0]
        return c if isinstance(c["lag"], int) else None
    wait_until(probed, timeout=20)
    metrics = httpx.get(triage_worker.url + "/metrics", timeout=5).text
    assert "dyade_triage_ready" in metrics and "dyade_consumer_lag{" in metrics
    assert httpx.get(triage_worker.url + "/openapi.json", timeout=5).json()["paths"]["/v1/calls/{call_id}/decision"]
    print(f"triage worker ready in {triage_worker.start_seconds:.1f} s")


def test_a_persons_calls_are_decided_and_explained(triage_worker, producer, decisions, token, unique):
    person = f"p_{unique}"
    first, second = f"{unique}-a", f"{unique}-b"
    publish(producer, call_event(first, NOW - timedelta(days=3), person=person, flags=("idees_suicidaires",)))
    producer.flush()
    decided(decisions, {first})
    publish(producer, call_event(second, NOW - timedelta(days=1), person=person, location=f"l_{unique}"))
    producer.flush()
    out = decided(decisions, {first, second})
    a, b = out[first].payload, out[second].payload
    assert a.level == "dyade_suggeree" and a.danger.level == "previsible"
    assert b.recurrence.person_calls["30j"] == 2 and "recurrence" in b.criteria_met
    assert out[second].occurred_at == NOW - timedelta(days=1) and out[second].source == "triage"

    r = api(triage_worker, f"/v1/calls/{second}/decision", token("dispatch"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["decision_id"] == b.decision_id
    assert body["explication"]["niveau"] == "Dyade suggérée" and "Récurrence" in body["explication"]["criteres"]
    r = api(triage_worker, f"/v1/persons/{person}/triage", token("dyad", dyad_id="D1", sector="S1"))
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["recurrence"]["appels_par_fenetre"]["7j"] == 2 and view["genre"] == "personne"
    assert [c["call_id"] for c in view["appels_recents"]] == [second, first]
    assert view["dernieres_decisions"][0]["call_id"] == second


def test_every_decision_says_where_to_go_and_the_cad_nature(triage_worker, producer, decisions, token, unique):
    """Both stages (a call about nobody is decided at its place, one about a person at the person)."""
    nobody, someone = f"{unique}-nobody", f"{unique}-someone"
    where = dict(address="1200 bloc rue Saint-Louis, Terrebonne", lat=45.7004, lon=-73.6471)
    publish(producer, call_event(nobody, NOW - timedelta(hours=2), location=f"l_{unique}", nature_code="10-17",
                                 category="desordre_public", **where))
    publish(producer, call_event(someone, NOW - timedelta(hours=1), person=f"p_{unique}", location=f"l_{unique}",
                                 nature_code="EMP", **where))
    publish(producer, call_event(f"{unique}-bare", NOW, location=f"l_{unique}b"))  # no address: fields empty
    producer.flush()
    out = decided(decisions, {nobody, someone, f"{unique}-bare"})
    for call_id, nature in ((nobody, "10-17"), (someone, "EMP")):
        d = out[call_id].payload
        assert (d.address, d.lat, d.lon, d.nature_code) == (where["address"], where["lat"], where["lon"], nature)
    bare = out[f"{unique}-bare"].payload
    assert (bare.address, bare.lat, bare.lon, bare.nature_code) == (None, None, None, "TEST")
    assert out[someone].payload.person_keys == (f"p_{unique}",) and out[nobody].payload.person_keys == ()
    body = api(triage_worker, f"/v1/calls/{someone}/decision", token("dispatch")).json()
    assert body["address"] == where["address"] and body["nature_code"] == "EMP"


def test_read_api_refuses_without_token_wrong_role_and_unknown_ids(triage_worker, token, unique):
    assert api(triage_worker, f"/v1/calls/{unique}/decision", {}).status_code == 401
    r = api(triage_worker, f"/v1/calls/{unique}/decision", token("analyst"))
    assert r.status_code == 403 and "analyst" in r.json()["detail"]
    r = api(triage_worker, f"/v1/calls/{unique}/decision", token("officer"))
    assert r.status_code == 404 and "inconnu" in r.json()["detail"]
    assert api(triage_worker, f"/v1/persons/p_{unique}/triage", token("social_worker")).status_code == 404


def test_an_update_before_its_call_is_applied_and_marks_a_high_risk_intervention(
        triage_worker, producer, decisions, token, unique):
    person = f"p_{unique}"
    early, later = f"{unique}-early", f"{unique}-later"
    publish(producer, update_event(early, NOW - timedelta(days=9, hours=23), disposition="transport_p38", dyad="D7"))
    producer.flush()
    publish(producer, call_event(early, NOW - timedelta(days=10), person=person))
    producer.flush()
    decided(decisions, {early})
    wait_until(lambda: api(triage_worker, f"/v1/persons/{person}/triage", token("officer")).json()
               ["appels_recents"][0]["issue"] == "Transport P-38 (non volontaire)", timeout=120)
    publish(producer, call_event(later, NOW - timedelta(days=2), person=person))
    producer.flush()
    d = decided(decisions, {later})[later].payload
    assert "danger.haut_risque_anterieur" in {r.factor for r in d.reasons}
    view = api(triage_worker, f"/v1/persons/{person}/triage", token("officer")).json()
    assert view["dernier_contact_dyade"] is not None


def frame(person: str, at: datetime, risks=("fugue",)) -> FrameCurrent:
    return FrameCurrent.new(payload=FrameCurrentPayload(
        person_key=person, frame_id=f"f-{person}", version=3, stale=False, review_due=(at + timedelta(days=365)).date(),
        consent="obtenu", police_view=PoliceView(risques=risks)), occurred_at=at, source="infosocial",
        correlation_id=person)


def test_frames_referrals_overrides_and_suggestions(triage_worker, producer, decisions, token, broker, unique):
    framed, newcomer = f"p_{unique}f", f"p_{unique}n"
    publish(producer, frame(framed, NOW - timedelta(days=30)))
    publish(producer, RecurrenceOverridden.new(payload=OverridePayload(
        person_key=framed, recurrent=True, note="connu de l'équipe", author_key="sw1"),
        occurred_at=NOW - timedelta(days=20), source="infosocial", correlation_id=framed))
    producer.flush()
    view = lambda: api(triage_worker, f"/v1/persons/{framed}/triage", token("supervisor"))  # noqa: E731
    wait_until(lambda: view().status_code == 200 and view().json()["derogation"] is not None, timeout=120)
    c_framed, c_new = f"{unique}-framed", f"{unique}-new"
    publish(producer, call_event(c_framed, NOW - timedelta(days=1), person=framed, flags=("idees_suicidaires",)))
    publish(producer, call_event(c_new, NOW - timedelta(days=1), person=newcomer, flags=("idees_suicidaires",)))
    producer.flush()
    out = decided(decisions, {c_framed, c_new})
    f = out[c_framed].payload
    assert f.frame.exists and f.frame.version == 3 and f.recurrence.overridden and "recurrence" in f.criteria_met
    assert {"danger.fiche", "fiche.active", "recurrence.derogation"} <= {r.factor for r in f.reasons}

    suggestions = TopicReader(broker.bootstrap_servers, REFERRALS_SUGGESTED)
    try:
        mine = suggestions.wait(lambda es: [e for e in es if e.payload.person_key in (framed, newcomer)] or None,
                                timeout=180)
        assert [e.payload.person_key for e in mine] == [newcomer]  # the framed person already has a file
        assert mine[0].payload.call_id == c_new and "dangerosite_previsible" in mine[0].payload.criteria
    finally:
        suggestions.close()

    # a referral filed for the newcomer: later calls show it and no new suggestion is made
    publish(producer, ReferralFiled.new(payload=ReferralPayload(
        referral_id=f"r-{unique}", referrer_type="policier", referrer_key="o1", person_key=newcomer,
        criteria=("dangerosite_previsible",)), occurred_at=NOW - timedelta(hours=12), source="intake",
        correlation_id=f"r-{unique}"))
    # the frame archived (tombstone): later calls no longer see it
    producer.send("frames.current.v1", key=framed.encode(), value=None)
    producer.flush()
    wait_until(lambda: not view().json()["fiche"]["active"], timeout=120)
    c_new2 = f"{unique}-new2"
    publish(producer, call_event(c_new2, NOW, person=newcomer, flags=("arme",)))
    producer.flush()
    d = decided(decisions, {c_new2})[c_new2].payload
    assert "reference.ouverte" in {r.factor for r in d.reasons} and d.level == "securite_policiers"
    state = api(triage_worker, f"/v1/persons/{newcomer}/triage", token("social_worker")).json()
    # (info-social, when it runs in the same session, may also have opened a file from triage's suggestion)
    assert f"r-{unique}" in [r["referral_id"] for r in state["references_ouvertes"]]
    assert state["suggestion_de_reference"] is None  # reset when the file was opened, none made since


def test_malformed_events_go_to_the_dead_letter_topic_and_the_worker_goes_on(
        triage_worker, producer, decisions, broker, unique):
    producer.send(CALLS_RECEIVED.name, key=unique.encode(), value=b'{"type": "call.received", "broken')
    wrong = call_event(f"{unique}-wrong", NOW, person=f"p_{unique}")
    producer.send(TRIAGE_OVERRIDDEN.name, key=f"p_{unique}".encode(), value=wrong.to_bytes())
    # a record the worker cannot handle (not bad input: a bug's stand-in) is set aside, the stream goes on
    producer.send(f"{triage_worker.app_id}-events-by-subject", key=f"p_{unique}x".encode(), value=b"not json")
    producer.flush()
    dlq = {}
    for topic in (CALLS_RECEIVED, TRIAGE_OVERRIDDEN):
        dead = TopicReader(broker.bootstrap_servers, topic.dlq_name)
        found = dead.wait_for_records(keyed(unique, f"p_{unique}", f"p_{unique}x"),
                                      2 if topic is CALLS_RECEIVED else 1, timeout=120)
        dead.close()
        dlq[topic] = next(r for r in found if r.key != f"p_{unique}x".encode())
        internal = [r for r in found if r.key == f"p_{unique}x".encode()]
        if topic is CALLS_RECEIVED:
            assert dict(internal[0].headers)["dlq.reason"].startswith(b"erreur interne du triage")
    bad = dict(dlq[CALLS_RECEIVED].headers)
    assert bad["dlq.reason"].startswith(b"JSON invalide") and bad["dlq.service"] == b"triage"
    assert dlq[CALLS_RECEIVED].value == b'{"type": "call.received", "broken'
    assert b"inattendu" in dict(dlq[TRIAGE_OVERRIDDEN].headers)["dlq.reason"]
    ok = f"{unique}-ok"
    publish(producer, call_event(ok, NOW, person=f"p_{unique}"))
    producer.flush()
    assert decided(decisions, {ok})[ok].payload.call_id == ok
