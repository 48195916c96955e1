"""Escalation on an injected clock, actions from the app (acknowledge, decline, close, snooze),
follow-up reminders, the frame's police view (audited, stale flag, tombstone), and clear 4xx."""
from datetime import timedelta, timezone

from sqlalchemy import func, select

from dyade.kafka import wait_until
from services.notifier.adapters.models import AlertRow, FrameReadRow, FrameRow
from services.notifier.tests.conftest import ALWAYS, DAY, alert_for, alert_row, alerted, decision, frame, put_dyad, send


def three_dyads(http, supervisor, u):
    for d in ("A", "B"):
        put_dyad(http, supervisor, f"{d}{u}", f"X{u}")
    put_dyad(http, supervisor, f"C{u}", f"Y{u}")
    http.put(f"/v1/sectors/X{u}", json={"neighbours": [f"Y{u}"]}, headers=supervisor)


def test_unacknowledged_alert_escalates_to_next_dyads_then_supervisor_then_expires(
        notifier, http, supervisor, producer, clock, unique, alert_events):
    three_dyads(http, supervisor, unique)
    clock.set(DAY)
    alert = alerted(notifier, producer, f"e1-{unique}", sector=f"X{unique}", at=DAY)
    assert alert.dyad_id == f"A{unique}"
    notifier.tick(DAY + timedelta(minutes=2, seconds=59))
    assert alert_row(notifier, alert.alert_id).dyad_id == f"A{unique}"
    notifier.tick(DAY + timedelta(minutes=3))
    assert alert_row(notifier, alert.alert_id).dyad_id == f"B{unique}"   # same sector first
    notifier.tick(DAY + timedelta(minutes=6))
    assert alert_row(notifier, alert.alert_id).dyad_id == f"C{unique}"   # then the neighbour
    notifier.tick(DAY + timedelta(minutes=9))
    row = alert_row(notifier, alert.alert_id)
    assert (row.dyad_id, row.target, row.state) == (None, "superviseur", "escalated")
    notifier.tick(DAY + timedelta(minutes=18, seconds=59))
    assert alert_row(notifier, alert.alert_id).state == "escalated"
    notifier.tick(DAY + timedelta(minutes=19))
    assert alert_row(notifier, alert.alert_id).state == "expired"
    states = alert_events.wait_for(alert.alert_id, "expired")
    assert states == ["created", "escalated", "escalated", "escalated", "expired"]


def test_acknowledged_alert_does_not_escalate_and_makes_the_dyad_busy(
        notifier, http, supervisor, producer, clock, unique, token, alert_events):
    three_dyads(http, supervisor, unique)
    clock.set(DAY)
    alert = alerted(notifier, producer, f"k1-{unique}", sector=f"X{unique}", at=DAY)
    me = token("dyad", subject="agent-a", dyad_id=f"A{unique}", sector=f"X{unique}")
    other = token("dyad", subject="agent-b", dyad_id=f"B{unique}", sector=f"X{unique}")
    assert http.post(f"/v1/alerts/{alert.alert_id}/acknowledge", headers=other).status_code == 403
    r = http.post(f"/v1/alerts/{alert.alert_id}/acknowledge", headers=me)
    assert r.status_code == 200 and r.json()["state"] == "acknowledged"
    notifier.tick(DAY + timedelta(hours=1))
    assert alert_row(notifier, alert.alert_id).state == "acknowledged"
    send(producer, decision(f"k2-{unique}", sector=f"X{unique}", at=DAY))
    assert alert_for(notifier, f"k2-{unique}").dyad_id == f"B{unique}"   # A is on the call now
    r = http.post(f"/v1/alerts/{alert.alert_id}/close", json={"disposition": "pas_une_disposition"}, headers=me)
    assert r.status_code == 422 and "disposition" in r.json()["detail"]
    r = http.post(f"/v1/alerts/{alert.alert_id}/close", json={"disposition": "refere", "note": "CLSC"}, headers=me)
    assert r.status_code == 200 and r.json()["state"] == "closed"
    r = http.post(f"/v1/alerts/{alert.alert_id}/acknowledge", headers=me)
    assert r.status_code == 409 and "fermée" in r.json()["detail"]
    assert alert_events.wait_for(alert.alert_id, "closed") == ["created", "acknowledged", "closed"]


