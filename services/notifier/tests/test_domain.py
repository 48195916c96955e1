"""Pure domain: shifts, routing, life cycle, escalation timing, follow-ups, webhook signatures."""
from datetime import datetime, time, timedelta, timezone

import pytest

from dyade.contracts.vocabulary import AlertState as S, TriageLevel as L
from services.notifier.domain import lifecycle
from services.notifier.domain.followups import Plan, is_due, next_due
from services.notifier.domain.roster import MONTREAL, Adjacency, Dyad, Shift, next_shift_start, shift_label
from services.notifier.domain.routing import AfterHours, Outcome, route
from services.notifier.domain.signing import sign, verify

TUESDAY_10H = datetime(2026, 11, 24, 10, 0, tzinfo=MONTREAL)
TUESDAY_22H = datetime(2026, 11, 24, 22, 0, tzinfo=MONTREAL)
ADJ = Adjacency.parse("S1:S2,S3;S2:S1")


def dyads():
    return [Dyad("D1", "S1"), Dyad("D2", "S2"), Dyad("D3", "S3"), Dyad("D9", "S9")]


def go(**kw):
    args = dict(sector="S1", level=L.DYADE_SUGGEREE, at=TUESDAY_10H, dyads=dyads(), busy=set(), adjacency=ADJ,
                after_hours=AfterHours())
    args.update(kw)
    return route(**args)


def test_default_shift_is_8_to_20_montreal_every_day():
    d = Dyad("D1", "S1")
    assert d.on_duty(TUESDAY_10H)
    assert not d.on_duty(TUESDAY_22H)
    assert d.on_duty(datetime(2026, 11, 24, 13, 0, tzinfo=timezone.utc))  # 8h00 in Montréal (UTC-5)
    assert not d.on_duty(datetime(2026, 11, 24, 12, 59, tzinfo=timezone.utc))


def test_overnight_shift_runs_past_midnight():
    night = Dyad("N", "S1", (Shift((0,), time(20), time(4)),))  # Monday 20h → Tuesday 4h
    assert night.on_duty(datetime(2026, 11, 23, 23, 0, tzinfo=MONTREAL))
    assert night.on_duty(datetime(2026, 11, 24, 3, 0, tzinfo=MONTREAL))
    assert not night.on_duty(datetime(2026, 11, 24, 5, 0, tzinfo=MONTREAL))
    assert not night.on_duty(datetime(2026, 11, 24, 23, 0, tzinfo=MONTREAL))


def test_route_to_on_duty_dyad_of_the_sector():
    r = go()
    assert (r.outcome, r.dyad_id) == (Outcome.DYAD, "D1")


def test_busy_dyad_skipped_for_nearest_neighbour_in_order():
    assert go(busy={"D1"}).dyad_id == "D2"
    assert go(busy={"D1", "D2"}).dyad_id == "D3"


def test_all_reachable_busy_is_missed_for_capacity_even_if_a_far_dyad_is_free():
    r = go(busy={"D1", "D2", "D3"})
    assert r.outcome == Outcome.MISSED  # D9 is free but not a neighbour of S1


def test_outside_hours_by_level():
    assert go(at=TUESDAY_22H).outcome == Outcome.DEFERRED
    r = go(at=TUESDAY_22H, level=L.DYADE_PRIORITAIRE)
    assert (r.outcome, r.target) == (Outcome.FALLBACK, "garde_sociale")
    assert go(at=TUESDAY_22H, level=L.SECURITE_POLICIERS).target == "superviseur_patrouille"


def test_escalation_excludes_tried_dyads_then_supervisor():
    assert go(exclude=frozenset({"D1"}), escalating=True).dyad_id == "D2"
    r = go(exclude=frozenset({"D1", "D2", "D3"}), escalating=True)
    assert (r.outcome, r.target) == (Outcome.SUPERVISOR, "superviseur")


def test_unknown_sector_goes_to_supervisor():
    assert go(sector=None).target == "superviseur"


def test_next_shift_start_is_next_morning():
    assert next_shift_start(dyads(), TUESDAY_22H) == datetime(2026, 11, 25, 8, 0, tzinfo=MONTREAL)
    assert shift_label(TUESDAY_22H) == "2026-11-24/soir"


def test_lifecycle_transitions():
    lifecycle.check(S.CREATED, S.ACKNOWLEDGED)
    with pytest.raises(lifecycle.InvalidTransition, match="fermée"):
        lifecycle.check(S.CLOSED, S.ACKNOWLEDGED)
    with pytest.raises(lifecycle.InvalidTransition):
        lifecycle.check(S.ACKNOWLEDGED, S.DELIVERED)
    for state in (S.ACKNOWLEDGED, S.SNOOZED, S.DEFERRED, S.MISSED_FOR_CAPACITY):
        lifecycle.check(state, S.ESCALATED)   # paging anew


def test_escalation_timing():
    t = lifecycle.Timing(ack_delay=timedelta(minutes=3), supervisor_delay=timedelta(minutes=10))
    at = TUESDAY_10H

    def due(state, waited, sup=False, until=None):
        return lifecycle.due_action(state=state, assigned_at=at, now=at + waited, at_supervisor=sup,
                                    snoozed_until=until, timing=t)
    assert due(S.DELIVERED, timedelta(minutes=2, seconds=59)) is None
    assert due(S.DELIVERED, timedelta(minutes=3)) == S.ESCALATED
    assert due(S.ACKNOWLEDGED, timedelta(hours=5)) is None
    assert due(S.ESCALATED, timedelta(minutes=9), sup=True) is None
    assert due(S.ESCALATED, timedelta(minutes=10), sup=True) == S.EXPIRED
    assert due(S.SNOOZED, timedelta(minutes=59), until=at + timedelta(hours=1)) is None
    assert due(S.SNOOZED, timedelta(hours=1), until=at + timedelta(hours=1)) == S.EXPIRED
    assert lifecycle.due_action(state=S.SNOOZED, assigned_at=at, now=at + timedelta(hours=1), at_supervisor=False,
                                snoozed_until=at + timedelta(hours=1), timing=t, absorbed=True) == S.ESCALATED


def test_followup_due_only_on_duty():
    plan = Plan("p_1", "D1", timedelta(hours=4), TUESDAY_10H)
    assert is_due(plan, now=TUESDAY_10H, dyad_on_duty=True)
    assert not is_due(plan, now=TUESDAY_10H, dyad_on_duty=False)
    assert not is_due(plan, now=TUESDAY_10H - timedelta(minutes=1), dyad_on_duty=True)
    assert next_due(plan, now=TUESDAY_10H + timedelta(hours=9)) == TUESDAY_10H + timedelta(hours=12)


def test_webhook_signature_and_replay_window():
    body = b'{"a":1}'
    sig = sign("s3cret", 1_700_000_000, body)
    assert verify("s3cret", "1700000000", body, sig, now=1_700_000_100)
    assert not verify("s3cret", "1700000000", body + b" ", sig, now=1_700_000_100)
    assert not verify("other", "1700000000", body, sig, now=1_700_000_100)
    assert not verify("s3cret", "1700000000", body, sig, now=1_700_000_000 + 301)
