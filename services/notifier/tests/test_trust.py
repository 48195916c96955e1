"""Issue "alerts a dyad can trust", end to end on the real broker and PostgreSQL: a knife call through a
snooze pages anew; merging stays in its sector; every alert says where to go; a suicidal call at night is
not deferred; the supervisor's list filters, sorts, pages and closes in bulk."""
from datetime import timedelta

from services.notifier.tests.conftest import (ALWAYS, DAY, IDEATION, KNIFE, NIGHT, alert_for, alert_row, alerted,
                                              decision, put_dyad, send)

PLACE = dict(address="1200 bloc rue Sainte-Catherine E", lat=45.5017, lon=-73.5673, nature_code="10-17")


def test_knife_call_about_a_snoozed_person_pages_anew_with_its_own_time_and_place(
        notifier, http, supervisor, producer, clock, unique, token, alert_events):
    put_dyad(http, supervisor, f"A{unique}", f"X{unique}")
    put_dyad(http, supervisor, f"B{unique}", f"X{unique}")
    clock.set(DAY)
    person = f"p_k{unique}"
    first = alerted(notifier, producer, f"k1-{unique}", sector=f"X{unique}", at=DAY, persons=[person])
    me = token("dyad", dyad_id=f"A{unique}", sector=f"X{unique}")
    assert http.post(f"/v1/alerts/{first.alert_id}/snooze", json={"reason": "connue, déjà vue ce soir",
                                                                  "minutes": 240}, headers=me).status_code == 200
    later = DAY + timedelta(minutes=40)
    clock.set(later)
    send(producer, decision(f"k2-{unique}", sector=f"X{unique}", at=later, persons=[person],
                            level="securite_policiers", reasons=KNIFE, danger="imminent", **PLACE))
    row = alert_for(notifier, f"k2-{unique}")
    assert row.alert_id == first.alert_id   # the same person's alert, re-paged at the same dyad
    assert (row.state, row.dyad_id, row.level, row.snoozed_until) == ("escalated", f"A{unique}",
                                                                       "securite_policiers", None)
    assert alert_events.wait_for(first.alert_id, "escalated") == ["created", "snoozed", "escalated"]
    detail = http.get(f"/v1/alerts/{first.alert_id}", headers=me).json()
    assert detail["time_local"] == "2026-11-24 10:40" and detail["address"] == PLACE["address"]
    assert detail["geo"] == "geo:45.5017,-73.5673" and detail["nature_code"] == "10-17"
    assert {r["factor"] for r in detail["reasons"]} >= {"danger.arme", "recurrence.30j"}
    assert [(c["call_id"], c["time_local"], c["outcome"]) for c in detail["calls"]] == [
        (f"k2-{unique}", "2026-11-24 10:40", "repaged"), (f"k1-{unique}", "2026-11-24 10:00", "new")]
    assert detail["calls"][0]["where"] == f"{PLACE['address']} · secteur X{unique}"
    assert detail["calls"][1]["where"] == f"Adresse inconnue · secteur X{unique}"
    # unacknowledged, the re-paged alert escalates like any other
    notifier.tick(later + timedelta(minutes=3))
    assert alert_row(notifier, first.alert_id).dyad_id == f"B{unique}"


