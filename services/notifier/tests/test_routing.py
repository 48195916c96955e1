"""Decisions on the real broker become alerts routed by sector and shift; busy dyads are skipped;
no free dyad is missed-for-capacity; duplicates, routine calls and old history create nothing."""
from datetime import timedelta

from dyade.kafka import wait_until
from services.notifier.tests.conftest import (ALWAYS, DAY, KNIFE, NIGHT, alert_for, alert_row, alerted, busy,
                                              call_update, decision, put_dyad, send)


def roster(http, supervisor, u):
    """Sector X (dyad A) next to sector Y (dyad B), default shifts 8h–20h."""
    put_dyad(http, supervisor, f"A{u}", f"X{u}")
    put_dyad(http, supervisor, f"B{u}", f"Y{u}")
    r = http.put(f"/v1/sectors/X{u}", json={"neighbours": [f"Y{u}"]}, headers=supervisor)
    assert r.status_code == 200, r.text


def test_day_call_goes_to_the_sector_dyad_and_is_published(notifier, http, supervisor, producer, clock, unique,
                                                           alert_events):
    roster(http, supervisor, unique)
    clock.set(DAY)
    alert = alerted(notifier, producer, f"c1-{unique}", sector=f"X{unique}", at=DAY, level="dyade_prioritaire")
    assert (alert.dyad_id, alert.state, alert.level) == (f"A{unique}", "created", "dyade_prioritaire")
    assert "created" in alert_events.wait_for(alert.alert_id, "created")
    event = next(e for e in alert_events.events if e.payload.alert_id == alert.alert_id)
    assert event.payload.dyad_id == f"A{unique}" and event.payload.shift == "2026-11-24/jour"
    assert event.correlation_id == f"c1-{unique}"


def test_night_calls_follow_the_level_policy(notifier, http, supervisor, producer, clock, unique):
    roster(http, supervisor, unique)
    clock.set(NIGHT)
    send(producer, decision(f"n1-{unique}", sector=f"X{unique}", at=NIGHT, level="dyade_suggeree"),
         decision(f"n2-{unique}", sector=f"X{unique}", at=NIGHT, level="dyade_prioritaire"),
         decision(f"n3-{unique}", sector=f"X{unique}", at=NIGHT, level="securite_policiers"))
    deferred = alert_for(notifier, f"n1-{unique}")
    assert deferred.state == "deferred" and deferred.dyad_id is None
    assert deferred.due_at.astimezone(DAY.tzinfo).hour == 8  # next morning's list
    fallback = alert_for(notifier, f"n2-{unique}")
    assert (fallback.state, fallback.target) == ("created", "garde_sociale")
    assert alert_for(notifier, f"n3-{unique}").target == "superviseur_patrouille"


def test_busy_dyad_skipped_then_missed_for_capacity(notifier, http, supervisor, producer, clock, unique,
                                                    alert_events):
    roster(http, supervisor, unique)
    clock.set(DAY)
    send(producer, call_update(f"busyA-{unique}", "on_scene", at=DAY, dyad_id=f"A{unique}"))
    wait_until(lambda: busy(notifier, f"A{unique}"))  # two topics: no order between them
    send(producer, decision(f"b1-{unique}", sector=f"X{unique}", at=DAY))
    assert alert_for(notifier, f"b1-{unique}").dyad_id == f"B{unique}"  # A busy → neighbour B

    send(producer, call_update(f"busyB-{unique}", "dispatched", at=DAY, dyad_id=f"B{unique}"))
    wait_until(lambda: busy(notifier, f"B{unique}"))
    missed = alerted(notifier, producer, f"b2-{unique}", sector=f"X{unique}", at=DAY)
    assert missed.state == "missed_for_capacity" and missed.dyad_id is None
    assert alert_events.wait_for(missed.alert_id, "missed_for_capacity") == ["created", "missed_for_capacity"]

    send(producer, call_update(f"busyA-{unique}", "cleared", at=DAY, disposition="regle_sur_place"))
    wait_until(lambda: not busy(notifier, f"A{unique}"))
    send(producer, decision(f"b3-{unique}", sector=f"X{unique}", at=DAY))
    assert alert_for(notifier, f"b3-{unique}").dyad_id == f"A{unique}"  # A free again