def test_decline_hands_the_alert_on_at_once(notifier, http, supervisor, producer, clock, unique, token):
    three_dyads(http, supervisor, unique)
    clock.set(DAY)
    alert = alerted(notifier, producer, f"x1-{unique}", sector=f"X{unique}", at=DAY)
    me = token("dyad", dyad_id=f"A{unique}", sector=f"X{unique}")
    assert http.post(f"/v1/alerts/{alert.alert_id}/decline", json={"reason": ""}, headers=me).status_code == 422
    r = http.post(f"/v1/alerts/{alert.alert_id}/decline", json={"reason": "déjà sur un appel"}, headers=me)
    assert r.status_code == 200
    assert (r.json()["state"], r.json()["dyad_id"]) == ("escalated", f"B{unique}")


def test_snoozed_alert_absorbs_mild_calls_then_pages_again_at_the_end(notifier, http, supervisor, producer, clock,
                                                                      unique, token, alert_events):
    put_dyad(http, supervisor, f"A{unique}", f"X{unique}")
    clock.set(DAY)
    person = f"p_{unique}"
    alert = alerted(notifier, producer, f"s1-{unique}", sector=f"X{unique}", at=DAY, persons=[person])
    me = token("dyad", dyad_id=f"A{unique}", sector=f"X{unique}")
    r = http.post(f"/v1/alerts/{alert.alert_id}/snooze", json={"reason": "déjà vue ce soir, suivi demain",
                                                              "minutes": 60}, headers=me)
    assert r.status_code == 200 and r.json()["state"] == "snoozed"
    later = DAY + timedelta(minutes=20)
    clock.set(later)
    merged = alerted(notifier, producer, f"s2-{unique}", sector=f"X{unique}", at=later, persons=[person])
    assert (merged.alert_id, merged.state) == (alert.alert_id, "snoozed")   # mild: no page during the snooze
    notifier.tick(DAY + timedelta(minutes=59))
    assert alert_row(notifier, alert.alert_id).state == "snoozed"
    notifier.tick(DAY + timedelta(minutes=60))
    row = alert_row(notifier, alert.alert_id)
    assert (row.state, row.dyad_id) == ("escalated", f"A{unique}")   # a call came meanwhile: it is not swallowed
    assert alert_events.wait_for(alert.alert_id, "escalated") == ["created", "snoozed", "escalated"]


def test_snooze_without_new_calls_expires(notifier, http, supervisor, producer, clock, unique, token):
    put_dyad(http, supervisor, f"A{unique}", f"X{unique}")
    clock.set(DAY)
    alert = alerted(notifier, producer, f"se-{unique}", sector=f"X{unique}", at=DAY, persons=[f"p_e{unique}"])
    me = token("dyad", dyad_id=f"A{unique}", sector=f"X{unique}")
    assert http.post(f"/v1/alerts/{alert.alert_id}/snooze", json={"reason": "déjà vue ce soir", "minutes": 30},
                     headers=me).status_code == 200
    notifier.tick(DAY + timedelta(minutes=30))
    assert alert_row(notifier, alert.alert_id).state == "expired"


def test_followup_plan_reminders(notifier, http, supervisor, clock, unique, token):
    put_dyad(http, supervisor, f"A{unique}", f"X{unique}")
    person = f"p_f{unique}"
    sw = token("social_worker")
    r = http.put(f"/v1/persons/{person}/followup-plan", headers=sw,
                 json={"dyad_id": f"A{unique}", "every_minutes": 240, "first_due_at": DAY.isoformat(),
                       "note": "Passer voir, vérifier la médication remise"})
    assert r.status_code == 200, r.text
    assert http.put(f"/v1/persons/{person}/followup-plan", headers=sw,
                    json={"dyad_id": f"A{unique}", "every_minutes": 5}).status_code == 422

    def reminders():
        with notifier.sessions() as s:
            from services.notifier.adapters.models import AlertRow
            return list(s.scalars(select(AlertRow).where(AlertRow.plan_person_key == person)
                                  .order_by(AlertRow.created_at)))
    notifier.tick(DAY - timedelta(minutes=1))
    assert reminders() == []
    notifier.tick(DAY)
    [first] = reminders()
    assert (first.kind, first.dyad_id, first.state) == ("suivi", f"A{unique}", "created")
    notifier.tick(DAY + timedelta(hours=1))
    assert len(reminders()) == 1
    clock.set(DAY + timedelta(hours=1))
    me = token("dyad", dyad_id=f"A{unique}", sector=f"X{unique}")
    today = http.get("/v1/followups/today", headers=me).json()
    assert [a["alert_id"] for a in today["alerts"]] == [first.alert_id]
    assert today["plans"] == []   # one entry per follow-up: the open reminder stands for the plan
    assert http.post(f"/v1/alerts/{first.alert_id}/close", json={"disposition": "regle_sur_place"},
                     headers=me).status_code == 200
    notifier.tick(DAY + timedelta(hours=4))
    assert len(reminders()) == 2
    notifier.tick(DAY + timedelta(hours=8))   # 18h: the next one is due, the open one is replaced
    assert [r.state for r in reminders()] == ["closed", "expired", "created"]
    notifier.tick(DAY + timedelta(hours=12, minutes=1))   # 22h01: due again, but the dyad is off duty
    assert len(reminders()) == 3


