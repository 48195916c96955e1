"""The ground truth written beside a stream: per known person, the intervention (frame or dyad follow-up)
and its date, the expected call rate before and after, the calls actually emitted before and after;
and the cohort figures analytics should find."""
from __future__ import annotations

from datetime import datetime, timedelta

from dyade.simulation.calls import TZ
from dyade.simulation.simulation import Simulation

TRUTH_VERSION = 1


def _rate(calls: int, days: float) -> float | None:
    return round(calls * 365 / days, 2) if days > 0 else None


def ground_truth(sim: Simulation) -> dict:
    """Call after the stream has been consumed: counts are those of what was emitted."""
    k, t = sim.knobs, sim.tally
    start = datetime.combine(k.start, datetime.min.time(), TZ)
    end = t.last_dt or (start + timedelta(days=k.days))
    period_days = max((end - start).total_seconds() / 86400, 1e-9)
    persons = []
    for p in sim.population.persons:
        calls = t.person_calls.get(p.person_id, [])
        iv = sim.interventions.get(p.person_id)
        before = [c for c in calls if not c[2]]
        after = [c for c in calls if c[2]]
        days_before = ((min(iv.at, end) - start).total_seconds() / 86400) if iv else period_days
        days_after = max(0.0, (end - iv.at).total_seconds() / 86400) if iv else 0.0
        persons.append({
            "person_id": p.person_id,
            "kind": p.kind,
            "identity": p.canonical,
            "home": {"address": p.home.text, "sector": p.home.sector},
            "expected_rate_before": p.rate_per_year,
            "expected_rate_after": iv.rate_after if iv else None,
            "intervention": ({"kind": iv.kind, "at": iv.at.isoformat(), "responder": iv.responder,
                              "referral_id": f"{k.prefix}-REF-{p.person_id}"} if iv else None),
            "calls_before": len(before),
            "calls_after": len(after),
            "observed_rate_before": _rate(len(before), days_before),
            "observed_rate_after": _rate(len(after), days_after) if iv else None,
            "days_before": round(days_before, 3),
            "days_after": round(days_after, 3),
            "call_ids": [c[0] for c in calls],
        })
    return {
        "truth_version": TRUTH_VERSION,
        "generator": sim.knobs_json(),
        "stream": {"calls": t.calls, "updates": t.updates, "referrals": t.referrals,
                   "crisis_calls": t.crisis_calls, "by_nature": dict(sorted(t.by_nature.items())),
                   "first_call_at": t.first_at, "last_call_at": t.last_at, "period_days": round(period_days, 3)},
        "cohort": cohort_figures(sim, persons, period_days),
        "persons": persons,
    }


def cohort_figures(sim: Simulation, persons: list[dict], period_days: float) -> dict:
    k = sim.knobs
    intervened = [p for p in persons if p["intervention"]]
    responders = [p for p in intervened if p["intervention"]["responder"]]

    def pooled(group: list[dict], which: str) -> float | None:
        calls = sum(p[f"calls_{which}"] for p in group)
        days = 0.0
        for p in group:
            at = datetime.fromisoformat(p["intervention"]["at"])
            start = datetime.combine(k.start, datetime.min.time(), TZ)
            b = (at - start).total_seconds() / 86400
            days += b if which == "before" else max(0.0, period_days - b)
        return round(calls * 365 / days, 3) if days > 0 else None

    before, after = pooled(intervened, "before"), pooled(intervened, "after")
    crisis_repeat = sum(p["calls_before"] + p["calls_after"] for p in persons)
    yearly_7 = 7 * period_days / 365
    return {
        "high_utilisers": sum(p["kind"] in ("extreme", "cohort") for p in persons),
        "repeaters": sum(p["kind"] == "repeater" for p in persons),
        "with_intervention": len(intervened),
        "by_intervention_kind": {kind: sum(p["intervention"]["kind"] == kind for p in intervened)
                                 for kind in ("fiche", "suivi_dyade")},
        "responders": len(responders),
        "expected_reduction_of_intervened": round(k.effect_share * k.reduction, 4),
        "expected_reduction_of_responders": k.reduction,
        "observed_rate_before_intervened": before,
        "observed_rate_after_intervened": after,
        "observed_reduction_of_intervened": round(1 - after / before, 4) if before and after is not None else None,
        "persons_at_7_or_more_crisis_calls_a_year": sum(
            (p["calls_before"] + p["calls_after"]) >= yearly_7 for p in persons),
        "crisis_calls_of_known_persons": crisis_repeat,
        "crisis_calls_of_others": sim.tally.crisis_calls - crisis_repeat,
        "extreme": [{"person_id": p["person_id"], "calls": p["calls_before"] + p["calls_after"],
                     "calls_per_6_months": round((p["calls_before"] + p["calls_after"]) * 182.5 / period_days, 1)}
                    for p in persons if p["kind"] == "extreme"],
    }


