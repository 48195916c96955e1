"""Dyad activity and alert latency, from the alert timeline, triage decisions and calls. Pure functions."""
from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.analytics.domain.calendar import shift_of
from services.analytics.domain.facts import BACKFILL_AFTER, MONTREAL, AlertEventFact, Facts, aware, in_period

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


def dyad_activity(facts: Facts, tz: ZoneInfo = MONTREAL) -> list[dict]:
    """Per dyad (alerts with no dyad are grouped under `(aucune)`):

    - alerts: distinct alerts (`alert_id`) of kind `appel` addressed to the dyad;
    - acknowledged: those that reached `acknowledged`; escalated: reached `escalated`;
    - missed_for_capacity: alerts that reached `missed_for_capacity` (the dyad, or the sector, was busy);
    - time_to_ack: seconds from the alert's `created` (else its first event) to its first `acknowledged`
      (n, median, mean, p90 — the 90th percentile by nearest rank — and max);
    - follow_ups_due: alerts of kind `suivi`; follow_ups_done: those that reached `acknowledged` or `closed`;
    - workload per shift: acknowledged alerts (both kinds) per shift worked, a shift being the alert's
      `shift` field, else `YYYY-MM-DD/jour|nuit` of the acknowledgement (in `tz`); mean and max over the
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
            row["_shifts"][story.attr("shift") or shift_of(acked, tz)] += 1
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


STAGES = ("received_to_triage", "received_to_delivered", "delivered_to_ack", "received_to_ack")


@dataclass
class LatencySamples:
    """Stage durations in seconds, each with its sector; and, per stage, the samples left out because their
    call is history (`backfill`) or has no processing time yet (`unmeasured`: stored before analytics_0002)."""
    samples: dict[str, list[tuple[str | None, float]]] = field(default_factory=lambda: {k: [] for k in STAGES})
    backfill: dict[str, int] = field(default_factory=lambda: {k: 0 for k in STAGES})
    unmeasured: dict[str, int] = field(default_factory=lambda: {k: 0 for k in STAGES})

    def items(self):
        return self.samples.items()


def latency_samples(facts: Facts, *, start: datetime | None = None, end: datetime | None = None,
                    backfill_after: timedelta = BACKFILL_AFTER) -> LatencySamples:
    """Stage durations in seconds, measured on Dyade's own processing clocks — never on the dispatch
    system's event time, whose clock and offset are the source's:

    - *received* = when intake published the call (`produced_at` of its first `call.received`);
    - *triage* = when triage published its first decision on the call (`produced_at` of `triage.decided`);
    - *delivered*, *acknowledged* = the notifier's time of the alert's first `delivered` / `acknowledged`
      (`occurred_at` of `alert.changed`: the notifier's own clock at the state change; its `produced_at` is
      the later publication by the outbox relay);

    `received_to_triage`, `received_to_delivered` (alerts of kind `appel`), `delivered_to_ack` (same alert),
    `received_to_ack`. The call of an alert is its `call_id`.

    Live only: a call that is history — marked as a replay by its source, or published by intake more than
    `backfill_after` (120 min) after the dispatch system received it (`CallFact.is_backfill`) — gives no
    sample, nor do its decisions and alerts; nor does a decision whose call is unknown but which came more
    than `backfill_after` after the call's received time. Samples left out are counted: `backfill`, or
    `unmeasured` when the call is not known (yet) or was stored before processing times were kept
    (analytics_0002: `dyade analytics rebuild`). Negative durations (clock skew) are kept out.

    With `start` or `end`, the samples of the period [start, end) out of the whole history in `facts`: a call's
    `received_to_triage` when its first decision is in the period, an alert's stages when the alert was
    created in it (`Facts.between`). Cutting the facts first would lose the call received before `start`
    (its samples counted `unmeasured`) and take a later revision's decision for the first.
    """
    calls = {c.call_id: c for c in facts.calls}
    out = LatencySamples()

    def start_of(call_id: str | None, stage: str) -> datetime | None:
        c = calls.get(call_id or "")
        if c is None or c.ingested_at is None:  # the call is not known (yet), or stored before 0002
            out.unmeasured[stage] += 1
            return None
        if c.is_backfill(backfill_after):
            out.backfill[stage] += 1
            return None
        return aware(c.ingested_at)

    first_decision: dict[str, tuple[datetime, datetime, str | None]] = {}
    for d in facts.decisions:
        got = first_decision.get(d.call_id)
        if got is None or aware(d.decided_at) < got[1]:
            first_decision[d.call_id] = (aware(d.call_received_at), aware(d.decided_at), d.sector)
    for call_id, (cad_received, decided, sector) in first_decision.items():
        if not in_period(decided, start, end):
            continue
        if call_id not in calls and decided - cad_received > backfill_after:
            out.backfill["received_to_triage"] += 1
            continue
        rec = start_of(call_id, "received_to_triage")
        if rec is not None:
            _add(out.samples["received_to_triage"], sector, (decided - rec).total_seconds())
    for story in alert_stories(facts.between(start, end) if start or end else facts):
        if story.kind == "suivi":
            continue
        sector = story.attr("sector")
        delivered, acked = story.first("delivered"), story.first("acknowledged")
        call_id = story.attr("call_id")
        c = calls.get(call_id or "")
        if c is not None and c.is_backfill(backfill_after):
            for stage, reached in (("received_to_delivered", delivered), ("delivered_to_ack", delivered and acked),
                                   ("received_to_ack", acked)):
                out.backfill[stage] += bool(reached)
            continue
        if delivered:
            rec = start_of(call_id, "received_to_delivered")
            if rec is not None:
                _add(out.samples["received_to_delivered"], sector, (delivered - rec).total_seconds())
        if delivered and acked:
            _add(out.samples["delivered_to_ack"], sector, (acked - delivered).total_seconds())
        if acked:
            rec = start_of(call_id, "received_to_ack")
            if rec is not None:
                _add(out.samples["received_to_ack"], sector, (acked - rec).total_seconds())
    return out


def _add(samples: list, sector: str | None, seconds: float) -> None:
    if seconds >= 0:
        samples.append((sector, seconds))


def latency(facts: Facts, *, start: datetime | None = None, end: datetime | None = None,
            backfill_after: timedelta = BACKFILL_AFTER) -> dict[str, dict]:
    """Histogram of each stage (see `latency_samples`, and for the period), all sectors together, each with the
    number of samples left out as history (`excluded_backfill`) or not measurable (`excluded_unmeasured`)."""
    got = latency_samples(facts, start=start, end=end, backfill_after=backfill_after)
    return {stage: {**histogram([s for _, s in samples]), "excluded_backfill": got.backfill[stage],
                    "excluded_unmeasured": got.unmeasured[stage]}
            for stage, samples in got.items()}