def test_a_plan_saved_again_with_the_same_start_reminds_once_and_stops_no_plan(notifier, http, supervisor, clock,
                                                                              unique, token):
    """An idempotent PUT retried, a form saved twice: the due time already reminded is skipped, not reminded
    again under the same alert id (which failed every tick, for every plan)."""
    put_dyad(http, supervisor, f"A{unique}", f"X{unique}", shifts=ALWAYS)
    sw = token("social_worker")
    first, second = f"p_s{unique}", f"p_t{unique}"

    def put(person, due, at):
        clock.set(at)
        r = http.put(f"/v1/persons/{person}/followup-plan", headers=sw,
                     json={"dyad_id": f"A{unique}", "every_minutes": 60, "first_due_at": due.isoformat()})
        assert r.status_code == 200, r.text

    def reminders(person):
        with notifier.sessions() as s:
            return [(r.state, r.due_at) for r in s.scalars(select(AlertRow).where(AlertRow.plan_person_key == person)
                                                           .order_by(AlertRow.created_at))]
    put(first, DAY, DAY - timedelta(minutes=5))
    assert notifier.tick(DAY + timedelta(minutes=1))["reminders"] >= 1
    put(first, DAY, DAY + timedelta(minutes=2))          # the same PUT again
    put(second, DAY + timedelta(minutes=2), DAY + timedelta(minutes=2))
    for minutes in (3, 10, 70):
        notifier.tick(DAY + timedelta(minutes=minutes))
    hour = DAY + timedelta(hours=1)
    assert reminders(first) == [("expired", DAY), ("created", hour)]
    assert reminders(second) == [("expired", DAY + timedelta(minutes=2)), ("created", hour + timedelta(minutes=2))]


def test_a_plan_that_fails_is_left_alone_and_the_other_plans_are_reminded(sessions):
    """Every plan in its own savepoint: one that cannot make its reminder (here its alert id is taken) fails
    alone, on PostgreSQL too, where an error aborts the whole transaction."""
    from dyade.db import unit_of_work
    from services.notifier.adapters import followups
    from services.notifier.adapters.models import DyadRow, PlanRow
    at = DAY.astimezone(timezone.utc)
    with unit_of_work(sessions) as s:
        s.add(DyadRow(dyad_id="D1", name="D1", sector="S1", members=[], shifts=ALWAYS, active=True, updated_at=at))
        for person in ("p_bad", "p_good"):
            followups.upsert_plan(s, person_key=person, dyad_id="D1", every_minutes=60, first_due_at=at,
                                  active=True, note=None, now=at)
        s.flush()
        taken = followups.reminder_id(s.get(PlanRow, "p_bad"))
        s.add(AlertRow(alert_id=taken, kind="appel", state="closed", call_ids=[], person_keys=[], reasons=[],
                       tried=[], created_at=at, assigned_at=at, updated_at=at))
    with unit_of_work(sessions) as s:
        assert followups.remind_due(s, now=at + timedelta(minutes=1)) == 1
    with sessions() as s:
        assert [a.plan_person_key for a in s.scalars(select(AlertRow).where(AlertRow.kind == "suivi"))] == ["p_good"]
        assert s.get(PlanRow, "p_bad").next_due_at == at   # left as it was: tried again at the next tick
        assert s.get(PlanRow, "p_good").next_due_at == at + timedelta(hours=1)