def test_a_cleared_first_call_does_not_close_the_alert_a_knife_call_repaged(
        notifier, http, supervisor, producer, clock, unique, token):
    from services.notifier.tests.conftest import call_update
    put_dyad(http, supervisor, f"A{unique}", f"X{unique}", shifts=ALWAYS)
    person = f"p_c{unique}"
    first = alerted(notifier, producer, f"c1-{unique}", sector=f"X{unique}", at=clock(), persons=[person])
    send(producer, decision(f"c2-{unique}", sector=f"X{unique}", at=clock(), persons=[person],
                            level="securite_policiers", reasons=KNIFE))
    assert alert_for(notifier, f"c2-{unique}").alert_id == first.alert_id
    send(producer, call_update(f"c1-{unique}", "cleared", at=clock(), disposition="regle_sur_place"))
    send(producer, decision(f"probe-{unique}", sector=f"Z{unique}", at=clock()))   # the topic moved past it
    alert_for(notifier, f"probe-{unique}")
    from dyade.kafka import wait_until
    wait_until(lambda: _history_mentions(http, supervisor, first.alert_id, "d'autres appels restent ouverts"))
    assert alert_row(notifier, first.alert_id).state != "closed"
    send(producer, call_update(f"c2-{unique}", "cleared", at=clock(), disposition="arrestation"))
    wait_until(lambda: alert_row(notifier, first.alert_id).state == "closed")


def _history_mentions(http, headers, alert_id, text):
    return any(text in (e["reason"] or "") for e in http.get(f"/v1/alerts/{alert_id}", headers=headers).json()["history"])


def test_merging_never_crosses_sectors(notifier, http, supervisor, producer, clock, unique, token):
    put_dyad(http, supervisor, f"D1{unique}", f"S1{unique}", shifts=ALWAYS)
    person = f"p_s{unique}"
    nowhere = alerted(notifier, producer, f"e0-{unique}", sector=None, at=clock(), persons=[person])   # EIDO call, no sector
    assert (nowhere.target, nowhere.dyad_id) == ("superviseur", None)
    s1 = alerted(notifier, producer, f"e1-{unique}", sector=f"S1{unique}", at=clock(), persons=[person])
    assert s1.alert_id != nowhere.alert_id and s1.dyad_id == f"D1{unique}"   # D1 sees it
    send(producer, decision(f"e2-{unique}", sector=f"S2{unique}", at=clock(), persons=[person]))
    assert alert_for(notifier, f"e2-{unique}").alert_id not in (s1.alert_id, nowhere.alert_id)
    send(producer, decision(f"e3-{unique}", sector=f"S1{unique}", at=clock(), persons=[person]))
    assert alert_for(notifier, f"e3-{unique}").alert_id == s1.alert_id   # same sector, same dyad: merged
    assert alert_row(notifier, s1.alert_id).call_ids == [f"e1-{unique}", f"e3-{unique}"]


def test_suicidal_call_outside_hours_goes_to_the_on_call_fallback_and_escalates(
        notifier, http, supervisor, producer, clock, unique):
    put_dyad(http, supervisor, f"A{unique}", f"X{unique}")   # 8h–20h: off duty at night
    clock.set(NIGHT)
    row = alerted(notifier, producer, f"n1-{unique}", sector=f"X{unique}", at=NIGHT, reasons=IDEATION)
    assert (row.state, row.target) == ("created", "garde_sociale")
    send(producer, decision(f"n2-{unique}", sector=f"X{unique}", at=NIGHT))   # no suicidal reason: the morning list
    assert alert_for(notifier, f"n2-{unique}").state == "deferred"
    notifier.tick(NIGHT + timedelta(minutes=3))
    row = alert_row(notifier, row.alert_id)
    assert (row.state, row.target) == ("escalated", "superviseur")


def test_a_weapon_call_about_a_person_whose_alert_waits_at_the_supervisor_reaches_the_patrol_supervisor(
        notifier, http, supervisor, producer, clock, unique):
    """At night the person's earlier alert went garde sociale → supervisor; 9 minutes later a weapon call about
    them is the patrol supervisor's own alert — not merged into the other, which expires at its own deadline."""
    put_dyad(http, supervisor, f"A{unique}", f"X{unique}")   # off duty at night
    clock.set(NIGHT)
    person = f"p_w{unique}"
    first = alerted(notifier, producer, f"w1-{unique}", sector=f"X{unique}", at=NIGHT, persons=[person],
                    level="dyade_prioritaire", reasons=IDEATION)
    notifier.tick(NIGHT + timedelta(minutes=3))
    assert alert_row(notifier, first.alert_id).target == "superviseur"
    clock.set(NIGHT + timedelta(minutes=12))
    weapon = alerted(notifier, producer, f"w2-{unique}", sector=f"X{unique}", at=clock(), persons=[person],
                     level="securite_policiers", reasons=KNIFE, danger="imminent")
    assert weapon.alert_id != first.alert_id and (weapon.state, weapon.target) == ("created", "superviseur_patrouille")
    notifier.tick(NIGHT + timedelta(minutes=14))
    assert alert_row(notifier, weapon.alert_id).state == "created"


