"""The definitions' edges, in pure domain code (no broker, no database)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from services.analytics.domain import calls, dyads, outcomes, recurrence
from services.analytics.domain.calendar import month_end, shift_of, week_of
from services.analytics.domain.facts import (
    AlertEventFact, CallFact, CallUpdateFact, DecisionFact, Facts, FrameEventFact, ReferralEventFact, says_replay,
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
    r = recurrence.repeat_call_reduction(facts, window_days=30, as_of=T0 + timedelta(days=29),
                                         history_start=T0 - timedelta(days=60))
    assert r.n == 1 and r.excluded_short_followup == 1  # p_a complete (start T0-2d), p_c not
    # Without a history_start, the facts' first call (T0 − 3 d) is where the history begins: too short.
    r = recurrence.repeat_call_reduction(facts, window_days=30, as_of=T0 + timedelta(days=29))
    assert r.n == 0 and (r.excluded_short_followup, r.excluded_short_history) == (1, 1)


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


# --- equal windows, minimum follow-up, history before the start ---------------------------------------------
def test_equal_windows_are_the_shortest_of_window_followup_and_history():
    """W = 180 but only 20 days of follow-up: 20 days before are compared with the 20 days after."""
    t0 = T0
    facts = Facts(calls=[call(0, t0 - timedelta(days=100), key="p_z"),  # the history starts here
                         call(1, t0 - timedelta(days=25)), call(2, t0 - timedelta(days=10)),
                         call(3, t0 - timedelta(days=5)), call(4, t0 + timedelta(days=5))],
                  frames=[FrameEventFact("f", "p_a", "approved", 1, t0)])
    r = recurrence.repeat_call_reduction(facts, window_days=180, as_of=t0 + timedelta(days=20), min_followup_days=14)
    (p,) = r.persons
    assert p.window_days == 20 and (p.calls_before, p.calls_after) == (2, 1)  # c1 is 25 days before: outside
    assert (p.rate_before, p.rate_after, p.reduction) == (3.0, 1.5, 1.5)
    s = r.summary()
    assert (s["n_persons"], s["median_followup_days"], s["min_followup_days"]) == (1, 20, 14)
    # The strict reading (minimum = W, the default) wants 180 days of follow-up: excluded.
    strict = recurrence.repeat_call_reduction(facts, window_days=180, as_of=t0 + timedelta(days=20))
    assert strict.n == 0 and strict.excluded_short_followup == 1 and strict.min_followup_days == 180
    # A history shorter than the follow-up limits the window too.
    r = recurrence.repeat_call_reduction(facts, window_days=180, as_of=t0 + timedelta(days=60), min_followup_days=14,
                                         history_start=t0 - timedelta(days=30))
    assert r.persons[0].window_days == 30 and r.persons[0].calls_before == 3


def test_short_history_before_the_start_is_excluded_and_said():
    facts = Facts(calls=[call(1, T0), call(2, T0 + timedelta(days=3))],
                  frames=[FrameEventFact("f", "p_a", "approved", 1, T0 + timedelta(days=5))])
    r = recurrence.repeat_call_reduction(facts, window_days=60, as_of=T0 + timedelta(days=90), min_followup_days=14)
    assert r.n == 0 and r.excluded_short_history == 1 and r.excluded_short_followup == 0
    assert r.summary()["history_start"] == T0.isoformat()


def test_default_as_of_is_when_the_newest_fact_happened_not_when_triage_processed_it():
    """The calls end at `last`; p_a's intervention started 10 days before it. Triage deciding on those calls
    months later (a replay of the topics, a backfill: its `decided_at` is its own clock) must not stretch the
    default 'as of' to then: p_a's follow-up is 10 days (too short), not 410 days in which no call was
    recorded (which put her in the cohort with no call after). The analytics test history once showed 9
    persons instead of 7 because a triage worker on the same broker decided on its calls."""
    last = T0 + timedelta(days=60)
    start = last - timedelta(days=10)
    decided = last + timedelta(days=400)
    cs = [call(1, T0), call(2, start - timedelta(days=5)), call(3, last, key="p_other")]
    facts = Facts(calls=cs, frames=[FrameEventFact("f", "p_a", "approved", 1, start)],
                  decisions=[DecisionFact(f"d-{c.call_id}", c.call_id, "dyade_suggeree", c.received_at, decided)
                             for c in cs])
    assert facts.latest_time() == last
    r = recurrence.repeat_call_reduction(facts, window_days=60, min_followup_days=14)
    assert r.as_of == last
    assert r.n == 0 and r.excluded_short_followup == 1
    # A decision whose call analytics does not hold counts at that call's received time too.
    assert Facts(decisions=[DecisionFact("d-x", "c-x", "routine", last, decided)]).latest_time() == last
    # The facts that happen on Dyade's side do move it: an alert acknowledged after the last call.
    acked = last + timedelta(days=2)
    assert Facts(calls=cs, alerts=[AlertEventFact("a", "acknowledged", acked)]).latest_time() == acked


def test_a_time_compressed_history_still_gives_a_cohort():
    """45 days of history, interventions spread over it (as the demo's): with the minimum at 14 days the
    persons with two weeks on each side are in the cohort, each compared over equal windows; the one who
    started 12 days into the history and the one followed for 11 days are not, and are counted apart."""
    start = T0
    cs, frames = [call(0, start, key="p_first")], []
    for i, day in enumerate((15, 20, 25, 30, 12, 33)):
        key, t0 = f"p_{i}", start + timedelta(days=day, hours=10)
        cs += [call(100 * i + k, t0 - timedelta(days=1 + 2 * k), key=key) for k in range(5)]  # 5 calls before
        cs.append(call(100 * i + 50, t0 + timedelta(days=3), key=key))  # 1 after
        frames.append(FrameEventFact(f"f{i}", key, "approved", 1, t0))
    as_of = start + timedelta(days=45)
    r = recurrence.repeat_call_reduction(Facts(calls=cs, frames=frames), window_days=180, as_of=as_of,
                                         min_followup_days=14)
    assert r.n == 4 and r.excluded_short_followup == 1 and r.excluded_short_history == 1
    assert sorted(p.window_days for p in r.persons) == [14.583, 15.417, 19.583, 20.417]
    assert all((p.calls_before, p.calls_after) == (5, 1) for p in r.persons)
    assert r.summary()["median_followup_days"] == 17.5
    assert r.summary()["persons_improved"] == 4


# --- latency on processing clocks, history left out ------------------------------------------------------
def _live_call(i: int, received: datetime, *, ingest_s: float = 30, **kw) -> CallFact:
    return call(i, received, ingested_at=received + timedelta(seconds=ingest_s), **kw)


def test_latency_uses_dyade_clocks_not_the_dispatch_systems():
    rec = T0
    c = _live_call(1, rec, ingest_s=30)  # the CAD says 12:00:00; intake published at 12:00:30
    facts = Facts(calls=[c],
                  decisions=[DecisionFact("d1", "c1", "dyade_suggeree", call_received_at=rec,
                                          decided_at=rec + timedelta(seconds=32))],
                  alerts=[AlertEventFact("a", "created", rec + timedelta(seconds=40), call_id="c1"),
                          AlertEventFact("a", "delivered", rec + timedelta(seconds=45), call_id="c1"),
                          AlertEventFact("a", "acknowledged", rec + timedelta(seconds=90), call_id="c1")])
    lat = dyads.latency(facts)
    assert lat["received_to_triage"]["sum"] == 2.0  # 32 − 30, not 32
    assert lat["received_to_delivered"]["sum"] == 15.0 and lat["delivered_to_ack"]["sum"] == 45.0
    assert lat["received_to_ack"]["sum"] == 60.0
    assert all(h["excluded_backfill"] == 0 and h["excluded_unmeasured"] == 0 for h in lat.values())


def test_replays_and_backfills_are_kept_out_of_live_latency():
    rec = T0
    facts = Facts(
        calls=[_live_call(1, rec),
               _live_call(2, rec, ingest_s=3 * 86400),        # reached Dyade 3 days late: a backfill
               _live_call(3, rec, ingest_s=2 * 3600 + 1),    # just over the 120 min horizon
               _live_call(4, rec, ingest_s=2 * 3600),        # exactly at it: still live
               _live_call(5, rec, replayed=True),            # its source said replay
               call(6, rec)],                                # stored before processing times: unmeasured
        decisions=[DecisionFact(f"d{i}", f"c{i}", "x", call_received_at=rec,
                                decided_at=rec + timedelta(seconds=ingest + 2))
                   for i, ingest in ((1, 30), (2, 3 * 86400), (3, 7201), (4, 7200), (5, 30), (6, 30))]
        + [DecisionFact("d7", "c7", "x", call_received_at=rec, decided_at=rec + timedelta(days=30)),  # call unknown, old
           DecisionFact("d8", "c8", "x", call_received_at=rec, decided_at=rec + timedelta(seconds=5))])  # unknown, live
    lat = dyads.latency(facts)["received_to_triage"]
    assert lat["count"] == 2 and lat["sum"] == 4.0  # c1 and c4, 2 s each
    assert lat["excluded_backfill"] == 4  # c2, c3, c5, d7
    assert lat["excluded_unmeasured"] == 2  # c6 (no processing time), d8 (call not known yet)
    assert dyads.latency(facts, backfill_after=timedelta(days=4))["received_to_triage"]["count"] == 4


def test_replay_markers():
    assert says_replay("intake-replay") and says_replay(None, "berkeley-cad:replay") and says_replay("BACKFILL")
    assert says_replay("rejeu") and not says_replay("intake", "cad", None) and not says_replay("replayer")


def test_a_call_revised_hours_later_is_still_live():
    c = CallFact("c", T0, "etat_mental_perturbe", "x", "l", ingested_at=T0 + timedelta(seconds=20))
    assert not c.is_backfill()
    assert CallFact("c", T0, "x", "x", "l", ingested_at=T0 + timedelta(hours=3)).is_backfill()


# --- frames: the state the changes leave a frame in ------------------------------------------------------
def test_consent_recorded_keeps_a_stale_frame_stale():
    F = FrameEventFact
    day = timedelta(days=1)
    facts = Facts(frames=[F("f1", "p_a", "approved", 1, T0, True), F("f1", "p_a", "review_due", 1, T0 + 335 * day),
                          F("f1", "p_a", "stale", 1, T0 + 366 * day), F("f1", "p_a", "consent_recorded", 1, T0 + 370 * day),
                          F("f2", "p_b", "approved", 1, T0), F("f2", "p_b", "review_due", 1, T0 + 335 * day),
                          F("f2", "p_b", "consent_recorded", 1, T0 + 340 * day),
                          F("f3", "p_c", "approved", 1, T0), F("f3", "p_c", "consent_recorded", 1, T0 + day),
                          F("f4", "p_d", "consent_recorded", 1, T0 + day)])  # its approval is not in the facts
    assert outcomes.frame_states(facts) == {"current": 1, "review_due": 1, "stale": 1, "active": 3,
                                            "stale_share": round(1 / 3, 4)}


def test_the_sweeps_review_due_and_stale_at_one_instant_leave_the_frame_stale():
    # An overdue frame never notified gets both in one sweep, with the same time and version; stored rows
    # come back in no particular order.
    F = FrameEventFact
    facts = Facts(frames=[F("f1", "p_a", "approved", 1, T0), F("f1", "p_a", "stale", 1, T0 + timedelta(days=400)),
                          F("f1", "p_a", "review_due", 1, T0 + timedelta(days=400))])
    assert outcomes.frame_states(facts)["stale"] == 1


# --- periods: an alert belongs to the period it was created in ----------------------------------------------
def _local(*a) -> datetime:
    from zoneinfo import ZoneInfo
    return datetime(*a, tzinfo=ZoneInfo("America/Montreal")).astimezone(timezone.utc)


JAN = (_local(2027, 1, 1), month_end("2027-01"))
FEB = (month_end("2027-01"), month_end("2027-02"))


def test_an_alert_created_before_local_midnight_is_all_of_its_month():
    # 31 Jan 23:40 in Montréal is 1 Feb 04:40 UTC: the month is the local one.
    alerts = [AlertEventFact("a1", "created", _local(2027, 1, 31, 23, 40), dyad_id="D1", sector="S1"),
              AlertEventFact("a1", "delivered", _local(2027, 1, 31, 23, 41), dyad_id="D1", sector="S1"),
              AlertEventFact("a1", "acknowledged", _local(2027, 2, 1, 0, 25), dyad_id="D1", sector="S1")]
    facts = Facts(alerts=alerts)
    (jan,) = dyads.dyad_activity(facts.between(*JAN))
    assert (jan["alerts"], jan["acknowledged"], jan["time_to_ack_s"]["median"]) == (1, 1, 2700.0)
    assert jan["shifts_worked"] == 1
    assert dyads.dyad_activity(facts.between(*FEB)) == []
    assert {a.alert_id for a in facts.until(FEB[0]).alerts} == {"a1"} and len(facts.until(FEB[0]).alerts) == 2
    jan_lat, feb_lat = dyads.latency(facts, start=JAN[0], end=JAN[1]), dyads.latency(facts, start=FEB[0], end=FEB[1])
    assert jan_lat["delivered_to_ack"]["sum"] == 2640.0 and feb_lat["delivered_to_ack"]["count"] == 0


def test_a_periods_latency_finds_the_call_received_before_it_and_its_first_decision():
    rec = _local(2027, 1, 31, 23, 59, 30)
    c = _live_call(1, rec, ingest_s=30)  # published at 00:00:00 on 1 Feb
    facts = Facts(calls=[c, _live_call(2, _local(2027, 1, 20, 10))],
                  decisions=[DecisionFact("d1", "c1", "x", call_received_at=rec, decided_at=rec + timedelta(seconds=34)),
                             DecisionFact("d2", "c2", "x", call_received_at=_local(2027, 1, 20, 10),
                                          decided_at=_local(2027, 1, 20, 10, 0, 33)),
                             DecisionFact("d2b", "c2", "x", call_received_at=_local(2027, 1, 20, 10),
                                          decided_at=_local(2027, 2, 3, 10), call_revision=2)],
                  alerts=[AlertEventFact("a", "created", rec + timedelta(seconds=40), call_id="c1"),
                          AlertEventFact("a", "delivered", rec + timedelta(seconds=45), call_id="c1"),
                          AlertEventFact("a", "acknowledged", rec + timedelta(seconds=90), call_id="c1")])
    feb = dyads.latency(facts, start=FEB[0], end=FEB[1])
    assert feb["received_to_triage"]["count"] == 1 and feb["received_to_triage"]["sum"] == 4.0  # c1, not c2's revision
    assert feb["received_to_delivered"]["sum"] == 15.0 and feb["received_to_ack"]["sum"] == 60.0
    assert all(h["excluded_unmeasured"] == 0 for h in feb.values())
    jan = dyads.latency(facts, start=JAN[0], end=JAN[1])
    assert jan["received_to_triage"]["sum"] == 3.0 and jan["received_to_delivered"]["count"] == 0


# --- referrals: confirmed apart from triage's suggestions -------------------------------------------------
def test_triage_suggestions_are_not_counted_as_confirmed_referrals():
    R = ReferralEventFact
    facts = Facts(referrals=[
        R("filed", "p_a", "filed", T0, referrer_type="policier", criteria=("recurrence",)),
        R("s_pending", "p_b", "status", T0, status="recue", referrer_type="triage", criteria=("recurrence",)),
        R("s_taken", "p_c", "status", T0, status="recue", referrer_type="triage", criteria=("dangerosite_previsible",)),
        R("s_taken", "p_c", "status", T0 + timedelta(days=1), status="admissible", referrer_type="triage"),
        R("s_taken", "p_c", "status", T0 + timedelta(days=9), status="fermee", referrer_type="triage"),
        R("s_dropped", "p_d", "status", T0, status="recue", referrer_type="triage"),
        R("s_dropped", "p_d", "status", T0 + timedelta(days=2), status="fermee", referrer_type="triage"),
    ])
    f = outcomes.referrals(facts)
    assert f["referrals"] == 2 and f["filed"] == 1
    assert f["suggested"] == {"total": 3, "confirmed": 1, "pending": 1, "not_retained": 1}
    assert f["by_source"] == {"policier": 1, "triage": 1}
    assert f["by_criterion"] == {"dangerosite_previsible": 1, "recurrence": 1}
    assert f["by_status"] == {"fermee": 1, "recue": 1}
    # An unconfirmed suggestion starts no intervention either (only admissible / premier_contact do).
    assert set(recurrence.intervention_starts(facts)) == {"p_c"}


# --- the organisation's time zone ----------------------------------------------------------------------------
def test_months_follow_the_organisations_time_zone():
    from zoneinfo import ZoneInfo
    at = datetime(2025, 7, 1, 5, tzinfo=timezone.utc)  # 1 July 01:00 in Montréal, 30 June 22:00 in Vancouver
    facts = Facts(updates=[CallUpdateFact("c", at, "cleared", disposition="regle_sur_place")])
    assert outcomes.dispositions(facts)["by_month"][0]["month"] == "2025-07"
    assert outcomes.dispositions(facts, ZoneInfo("America/Vancouver"))["by_month"][0]["month"] == "2025-06"
    assert month_end("2025-06", ZoneInfo("America/Vancouver")).isoformat() == "2025-07-01T00:00:00-07:00"


def test_dates_and_zone_read_in_the_readers_locale():
    from zoneinfo import ZoneInfo
    from services.analytics.domain import localtime as lt
    mtl = ZoneInfo("America/Montreal")
    fr, en = lt.locale_for("fr"), lt.locale_for("en", "en-US,en;q=0.8")
    winter, summer = datetime(2026, 12, 1, 15, 4, tzinfo=timezone.utc), datetime(2026, 7, 1, 15, tzinfo=timezone.utc)
    assert str(fr) == "fr_CA" and str(en) == "en_US" and str(lt.locale_for("en")) == "en_CA"
    assert lt.zone_label(mtl, winter, fr) == "heure de Montréal (HNE)"
    assert lt.zone_label(mtl, summer, fr) == "heure de Montréal (HAE)"
    assert lt.zone_label(mtl, winter, en) == "Montréal time (EST)"
    assert lt.zone_label(ZoneInfo("America/Vancouver"), summer, lt.locale_for("fr")) == "heure de Vancouver (HAP)"
    assert lt.day(winter, mtl, fr) == "1 déc. 2026" and lt.day(winter, mtl, en) == "Dec 1, 2026"
    assert lt.moment(winter, mtl, fr) == "1 déc. 2026, 10 h 04"
    assert lt.month_label("2026-12", fr) == "déc. 2026" and lt.week_label("2026-11-30", fr) == "30 nov. 2026"
    assert lt.day(datetime(2026, 12, 2, 3, tzinfo=timezone.utc), mtl, fr) == "1 déc. 2026"  # 22:00 the day before