def test_alert_detail_carries_the_police_view_audited_and_stale_flag(
        notifier, http, supervisor, producer, clock, unique, token):
    put_dyad(http, supervisor, f"A{unique}", f"X{unique}", shifts=ALWAYS)
    person = f"p_v{unique}"
    send(producer, frame(person, stale=True))
    wait_until(lambda: _frame(notifier, person), timeout=60)
    alert = alerted(notifier, producer, f"v1-{unique}", sector=f"X{unique}", at=clock(), persons=[person])
    me = token("dyad", subject="agent-v", dyad_id=f"A{unique}", sector=f"X{unique}")
    listed = http.get("/v1/alerts", headers=me).json()["alerts"]
    [mine] = [a for a in listed if a["alert_id"] == alert.alert_id]
    assert mine["has_frame"] and mine["frame_stale"] and mine["level_label"] == "Dyade suggérée"
    detail = http.get(f"/v1/alerts/{alert.alert_id}", headers=me).json()
    view = detail["frames"][0]
    assert view["stale"] and view["police_view"]["interventions_a_eviter"] == ["Uniformes multiples à la porte"]
    assert view["police_view"]["contacts"][0]["phone"] == "450-555-0101"
    assert detail["reasons"][0]["label"] == "Appels répétés en 30 jours"
    with notifier.sessions() as s:
        reads = s.scalar(select(func.count()).select_from(FrameReadRow).where(
            FrameReadRow.person_key == person, FrameReadRow.subject == "agent-v"))
    assert reads == 1
    producer.send("frames.current.v1", key=person.encode(), value=None)   # archived: tombstone
    producer.flush()
    wait_until(lambda: not _frame(notifier, person), timeout=60)
    assert http.get(f"/v1/alerts/{alert.alert_id}", headers=me).json()["frames"] == []


def _frame(notifier, person):
    with notifier.sessions() as s:
        return s.get(FrameRow, person)


def test_clear_errors(http, supervisor, token, unique):
    r = http.put(f"/v1/dyads/A{unique}", json={"name": "x", "sector": "S 1", "shifts": [
        {"days": [7], "start": "25:00", "end": "20:00"}]}, headers=supervisor)
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"sector", "shifts.0.days", "shifts.0.start"} <= fields
    assert http.put(f"/v1/dyads/A{unique}", json={"name": "x", "sector": "S1"}, headers=token("dyad", dyad_id="D1")
                    ).status_code == 403
    r = http.put("/v1/sectors/S1", json={"neighbours": ["S2", "pas un secteur"]}, headers=supervisor)
    assert r.status_code == 422 and "neighbours.1" in r.json()["detail"]
    r = http.put("/v1/sectors/S%201", json={"neighbours": ["S2"]}, headers=supervisor)
    assert r.status_code == 422 and r.json()["detail"].startswith("sector:")
    assert http.get("/v1/alerts").status_code == 401
    assert http.get("/v1/alerts", headers=token("dyad")).status_code == 403   # no dyad claim
    assert http.get("/v1/alerts/al_inexistante", headers=supervisor).status_code == 404


def test_admin_runs_the_roster_but_sees_no_alert_nor_person(http, token, unique):
    admin = token("admin", subject="adm")
    put_dyad(http, admin, f"M{unique}", f"M{unique}", active=False)   # the roster is the administrator's
    assert f"M{unique}" in {d["dyad_id"] for d in http.get("/v1/dyads", headers=admin).json()["dyads"]}
    r = http.put(f"/v1/sectors/M{unique}", json={"neighbours": [f"N{unique}"]}, headers=admin)
    assert r.status_code == 200, r.text
    for method, path, body in [("get", "/v1/alerts", None), ("get", "/v1/alerts/al_x", None),
                               ("post", "/v1/alerts/al_x/acknowledge", None), ("get", "/v1/followups/today", None),
                               ("get", "/v1/stream", None),
                               ("put", "/v1/persons/p_abcd1234/followup-plan", {"dyad_id": f"M{unique}"})]:
        r = http.request(method.upper(), path, headers=admin, json=body)
        assert r.status_code == 403 and "admin" in r.json()["detail"], (path, r.status_code)
    page = http.post("/connexion", data={"token": admin["Authorization"][7:]})
    assert page.status_code == 403


def test_frame_marked_stale_by_frames_changed_is_flagged_on_the_alert(notifier, http, supervisor, producer,
                                                                       clock, unique, token):
    from datetime import datetime, timezone

    from dyade.contracts.frames import FrameChanged, FrameChangePayload
    put_dyad(http, supervisor, f"A{unique}", f"X{unique}", shifts=ALWAYS)
    person = f"p_s{unique}"
    send(producer, frame(person, stale=False))
    wait_until(lambda: _frame(notifier, person), timeout=60)
    alert = alerted(notifier, producer, f"st-{unique}", sector=f"X{unique}", at=clock(), persons=[person])
    me = token("dyad", dyad_id=f"A{unique}", sector=f"X{unique}")
    assert http.get(f"/v1/alerts/{alert.alert_id}", headers=me).json()["frame_stale"] is False
    change = FrameChanged.new(payload=FrameChangePayload(frame_id=f"f_{person}", person_key=person, change="stale",
                                                         version=1), occurred_at=datetime.now(timezone.utc),
                              source="infosocial", correlation_id=person)
    send(producer, change)
    wait_until(lambda: _frame(notifier, person).stale, timeout=60)
    detail = http.get(f"/v1/alerts/{alert.alert_id}", headers=me).json()
    assert detail["frame_stale"] is True and detail["frames"][0]["stale"] is True