def test_a_call_that_pages_the_supervisor_again_restarts_the_supervisor_s_clock(
        notifier, http, supervisor, producer, clock, unique):
    """A more serious call at the same holder re-pages the alert; at the supervisor the deadline is the alert's
    expiry, so the re-page gives the supervisor a full delay again instead of expiring a minute later."""
    put_dyad(http, supervisor, f"A{unique}", f"X{unique}")
    clock.set(NIGHT)
    person = f"p_r{unique}"
    row = alerted(notifier, producer, f"r1-{unique}", sector=f"X{unique}", at=NIGHT, persons=[person],
                  reasons=IDEATION)
    notifier.tick(NIGHT + timedelta(minutes=3))
    assert alert_row(notifier, row.alert_id).target == "superviseur"
    clock.set(NIGHT + timedelta(minutes=12))
    again = alerted(notifier, producer, f"r2-{unique}", sector=f"X{unique}", at=clock(), persons=[person],
                    level="dyade_prioritaire", reasons=IDEATION)
    assert again.alert_id == row.alert_id and again.state == "escalated"
    notifier.tick(NIGHT + timedelta(minutes=14))
    assert alert_row(notifier, row.alert_id).state == "escalated"
    notifier.tick(NIGHT + timedelta(minutes=23))
    assert alert_row(notifier, row.alert_id).state == "expired"


def test_urgent_call_with_every_dyad_busy_reaches_the_supervisor_at_once(
        notifier, http, supervisor, producer, clock, unique, alert_events):
    from dyade.kafka import wait_until
    from services.notifier.tests.conftest import busy, call_update
    put_dyad(http, supervisor, f"A{unique}", f"X{unique}", shifts=ALWAYS)
    send(producer, call_update(f"occ-{unique}", "on_scene", at=clock(), dyad_id=f"A{unique}"))
    wait_until(lambda: busy(notifier, f"A{unique}"))
    row = alerted(notifier, producer, f"u1-{unique}", sector=f"X{unique}", at=clock(), level="dyade_prioritaire")
    assert (row.state, row.target) == ("escalated", "superviseur")
    assert alert_events.wait_for(row.alert_id, "escalated") == ["created", "missed_for_capacity", "escalated"]


def test_followup_reminder_carries_who_and_where(notifier, http, supervisor, producer, clock, unique, token):
    put_dyad(http, supervisor, f"A{unique}", f"X{unique}", shifts=ALWAYS)
    person = f"p_r{unique}"
    send(producer, decision(f"r1-{unique}", sector=f"X{unique}", at=clock(), persons=[person], **PLACE))
    alert_for(notifier, f"r1-{unique}")
    sw = token("social_worker")
    r = http.put(f"/v1/persons/{person}/followup-plan", headers=sw,
                 json={"dyad_id": f"A{unique}", "every_minutes": 240, "person_label": "M. R.",
                       "first_due_at": (clock() - timedelta(minutes=1)).isoformat()})
    assert r.status_code == 200, r.text
    me = token("dyad", dyad_id=f"A{unique}", sector=f"X{unique}")
    today = http.get("/v1/followups/today", headers=me).json()
    [plan] = [p for p in today["plans"] if p["person_key"] == person]
    assert plan["person_label"] == "M. R." and plan["where"].startswith(PLACE["address"]) and plan["geo"]
    notifier.tick(clock())
    today = http.get("/v1/followups/today", headers=me).json()
    assert [p for p in today["plans"] if p["person_key"] == person] == []   # one entry: the reminder
    [reminder] = [a for a in today["alerts"] if a["kind"] == "suivi" and person in a["person_keys"]]
    assert (reminder["person_label"], reminder["address"], reminder["geo"]) == (
        "M. R.", PLACE["address"], "geo:45.5017,-73.5673")
    assert reminder["time_local"]