def test_duplicates_routine_and_old_history_create_no_alert(notifier, http, supervisor, producer, clock, unique):
    roster(http, supervisor, unique)
    clock.set(DAY)
    d = decision(f"d1-{unique}", sector=f"X{unique}", at=DAY, persons=[f"p_{unique}"])
    send(producer, d, d, decision(f"d1-{unique}", sector=f"X{unique}", at=DAY, persons=[f"p_{unique}"]))
    first = alert_for(notifier, f"d1-{unique}")
    send(producer, decision(f"r1-{unique}", sector=f"X{unique}", at=DAY, level="routine"),
         decision(f"old-{unique}", sector=f"X{unique}", at=DAY - timedelta(days=200)),
         decision(f"d2-{unique}", sector=f"X{unique}", at=DAY, persons=[f"p_{unique}"], level="securite_policiers"))
    assert alert_for(notifier, f"r1-{unique}").outcome == "routine"
    assert alert_for(notifier, f"old-{unique}").outcome == "hors_horizon"
    merged = alert_for(notifier, f"d2-{unique}")  # same person, alert still open: updated, not a second alert
    assert merged.alert_id == first.alert_id
    assert merged.call_ids == [f"d1-{unique}", f"d2-{unique}"] and merged.level == "securite_policiers"
    with notifier.sessions() as s:
        from sqlalchemy import func, select
        from services.notifier.adapters.models import AlertRow
        n = s.scalar(select(func.count()).select_from(AlertRow).where(AlertRow.sector == f"X{unique}"))
    assert n == 1


def test_cleared_call_closes_its_alert_with_the_disposition(notifier, http, supervisor, producer, clock, unique,
                                                            alert_events):
    put_dyad(http, supervisor, f"A{unique}", f"X{unique}", shifts=ALWAYS)
    alert = alerted(notifier, producer, f"cl-{unique}", sector=f"X{unique}", at=clock())
    send(producer, call_update(f"cl-{unique}", "cleared", at=clock(), disposition="transport_volontaire"))
    alert_events.wait_for(alert.alert_id, "closed")
    with notifier.sessions() as s:
        from services.notifier.adapters.models import AlertRow
        row = s.get(AlertRow, alert.alert_id)
    assert (row.state, row.disposition) == ("closed", "transport_volontaire")


def decided(notifier, decision_id: str):
    from services.notifier.adapters.models import DecisionRow
    def find():
        with notifier.sessions() as s:
            return s.get(DecisionRow, decision_id)
    return wait_until(find, timeout=60)


def alerts_about(notifier, call_id: str) -> list:
    from sqlalchemy import select
    from services.notifier.adapters.models import AlertRow
    with notifier.sessions() as s:
        return list(s.scalars(select(AlertRow).where(AlertRow.call_id == call_id)))


def test_a_call_cleared_at_the_cad_before_triage_decided_pages_no_one(notifier, http, supervisor, producer, clock,
                                                                      unique, alert_events):
    """Triage lagging, or the notifier catching up a backlog across topics: the call is over when its decision
    comes, and so when a revision of it comes."""
    roster(http, supervisor, unique)
    clock.set(DAY)
    call = f"over-{unique}"
    send(producer, call_update(call, "dispatched", at=DAY, dyad_id=f"A{unique}"))
    wait_until(lambda: busy(notifier, f"A{unique}"))
    send(producer, call_update(call, "cleared", at=DAY, disposition="regle_sur_place"))
    wait_until(lambda: not busy(notifier, f"A{unique}"))   # handled: two topics, no order between them
    send(producer, decision(call, sector=f"X{unique}", at=DAY - timedelta(minutes=20), level="dyade_prioritaire"))
    first = decided(notifier, f"{call}:r1:test")
    send(producer, decision(call, sector=f"X{unique}", at=DAY - timedelta(minutes=20), revision=2,
                            level="securite_policiers", reasons=KNIFE, danger="imminent"))
    revised = decided(notifier, f"{call}:r2:test")
    assert (first.outcome, first.alert_id, revised.outcome, revised.alert_id) == (
        "deja_termine", None, "deja_termine", None)
    assert alerts_about(notifier, call) == []


def test_a_call_the_cad_reopened_after_clearing_it_pages_again(notifier, http, supervisor, producer, clock, unique,
                                                                alert_events):
    roster(http, supervisor, unique)
    clock.set(DAY)
    call = f"reopened-{unique}"
    send(producer, call_update(call, "cleared", at=DAY, disposition="regle_sur_place"))
    send(producer, call_update(call, "dispatched", at=DAY + timedelta(minutes=5), dyad_id=f"A{unique}"))
    wait_until(lambda: busy(notifier, f"A{unique}"))
    send(producer, decision(call, sector=f"X{unique}", at=DAY, level="dyade_prioritaire"))
    assert decided(notifier, f"{call}:r1:test").outcome != "deja_termine"


def test_a_revision_after_the_cad_closed_its_alert_pages_no_one(notifier, http, supervisor, producer, clock, unique,
                                                                alert_events):
    roster(http, supervisor, unique)
    clock.set(DAY)
    call = f"closed-{unique}"
    alert = alerted(notifier, producer, call, sector=f"X{unique}", at=DAY)
    send(producer, call_update(call, "cleared", at=DAY, disposition="transport_volontaire"))
    alert_events.wait_for(alert.alert_id, "closed")
    send(producer, decision(call, sector=f"X{unique}", at=DAY, revision=2, level="dyade_prioritaire"))
    assert decided(notifier, f"{call}:r2:test").outcome == "deja_termine"
    assert [(a.alert_id, a.state) for a in alerts_about(notifier, call)] == [(alert.alert_id, "closed")]


