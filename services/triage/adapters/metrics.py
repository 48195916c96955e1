"""Prometheus metrics of the worker (labels: topics, levels — never person keys)."""
from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter("dyade_triage_events_total", "Events consumed by triage", ["topic"])
DEAD_LETTERS = Counter("dyade_triage_dead_letters_total", "Events sent to a dead-letter topic", ["topic"])
DECISIONS = Counter("dyade_triage_decisions_total", "Triage decisions published", ["level"])
SUGGESTIONS = Counter("dyade_triage_referral_suggestions_total", "Referral suggestions published")
DECIDE_SECONDS = Histogram("dyade_triage_decide_seconds", "Time to decide one call (domain only)",
                           buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05))
TRIAGE_DELAY = Histogram("dyade_triage_delay_seconds", "Call received (event time) to decision published",
                         buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600))
READY = Gauge("dyade_triage_ready", "1 when partitions are assigned and tables recovered")
REREADS = Counter("dyade_triage_rereads_total",
                  "Partitions sought back to their committed offset: records skipped on their way to the agent "
                  "(around a rebalance) are read again instead of committed over", ["topic"])
