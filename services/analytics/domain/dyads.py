"""Dyad activity and alert latency, from the alert timeline, triage decisions and calls. Pure functions."""
from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from services.analytics.domain.calendar import shift_of
from services.analytics.domain.facts import AlertEventFact, Facts, aware

# Seconds; the same buckets feed the JSON API, the dashboard and Prometheus.
LATENCY_BUCKETS = (5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600)
FOLLOW_UP_DONE = {"acknowledged", "closed"}


@dataclass
class AlertStory:
    """One alert's states in time order."""
    alert_id: str
    events: list[AlertEventFact] = field(default_factory=list)

    def first(self, state: str) -> datetime | None:
        return next((aware(e.occurred_at) for e in self.events if e.state == state), None)

    @property
    def created_at(self) -> datetime:
        return self.first("created") or aware(self.events[0].occurred_at)

    def reached(self, state: str) -> bool:
        return any(e.state == state for e in self.events)

    def attr(self, name: str):
        """The last non-empty value of an attribute across the alert's events (dyad, sector, shift...)."""
        return next((getattr(e, name) for e in reversed(self.events) if getattr(e, name)), None)

    @property
    def kind(self) -> str:
        return self.events[0].kind


def alert_stories(facts: Facts) -> list[AlertStory]:
    by_id: dict[str, AlertStory] = {}
    for e in sorted(facts.alerts, key=lambda e: aware(e.occurred_at)):
        by_id.setdefault(e.alert_id, AlertStory(e.alert_id)).events.append(e)
    return list(by_id.values())


def _stats(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "median": None, "mean": None, "p90": None, "max": None}
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)]
    return {"n": len(values), "median": round(statistics.median(values), 3),
            "mean": round(statistics.fmean(values), 3), "p90": round(p90, 3), "max": round(ordered[-1], 3)}


def dyad_activity(facts: Facts) -> list[dict]:
    """Per dyad (alerts with no dyad are grouped under `(aucune)`):

    - alerts: distinct alerts (`alert_id`) of kind `appel` addressed to the dyad;
    - acknowledged: those that reached `acknowledged`; escalated: reached `escalated`;
    - missed_for_capacity: alerts that reached `missed_for_capacity` (the dyad, or the sector, was busy);
    - time_to_ack: seconds from the alert's `created` (else its first event) to its first `acknowledged`
      (n, median, mean, p90 — the 90th percentile by nearest rank — and max);
    - follow_ups_due: alerts of kind `suivi`; follow_ups_done: those that reached `acknowledged` or `closed`;
    - workload per shift: acknowledged alerts (both kinds) per shift worked, a shift being the alert's
      `shift` field, else `YYYY-MM-DD/jour|nuit` of the acknowledgement (local time); mean and max over the
      shifts in which the dyad acknowledged at least one alert.
    """
    rows: dict[str, dict] = {}
    for story in alert_stories(facts):
        dyad = story.attr("dyad_id") or "(aucune)"
        row = rows.setdefault(dyad, {"dyad_id": dyad, "sector": None, "alerts": 0, "acknowledged": 0,
                                     "escalated": 0, "missed_for_capacity": 0, "follow_ups_due": 0,
                                     "follow_ups_done": 0, "_ack_s": [], "_shifts": defaultdict(int)})
        row["sector"] = row["sector"] or story.attr("sector")
        if story.kind == "suivi":
            row["follow_ups_due"] += 1
            row["follow_ups_done"] += any(story.reached(s) for s in FOLLOW_UP_DONE)
        else:
            row["alerts"] += 1
            row["acknowledged"] += story.reached("acknowledged")
        row["escalated"] += story.reached("escalated")
        row["missed_for_capacity"] += story.reached("missed_for_capacity")
        acked = story.first("acknowledged")
        if acked:
            if story.kind != "suivi":
                row["_ack_s"].append((acked - story.created_at).total_seconds())
            row["_shifts"][story.attr("shift") or shift_of(acked)] += 1
    out = []
    for dyad in sorted(rows):
        row = rows[dyad]
        shifts = list(row.pop("_shifts").values())
        row["time_to_ack_s"] = _stats(row.pop("_ack_s"))
        row["shifts_worked"] = len(shifts)
        row["workload_per_shift_mean"] = round(statistics.fmean(shifts), 3) if shifts else None
        row["workload_per_shift_max"] = max(shifts) if shifts else None
        out.append(row)
    return out


def missed_for_capacity_by_sector(facts: Facts) -> dict[str, int]:
    """Alerts that reached `missed_for_capacity`, by sector (`(aucun)` when unknown)."""
    out: dict[str, int] = defaultdict(int)
    for story in alert_stories(facts):
        if story.reached("missed_for_capacity"):
            out[story.attr("sector") or "(aucun)"] += 1
    return dict(sorted(out.items()))


def histogram(values: list[float], buckets=LATENCY_BUCKETS) -> dict:
    """Cumulative counts per upper bound (Prometheus style: `le`), plus count, sum and percentiles."""
    counts = [sum(1 for v in values if v <= b) for b in buckets]
    return {"buckets": [{"le": b, "count": c} for b, c in zip(buckets, counts)] + [{"le": "+Inf", "count": len(values)}],
            "count": len(values), "sum": round(sum(values), 3), **{k: v for k, v in _stats(values).items() if k != "n"}}


def latency_samples(facts: Facts) -> dict[str, list[tuple[str | None, float]]]:
    """Stage durations in seconds, each with the sector it belongs to:

    - `received_to_triage`: triage decision time (the decision's `produced_at`) − call received time, first
      decision of each call;
    - `received_to_delivered`: first `delivered` of an alert of kind `appel` − its call's received time
      (the alert's `call_received_at`, else the call fact's);
    - `delivered_to_ack`: first `acknowledged` − first `delivered` of the same alert;
    - `received_to_ack`: first `acknowledged` − call received time.
    Negative durations (clock skew between systems) are kept out.
    """
    received = {c.call_id: aware(c.received_at) for c in facts.calls}
    out: dict[str, list[tuple[str | None, float]]] = {k: [] for k in (
        "received_to_triage", "received_to_delivered", "delivered_to_ack", "received_to_ack")}
    first_decision: dict[str, tuple[datetime, datetime, str | None]] = {}
    for d in facts.decisions:
        got = first_decision.get(d.call_id)
        if got is None or aware(d.decided_at) < got[1]:
            first_decision[d.call_id] = (aware(d.call_received_at), aware(d.decided_at), d.sector)
    for rec, dec, sector in first_decision.values():
        _add(out["received_to_triage"], sector, (dec - rec).total_seconds())
    for story in alert_stories(facts):
        if story.kind == "suivi":
            continue
        sector = story.attr("sector")
        rec = story.attr("call_received_at")
        rec = aware(rec) if rec else received.get(story.attr("call_id") or "")
        delivered, acked = story.first("delivered"), story.first("acknowledged")
        if rec and delivered:
            _add(out["received_to_delivered"], sector, (delivered - rec).total_seconds())
        if delivered and acked:
            _add(out["delivered_to_ack"], sector, (acked - delivered).total_seconds())
        if rec and acked:
            _add(out["received_to_ack"], sector, (acked - rec).total_seconds())
    return out


def _add(samples: list, sector: str | None, seconds: float) -> None:
    if seconds >= 0:
        samples.append((sector, seconds))


def latency(facts: Facts) -> dict[str, dict]:
    """Histogram of each stage (see `latency_samples`), all sectors together."""
    return {stage: histogram([s for _, s in samples]) for stage, samples in latency_samples(facts).items()}
