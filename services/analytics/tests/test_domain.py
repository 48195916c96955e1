"""The definitions' edges, in pure domain code (no broker, no database)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from services.analytics.domain import calls, dyads, outcomes, recurrence
from services.analytics.domain.calendar import month_end, shift_of, week_of
from services.analytics.domain.facts import (
    AlertEventFact, CallFact, CallUpdateFact, Facts, FrameEventFact, ReferralEventFact,
)

T0 = datetime(2025, 6, 1, 12, tzinfo=timezone.utc)


def call(i: int, at: datetime, key: str = "p_a", role: str = "sujet", relation: str | None = None, **kw) -> CallFact:
    return CallFact(call_id=f"c{i}", received_at=at, category=kw.pop("category", "etat_mental_perturbe"),
                    nature_code="x", location_key=kw.pop("location_key", f"l{i}"), persons=((key, role),),
                    caller_relation=relation, **kw)


def test_window_edges_call_at_start_is_before_and_window_is_closed():
    w = timedelta(days=30)
    facts = Facts(calls=[call(1, T0 - w, ), call(2, T0 - w - timedelta(seconds=1)), call(3, T0),
                         call(4, T0 + w), call(5, T0 + w + timedelta(seconds=1)),
                         call(6, T0 + timedelta(days=1), key="p_a", role="proche"),
                         call(7, T0 + timedelta(days=2), key="p_a", role="appelant", relation="soi")],
                  frames=[FrameEventFact("f", "p_a", "approved", 1, T0)])
    r = recurrence.repeat_call_reduction(facts, window_days=30, as_of=T0 + timedelta(days=90))
    (p,) = r.persons
    assert (p.calls_before, p.calls_after) == (2, 2)  # c1, c3 | c4, c7 (c6: a relative only)
    assert p.reduction == 0 and p.reduction_pct == 0


def test_intervention_start_is_the_earliest_of_all_kinds_and_short_followup_is_excluded():
    facts = Facts(
        calls=[call(1, T0 - timedelta(days=3))],
        frames=[FrameEventFact("f", "p_a", "approved", 1, T0)],
        referrals=[ReferralEventFact("r", "p_a", "status", T0 - timedelta(days=1), status="admissible"),
                   ReferralEventFact("r2", "p_b", "status", T0 - timedelta(days=2), status="recue")],
        updates=[CallUpdateFact("c1", T0 - timedelta(days=2), "on_scene", dyad_id="D1")],
        alerts=[AlertEventFact("a", "acknowledged", T0 + timedelta(days=1), person_key="p_c")])
    starts = recurrence.intervention_starts(facts)
    assert starts["p_a"].how == "dyad_call" and starts["p_a"].started_at == T0 - timedelta(days=2)
    assert "p_b" not in starts and starts["p_c"].how == "alert_ack"
    r = recurrence.repeat_call_reduction(facts, window_days=30, as_of=T0 + timedelta(days=29))
    assert r.n == 1 and r.excluded_short_followup == 1  # p_a complete (start T0-2d), p_c not


def test_empty_facts_give_empty_figures():
    empty = Facts()
    assert recurrence.repeat_call_reduction(empty, as_of=T0).summary()["median_reduction"] is None
    assert calls.calls_by_week(empty) == [] and calls.top_locations(empty) == []
    assert outcomes.dispositions(empty)["voluntary_share"] is None
    assert outcomes.frame_states(empty)["stale_share"] is None
    assert dyads.dyad_activity(empty) == [] and dyads.latency(empty)["received_to_ack"]["count"] == 0


def test_calendar_uses_montreal_time():
    assert week_of(datetime(2025, 6, 2, 3, tzinfo=timezone.utc)) == "2025-05-26"  # Sunday 23:00 in Montréal
    assert shift_of(datetime(2025, 6, 2, 1, tzinfo=timezone.utc)) == "2025-06-01/nuit"
    assert shift_of(datetime(2025, 6, 2, 13, tzinfo=timezone.utc)) == "2025-06-02/jour"
    assert month_end("2025-12").isoformat() == "2026-01-01T00:00:00-05:00"


def test_weeks_without_calls_are_listed_as_zero():
    facts = Facts(calls=[call(1, T0), call(2, T0 + timedelta(days=10))])  # Sunday, then the Wednesday after next
    weeks = calls.calls_by_week(facts)
    assert [w["total"] for w in weeks] == [1, 0, 1]


def test_histogram_is_cumulative():
    h = dyads.histogram([1, 5, 6, 100000])
    assert [b["count"] for b in h["buckets"]][:2] == [2, 3] and h["buckets"][-1] == {"le": "+Inf", "count": 4}


def test_since_limits_the_cohort_to_a_period():
    facts = Facts(calls=[call(1, T0)], frames=[FrameEventFact("f", "p_a", "approved", 1, T0),
                                               FrameEventFact("g", "p_b", "approved", 1, T0 + timedelta(days=40))])
    r = recurrence.repeat_call_reduction(facts, window_days=30, as_of=T0 + timedelta(days=60),
                                         since=T0 + timedelta(days=1))
    assert r.n == 0 and r.excluded_short_followup == 1  # p_a before the period; p_b's follow-up too short