# --- the live demo ------------------------------------------------------------------------------------------
MENTAL_HEALTH = {"etat_mental_perturbe", "suicidaire"}


def most_in_six_months(times: list[datetime]) -> int:
    """The most calls of one person within any 182.5 days."""
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while (t - times[lo]).total_seconds() > 182.5 * 86400:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def demo_truth(demo) -> dict:
    """What the running demo sent and what its dyads did (dyade/simulation/demo.py): the figures the dashboard
    must show — calls by category, per-person recurrence, alerts taken, escalated, delays, dispositions."""
    import os
    from statistics import median

    from dyade.contracts.vocabulary import CallCategory
    from dyade.simulation.profiles import CODE_TABLE

    sent, o = demo.sent, demo.options
    by_category: dict[str, int] = {}
    per_person: dict[str, list[datetime]] = {}
    for c in sent.calls.values():
        cat = CODE_TABLE[c.nature_code].value
        by_category[cat] = by_category.get(cat, 0) + 1
        if c.person_id:
            per_person.setdefault(c.person_id, []).append(c.at)
    total = len(sent.calls)
    crisis = sum(n for cat, n in by_category.items() if CallCategory(cat).is_crisis)
    stories = list(demo.team.stories.values()) if demo.team else []
    acked = [s for s in stories if s.acked_by]
    delays = sorted(s.ack_delay_s for s in acked if s.ack_delay_s is not None)
    turns = [t for s in stories for t in s.turns if t["outcome"] in ("acknowledged", "late")]
    dispositions = {call: d for call, (_, d) in sent.cad_dispositions.items()}
    for s in acked:
        dispositions.update({call: s.disposition for call in s.cleared_calls if call in sent.calls})
    counts: dict[str, int] = {}
    for d in dispositions.values():
        counts[d] = counts.get(d, 0) + 1
    escalation_s = float(os.environ.get("NOTIFIER_ACK_DELAY_S") or 180)
    persons = demo.sim.population.by_id
    clock = demo.clock
    return {
        "truth_version": TRUTH_VERSION,
        "clock": {"speed": o.speed, "days": o.days,
                  "city_start": clock.start.isoformat() if clock else None,
                  "caught_up_at": clock.caught_up_at.isoformat() if clock else None,
                  "city_now": clock.city().isoformat() if clock else None},
        "calls": {"total": total, "history": sum(c.phase == "history" for c in sent.calls.values()),
                  "live": sum(c.phase == "live" for c in sent.calls.values()),
                  "by_category": dict(sorted(by_category.items())),
                  "crisis_share": _share(crisis, total),
                  "mental_health_share": _share(sum(by_category.get(c, 0) for c in MENTAL_HEALTH), total),
                  "first": min((c.at for c in sent.calls.values()), default=None) and
                  min(c.at for c in sent.calls.values()).isoformat(),
                  "last": max((c.at for c in sent.calls.values()), default=None) and
                  max(c.at for c in sent.calls.values()).isoformat(),
                  "rejected": sent.rejected, "not_sent_gap": sent.skipped_gap},
        "persons": {"followed": demo.sim.knobs.profile.followed_persons,
                    "followed_who_called": sum(1 for pid in per_person if persons[pid].kind in ("extreme", "cohort")),
                    "max_calls_in_6_months": max((most_in_six_months(t) for t in per_person.values()), default=0),
                    "by_kind": {kind: sum(len(t) for pid, t in per_person.items() if persons[pid].kind == kind)
                                for kind in ("extreme", "cohort", "repeater")}},
        "alerts": {"seen": len(stories), "acknowledged": len(acked),
                   "escalated": sum(s.escalated for s in stories),
                   "acknowledged_share": _share(len(acked), len(stories)),
                   "escalated_share": _share(sum(s.escalated for s in stories), len(stories)),
                   "ack_delay_median_s": round(median(delays), 1) if delays else None,
                   "turns_late": sum(t["outcome"] == "late" for t in turns), "turns": len(turns),
                   "expected_late_share": round(o.behaviour.late_share(escalation_s), 4),
                   "escalation_delay_s": escalation_s,
                   "closed_by_dyads": sum(s.closed for s in acked)},
        "dispositions": dict(sorted(counts.items())),
        "referrals": sent.referrals,
        "ledger": demo.team.ledger() if demo.team else [],
    }
