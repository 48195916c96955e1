"""Prometheus exposition of the figures: a collector computing gauges and histograms at scrape time from
the figure book (cached), labelled by sector, dyad, month, stage, category or state — never by person.
Month-labelled series are limited to the last 13 months to bound cardinality."""
from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict

from prometheus_client import REGISTRY, Counter
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

from services.analytics.domain.dyads import LATENCY_BUCKETS
from services.analytics.domain.facts import month_of

log = logging.getLogger("dyade.analytics")

EVENTS_STORED = Counter("dyade_analytics_events_stored", "Events newly stored by analytics (duplicates excluded)")
MONTHS_KEPT = 13
P = "dyade_analytics_"


def _gauge(name: str, doc: str, labels: list[str], rows) -> GaugeMetricFamily:
    g = GaugeMetricFamily(P + name, doc, labels=labels)
    for values, value in rows:
        if value is not None:
            g.add_metric([str(v) for v in values], float(value))
    return g


class FigureCollector:
    """Registered once per process; `attach(book, lag)` points it at the running app's figure book."""

    def __init__(self):
        self.book = None
        self.lag = None

    def attach(self, book, lag=None) -> None:
        self.book, self.lag = book, lag

    def collect(self):
        if self.book is None:
            return
        try:
            yield from self._collect()
        except Exception:  # a scrape must not fail because a figure could not be computed
            log.exception("figures unavailable for /metrics")

    def _collect(self):
        from services.analytics.adapters.figures import Params
        book = self.book
        p = Params(window_days=book.config.window_days)
        rc = book.repeat_calls(p)
        yield _gauge("cohort_persons", "Persons in the before/after cohort (complete follow-up)", ["window_days"],
                     [((rc["window_days"],), rc["n_persons"])])
        yield _gauge("cohort_excluded_short_followup", "Persons excluded: follow-up shorter than the minimum",
                     ["window_days"], [((rc["window_days"],), rc["excluded_short_followup"])])
        yield _gauge("cohort_excluded_short_history", "Persons excluded: history before the start shorter than the "
                     "minimum", ["window_days"], [((rc["window_days"],), rc["excluded_short_history"])])
        yield _gauge("cohort_median_followup_days", "Median window (days, equal before and after) of the cohort",
                     ["window_days"], [((rc["window_days"],), rc["median_followup_days"])])
        for name, stat, doc in (("repeat_call_median_reduction", "median_reduction", "calls per 30 days"),
                                ("repeat_call_mean_reduction", "mean_reduction", "calls per 30 days"),
                                ("repeat_call_median_reduction_pct", "median_reduction_pct", "%"),
                                ("repeat_call_mean_reduction_pct", "mean_reduction_pct", "%")):
            yield _gauge(name, f"Cohort {stat.replace('_', ' ')} ({doc}), before vs after the intervention start",
                         ["window_days"], [((rc["window_days"],), rc[stat])])
        trend = rc["trend"][-MONTHS_KEPT:]
        yield _gauge("repeat_calls", "Repeat calls by month", ["month"], [((r["month"],), r["repeat_calls"]) for r in trend])
        yield _gauge("repeat_call_share", "Share of calls that are repeat calls, by month", ["month"],
                     [((r["month"],), r["share"]) for r in trend])
        gu = book.grandes_utilisatrices(p)[-MONTHS_KEPT:]
        yield _gauge("grandes_utilisatrices", "Grandes utilisatrices by month", ["month"],
                     [((r["month"],), r["grandes_utilisatrices"]) for r in gu])
        yield _gauge("grandes_utilisatrices_call_share", "Share of the month's calls about grandes utilisatrices",
                     ["month"], [((r["month"],), r["share"]) for r in gu])
        dy = book.dyads(p)
        for name, field, doc in (("dyad_alerts", "alerts", "Call alerts"),
                                 ("dyad_acknowledged", "acknowledged", "Alerts acknowledged"),
                                 ("dyad_escalated", "escalated", "Alerts escalated"),
                                 ("dyad_missed_for_capacity", "missed_for_capacity", "Alerts missed for capacity"),
                                 ("dyad_follow_ups_due", "follow_ups_due", "Follow-ups due"),
                                 ("dyad_follow_ups_done", "follow_ups_done", "Follow-ups done"),
                                 ("dyad_workload_per_shift_mean", "workload_per_shift_mean",
                                  "Acknowledged alerts per shift worked (mean)")):
            yield _gauge(name, f"{doc}, by dyad", ["dyad", "sector"],
                         [((r["dyad_id"], r["sector"] or ""), r[field]) for r in dy["dyads"]])
        yield _gauge("dyad_time_to_ack_median_seconds", "Median time to acknowledge, by dyad", ["dyad", "sector"],
                     [((r["dyad_id"], r["sector"] or ""), r["time_to_ack_s"]["median"]) for r in dy["dyads"]])
        yield _gauge("missed_for_capacity", "Alerts missed for capacity, by sector", ["sector"],
                     [((s,), n) for s, n in dy["missed_for_capacity_by_sector"].items()])
        yield self._latency()
        disp = book.dispositions(p)
        yield _gauge("dispositions", "Calls by final disposition and month", ["month", "disposition"],
                     [((r["month"], d), n) for r in disp["by_month"][-MONTHS_KEPT:] for d, n in r["counts"].items()])
        yield _gauge("voluntary_transport_share", "Voluntary share of transports, by month", ["month"],
                     [((r["month"],), r["voluntary_share"]) for r in disp["by_month"][-MONTHS_KEPT:]])
        fr = book.frames(p)
        yield _gauge("frames", "Info-social frames by state", ["state"],
                     [((s,), fr[s]) for s in ("current", "review_due", "stale")])
        ref = book.referrals(p)
        yield _gauge("referrals_by_source", "Confirmed referrals by source (triage: suggestions a social worker "
                     "took on)", ["source"], [((k,), v) for k, v in ref["by_source"].items()])
        yield _gauge("referral_suggestions", "Triage's referral suggestions by state", ["state"],
                     [((k,), v) for k, v in ref["suggested"].items() if k != "total"])
        yield _gauge("referrals_by_criterion", "Confirmed referrals by criterion", ["criterion"],
                     [((k,), v) for k, v in ref["by_criterion"].items()])
        yield _gauge("referral_first_contact_median_days", "Median days from referral to first contact", [],
                     [((), ref["time_to_first_contact_days"]["median"])])
        months: dict[tuple[str, str], int] = defaultdict(int)
        for c in book.facts().calls:
            months[(month_of(c.received_at, book.tz), c.category)] += 1
        kept = sorted({m for m, _ in months})[-MONTHS_KEPT:]
        yield _gauge("calls", "Calls by month and category", ["month", "category"],
                     [((m, cat), n) for (m, cat), n in sorted(months.items()) if m in kept])
        if self.lag is not None:
            yield _gauge("consumer_lag", "Records not yet processed by the analytics group, by topic", ["topic"],
                         [((topic,), n) for topic, n in sorted(self.lag().items())])

    def _latency(self) -> HistogramMetricFamily:
        h = HistogramMetricFamily(P + "latency_seconds", "Call received → triage → alert delivered → acknowledged, "
                                  "on Dyade's processing clocks, live calls only (replays and backfills left out)",
                                  labels=["stage", "sector"])
        grouped: dict[tuple[str, str], list[float]] = defaultdict(list)
        for stage, samples in self.book.latency_samples().items():
            for sector, seconds in samples:
                grouped[(stage, sector or "")].append(seconds)
        for (stage, sector), values in sorted(grouped.items()):
            buckets = [(str(float(b)), sum(1 for v in values if v <= b)) for b in LATENCY_BUCKETS]
            buckets.append(("+Inf", len(values)))
            h.add_metric([stage, sector], buckets, sum(values))
        return h