def test_supervisor_list_filters_sorts_pages_counts_and_bulk_closes(
        notifier, http, supervisor, producer, clock, unique, token, alert_events):
    put_dyad(http, supervisor, f"A{unique}", f"X{unique}", shifts=ALWAYS)
    put_dyad(http, supervisor, f"B{unique}", f"Y{unique}", shifts=ALWAYS)
    now = clock()
    events = [decision(f"l{i}-{unique}", sector=f"X{unique}" if i % 2 else f"Y{unique}",
                       at=now - timedelta(minutes=i), level="dyade_prioritaire" if i % 3 == 0 else "dyade_suggeree")
              for i in range(7)]
    send(producer, *events)
    ids = [alert_for(notifier, f"l{i}-{unique}").alert_id for i in range(7)]
    both = {"sector": [f"X{unique}", f"Y{unique}"]}
    r = http.get("/v1/alerts", params={**both, "per_page": 3, "sort": "level", "order": "desc"}, headers=supervisor)
    body = r.json()
    assert r.status_code == 200 and (body["total"], body["pages"], len(body["alerts"])) == (7, 3, 3)
    assert [a["level"] for a in body["alerts"]] == ["dyade_prioritaire"] * 3
    page3 = http.get("/v1/alerts", params={**both, "per_page": 3, "page": 3}, headers=supervisor).json()
    assert len(page3["alerts"]) == 1
    xs = http.get("/v1/alerts", params={"sector": f"X{unique}", "level": "dyade_suggeree"}, headers=supervisor).json()
    assert {a["sector"] for a in xs["alerts"]} == {f"X{unique}"} and xs["total"] == 2   # l1, l5
    assert xs["counts"]["created"] + xs["counts"]["delivered"] + xs["counts"]["seen"] == 2
    r = http.post("/v1/alerts/bulk-close", json={"alert_ids": ids[:3], "reason": "doublons d'un même événement"},
                  headers=token("dyad", dyad_id=f"A{unique}", sector=f"X{unique}"))
    assert r.status_code == 403
    r = http.post("/v1/alerts/bulk-close", json={"alert_ids": [*ids[:3], "al_inconnue"], "reason": "ok"},
                  headers=supervisor)
    assert r.status_code == 422 and "reason" in r.json()["detail"]
    r = http.post("/v1/alerts/bulk-close", json={"alert_ids": [*ids[:3], "al_inconnue"],
                                                 "reason": "doublons d'un même événement"}, headers=supervisor)
    assert r.status_code == 200
    assert r.json()["closed"] == ids[:3] and r.json()["skipped"] == [{"alert_id": "al_inconnue",
                                                                     "detail": "alerte inconnue"}]
    after = http.get("/v1/alerts", params=both, headers=supervisor).json()
    assert after["total"] == 4 and after["counts"]["closed"] == 3
    assert alert_events.wait_for(ids[0], "closed")[-1] == "closed"
    aged = http.get("/v1/alerts", params={**both, "min_age_minutes": 0, "max_age_minutes": 1}, headers=supervisor)
    assert aged.json()["total"] == 4   # alerts are as old as their creation, not as their call
    assert http.get("/v1/alerts", params={"sort": "pas_un_champ"}, headers=supervisor).status_code == 422
    assert http.get("/v1/alerts", params={"sector": "pas un secteur"}, headers=supervisor).status_code == 422