def test_a_frame_arriving_after_its_alert_is_announced_and_shown(notifier, http, supervisor, producer, clock,
                                                                  unique, token):
    """The frame travels on its own topic: the alert may be made first. Until it is here the detail says it is
    coming (triage saw it), not that there is none; its arrival is an update on the alert's live stream."""
    from services.notifier.adapters.models import AlertEventRow
    put_dyad(http, supervisor, f"A{unique}", f"X{unique}", shifts=ALWAYS)
    person = f"p_late{unique}"
    alert = alerted(notifier, producer, f"late-{unique}", sector=f"X{unique}", at=clock(), persons=[person],
                    reasons=[("fiche.active", "Fiche Info-social active", "fiche version 1")])
    me = token("dyad", subject="agent-l", dyad_id=f"A{unique}", sector=f"X{unique}")
    [coming] = http.get(f"/v1/alerts/{alert.alert_id}", headers=me).json()["frames"]
    assert coming["coming"] and "en cours de réception" in coming["note"] and coming["view"] is None
    english = http.get(f"/v1/alerts/{alert.alert_id}", headers={**me, "Accept-Language": "en"}).json()["frames"]
    assert "on its way" in english[0]["note"]

    def updates():
        with notifier.sessions() as s:
            return [e.reason for e in s.scalars(select(AlertEventRow).where(
                AlertEventRow.alert_id == alert.alert_id, AlertEventRow.outbound.is_(False)))]
    send(producer, frame(person))
    wait_until(lambda: "fiche Info-social reçue" in updates(), timeout=60)
    [view] = http.get(f"/v1/alerts/{alert.alert_id}", headers=me).json()["frames"]
    assert view["police_view"]["interventions_a_privilegier"] == ["Parler calmement, proposer un café"]
    send(producer, frame(person))   # the same version again: nothing new to announce
    send(producer, frame(person, version=2))
    wait_until(lambda: "fiche Info-social mise à jour (version 2)" in updates(), timeout=60)
    assert updates().count("fiche Info-social reçue") == 1 and len(updates()) == 2


def test_an_alert_whose_triage_saw_no_frame_says_there_is_none(notifier, http, supervisor, producer, clock,
                                                                 unique, token):
    put_dyad(http, supervisor, f"A{unique}", f"X{unique}", shifts=ALWAYS)
    alert = alerted(notifier, producer, f"none-{unique}", sector=f"X{unique}", at=clock(), persons=[f"p_n{unique}"])
    me = token("dyad", dyad_id=f"A{unique}", sector=f"X{unique}")
    assert http.get(f"/v1/alerts/{alert.alert_id}", headers=me).json()["frames"] == []


def test_a_reminder_taken_but_not_closed_is_closed_when_the_next_one_comes(notifier, http, supervisor, clock,
                                                                             unique, token):
    """Acknowledged cannot expire: the next reminder closes it (it was taken) and the plan goes on."""
    from services.notifier.adapters.models import AlertEventRow, AlertRow
    put_dyad(http, supervisor, f"A{unique}", f"X{unique}")
    person = f"p_t{unique}"
    assert http.put(f"/v1/persons/{person}/followup-plan", headers=token("social_worker"), json={
        "dyad_id": f"A{unique}", "every_minutes": 240, "first_due_at": DAY.isoformat()}).status_code == 200
    notifier.tick(DAY)

    def reminders():
        with notifier.sessions() as s:
            return list(s.scalars(select(AlertRow).where(AlertRow.plan_person_key == person)
                                  .order_by(AlertRow.created_at)))
    [first] = reminders()
    clock.set(DAY + timedelta(minutes=5))
    me = token("dyad", dyad_id=f"A{unique}", sector=f"X{unique}")
    assert http.post(f"/v1/alerts/{first.alert_id}/acknowledge", headers=me).status_code == 200
    notifier.tick(DAY + timedelta(hours=4))
    assert [r.state for r in reminders()] == ["closed", "created"]
    with notifier.sessions() as s:
        assert s.scalars(select(AlertEventRow.reason).where(AlertEventRow.alert_id == first.alert_id)
                         .order_by(AlertEventRow.id.desc())).first() == "remplacé par le suivi suivant"