COLLECTOR = FigureCollector()
_registered = threading.Lock()
_done = False


def register() -> FigureCollector:
    global _done
    with _registered:
        if not _done:
            REGISTRY.register(COLLECTOR)
            _done = True
    return COLLECTOR


class LagProbe:
    """Consumer lag of a group: end offset − committed offset per topic, cached a few seconds."""

    def __init__(self, bootstrap: str, group_id: str, topics: tuple[str, ...], ttl_s: float = 10.0):
        self.bootstrap, self.group_id, self.topics, self.ttl_s = bootstrap, group_id, topics, ttl_s
        self._cache: dict[str, int] = {}
        self._at = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> dict[str, int]:
        with self._lock:
            if time.monotonic() - self._at > self.ttl_s:
                try:
                    self._cache = self._measure()
                except Exception as exc:
                    log.warning("consumer lag unavailable", extra={"error": str(exc)[:200]})
                self._at = time.monotonic()
            return dict(self._cache)

    def _measure(self) -> dict[str, int]:
        from kafka import KafkaConsumer, TopicPartition
        committed = committed_offsets(self.bootstrap, self.group_id)
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                 client_id="analytics-lag-probe", request_timeout_ms=5000)
        try:
            parts = [TopicPartition(t, p) for t in self.topics for p in (consumer.partitions_for_topic(t) or ())]
            ends = consumer.end_offsets(parts)
        finally:
            consumer.close()
        lag: dict[str, int] = defaultdict(int)
        for tp, end in ends.items():
            lag[tp.topic] += max(0, end - committed.get(tp, 0))
        return dict(lag)


def committed_offsets(bootstrap: str, group_id: str) -> dict:
    """The group's committed offset of each partition (TopicPartition → offset)."""
    from dyade.kafka import admin
    client = admin(bootstrap, timeout_ms=3000)
    try:
        found = client.list_group_offsets({group_id: None}).get(group_id, {})
    finally:
        client.close()
    return {tp: meta.offset for tp, meta in found.items() if meta is not None and meta.offset >= 0}