def test_a_dyad_the_cad_dispatched_before_triage_decided_takes_the_alert(notifier, http, supervisor, producer, clock,
                                                                        unique, alert_events):
    roster(http, supervisor, unique)
    clock.set(DAY)
    call = f"sent-{unique}"
    send(producer, call_update(call, "dispatched", at=DAY, dyad_id=f"A{unique}"))
    wait_until(lambda: busy(notifier, f"A{unique}"))
    alert = alerted(notifier, producer, call, sector=f"X{unique}", at=DAY, level="dyade_prioritaire")
    assert (alert.dyad_id, alert.state, alert.tried) == (f"A{unique}", "acknowledged", [f"A{unique}"])  # not B
    assert alert_events.wait_for(alert.alert_id, "acknowledged") == ["created", "acknowledged"]
    notifier.tick(DAY + timedelta(hours=1))
    assert alert_row(notifier, alert.alert_id).state == "acknowledged"   # no escalation to another dyad


def test_an_event_that_can_never_apply_goes_to_the_dlq_and_the_stream_goes_on(
        notifier, http, supervisor, producer, clock, unique, broker, settings):
    from kafka import KafkaConsumer, TopicPartition
    roster(http, supervisor, unique)
    clock.set(DAY)
    reader = KafkaConsumer(bootstrap_servers=broker.bootstrap_servers, group_id=None, enable_auto_commit=False)
    dlq = TopicPartition("triage.decided.v1.dlq", 0)
    reader.assign([dlq])
    reader.seek_to_end()
    reader.position(dlq)
    valid = decision(f"bad-{unique}", sector="S1", at=DAY)
    too_long = valid.model_copy(update={"payload": valid.payload.model_copy(update={"sector": "S" * 41})})  # unchecked
    send(producer, too_long,   # longer than any sector code: refused by the contract, never by a table
         decision(f"ok-{unique}", sector=f"X{unique}", at=DAY))
    assert alert_for(notifier, f"ok-{unique}").dyad_id == f"A{unique}"

    def dead():
        return [r for recs in reader.poll(timeout_ms=200).values() for r in recs if f"bad-{unique}".encode() in r.value]
    [record] = wait_until(dead, timeout=60)
    reason = dict(record.headers)["dlq.reason"].decode()
    assert "sector" in reason and dict(record.headers)["dlq.kind"] == b"invalid", reason
    reader.close()


def test_dispatch_by_the_cad_acknowledges_the_pending_alert_for_that_dyad(
        notifier, http, supervisor, producer, clock, unique, alert_events):
    roster(http, supervisor, unique)
    clock.set(DAY)
    alert = alerted(notifier, producer, f"cad-{unique}", sector=f"X{unique}", at=DAY)
    assert alert.dyad_id == f"A{unique}"
    send(producer, call_update(f"cad-{unique}", "dispatched", at=DAY, dyad_id=f"B{unique}"))
    assert alert_events.wait_for(alert.alert_id, "acknowledged") == ["created", "acknowledged"]
    ack = next(e for e in alert_events.events if e.payload.alert_id == alert.alert_id and e.payload.state == "acknowledged")
    assert ack.payload.dyad_id == f"B{unique}"
    notifier.tick(DAY + timedelta(hours=1))
    from services.notifier.tests.conftest import alert_row
    assert alert_row(notifier, alert.alert_id).state == "acknowledged"


def test_the_morning_dyad_takes_a_deferred_call_from_its_list(notifier, http, supervisor, producer, clock, unique,
                                                              token):
    roster(http, supervisor, unique)
    clock.set(NIGHT)
    alert = alerted(notifier, producer, f"m1-{unique}", sector=f"X{unique}", at=NIGHT)
    assert alert.state == "deferred"
    morning = alert.due_at
    clock.set(morning)
    me = token("dyad", dyad_id=f"A{unique}", sector=f"X{unique}")
    today = http.get("/v1/followups/today", headers=me).json()
    assert alert.alert_id in [a["alert_id"] for a in today["alerts"]]
    other_sector = token("dyad", dyad_id=f"B{unique}", sector=f"Y{unique}")
    assert http.get(f"/v1/alerts/{alert.alert_id}", headers=other_sector).status_code == 403
    assert http.get(f"/v1/alerts/{alert.alert_id}", headers=me).status_code == 200
    assert http.post(f"/v1/alerts/{alert.alert_id}/seen", headers=other_sector).status_code == 403
    r = http.post(f"/v1/alerts/{alert.alert_id}/seen", headers=me)
    assert r.status_code == 200 and (r.json()["state"], r.json()["dyad_id"]) == ("seen", f"A{unique}")
    notifier.tick(morning + timedelta(minutes=2))   # the escalation clock starts when they take it
    assert http.get(f"/v1/alerts/{alert.alert_id}", headers=me).json()["state"] == "seen"
