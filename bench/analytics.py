"""Rebuild time of analytics: `dyade analytics rebuild` over N calls, next to the time to merely read
the same records from the broker in the same run (a group-less consumer reading every partition to its end,
decoding nothing).

The difference is analytics' own work: decode every event with the contracts, drop duplicates against the
processed-event ledger, and write the facts (PostgreSQL, or SQLite when none answers). The calls are
real `call.received` v2 events on the embedded Tansu broker, 60 % about a person from a pool of N/8
(a few heavy repeaters), spread over two years. After the rebuild, the time to compute the headline figure
(repeat-call reduction, loading every fact) is reported too.

    python -m bench.analytics [--calls 200000] [--quick]      # --calls 1000000 for the full figure
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench._db import bench_database

RESULTS = Path(__file__).parent / "results"


def database() -> tuple[str, callable]:
    return bench_database("dyade_bench_analytics")


def publish_calls(bootstrap: str, n: int, seed: int = 8, source: str = "bench") -> float:
    from dyade.contracts.calls import CallPayload, CallReceived, Location, PersonRef
    from dyade.kafka import make_producer, publish
    rng = random.Random(seed)
    persons = max(1, n // 8)
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    categories = ("etat_mental_perturbe", "suicidaire", "detresse", "bien_etre", "desordre_public", "autre")
    producer = make_producer(bootstrap, linger_ms=50, batch_size=512 * 1024, max_in_flight_requests_per_connection=5)
    t0 = time.perf_counter()
    for i in range(n):
        refs = ()
        if rng.random() < 0.6:
            who = int(rng.paretovariate(1.2)) % persons
            refs = (PersonRef(person_key=f"p_{who:08x}", role="sujet"),)
        payload = CallPayload(call_id=f"bench-{i}", nature_code="5150", category=rng.choice(categories),
                              location=Location(location_key=f"l_{rng.randrange(n // 20 + 1):06x}",
                                                sector=f"S{rng.randrange(1, 6)}"),
                              persons=refs)
        at = start + timedelta(seconds=rng.randrange(2 * 365 * 86400))
        publish(producer, CallReceived.new(payload=payload, occurred_at=at, source=source, correlation_id=f"bench-{i}"))
        if i % 50_000 == 49_999:
            print(f"  published {i + 1}", file=sys.stderr, flush=True)
    producer.flush(300)
    producer.close()
    return time.perf_counter() - t0


def read_only(bootstrap: str) -> tuple[int, float]:
    from services.analytics.adapters.rebuild import open_replay, replay
    t0 = time.perf_counter()
    consumer, end, total = open_replay(bootstrap)
    try:
        read = replay(consumer, end, lambda records: None)
    finally:
        consumer.close()
    assert read >= total, (read, total)
    return read, time.perf_counter() - t0


def calls_to_run(doc: str) -> int:
    """--calls N (default 200 000) or --quick (20 000): the size of a benchmark over N calls."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--quick", action="store_true", help="20 000 calls")
    args = parser.parse_args()
    return 20_000 if args.quick else args.calls


def main() -> None:
    n = calls_to_run(__doc__)
    import logging
    logging.disable(logging.WARNING)
    from dyade.broker import EmbeddedBroker
    from dyade.db import make_engine, make_sessionmaker, migrate, unit_of_work
    from dyade.kafka import create_topics
    from services.analytics.adapters import store
    from services.analytics.domain.recurrence import repeat_call_reduction
    from services.analytics.adapters.rebuild import rebuild

    url, drop = database()
    try:
        migrate(url)
        with EmbeddedBroker() as broker:
            create_topics(broker.bootstrap_servers)
            print(f"publishing {n} calls…", file=sys.stderr, flush=True)
            publish_s = publish_calls(broker.bootstrap_servers, n)
            read, read_s = read_only(broker.bootstrap_servers)
            engine = make_engine(url)
            sessions = make_sessionmaker(engine)
            result = rebuild(broker.bootstrap_servers, sessions)
            t0 = time.perf_counter()
            with unit_of_work(sessions) as session:
                facts = store.load_facts(session)
            summary = repeat_call_reduction(facts, window_days=180).summary()
            figure_s = time.perf_counter() - t0
            engine.dispose()
        assert result.records == n and result.stored == n, result
        out = {
            "benchmark": "analytics_rebuild", "calls": n, "database": url.split(":")[0],
            "rebuild_s": round(result.seconds, 2), "read_only_s": round(read_s, 2),
            "ratio_rebuild_over_read": round(result.seconds / read_s, 2),
            "rebuild_calls_per_s": round(n / result.seconds), "read_calls_per_s": round(read / read_s),
            "publish_s": round(publish_s, 2), "figure_repeat_calls_s": round(figure_s, 2),
            "cohort_persons": summary["n_persons"], "machine_cpus": os.cpu_count(),
        }
    finally:
        drop()
    print(f"rebuild of {n} calls: {out['rebuild_s']} s ({out['rebuild_calls_per_s']}/s) — "
          f"baseline, reading them from the broker: {out['read_only_s']} s ({out['read_calls_per_s']}/s) — "
          f"ratio {out['ratio_rebuild_over_read']}×; repeat-call figure over all facts: {out['figure_repeat_calls_s']} s")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "analytics.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
