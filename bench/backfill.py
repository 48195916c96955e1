"""A city's history backfilled: N calls already on calls.received.v2 (as a bulk import leaves them, marked
`backfill`), decided by the triage worker and stored by analytics' live consumer, both running as in
production, with progress. The figure is the time from the worker's readiness until analytics holds every
call and every decision.

Baseline in the same run: reading the same N records from the broker with a plain kafka-python consumer
(no group, every partition to its end, nothing decoded) — the least any consumer of the backlog takes.

    python -m bench.backfill [--calls 200000] [--quick]        # --calls 1000000 for the issue's figure
"""
from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import func, select

from bench._db import bench_database
from bench.analytics import calls_to_run, publish_calls, read_only
from bench.triage import run_worker

RESULTS = Path(__file__).parent / "results"


def stored(sessions) -> tuple[int, int]:
    from services.analytics.adapters.models import calls, decisions
    with sessions() as session:
        return (session.scalar(select(func.count()).select_from(calls)),
                session.scalar(select(func.count()).select_from(decisions)))


def main() -> None:
    n = calls_to_run(__doc__)
    logging.disable(logging.WARNING)
    from dyade.broker import EmbeddedBroker
    from dyade.db import make_engine, make_sessionmaker, migrate
    from dyade.kafka import create_topics
    from services.analytics.entrypoints.consumers import start_consumer

    url, drop = bench_database("dyade_bench_backfill")
    load_before = os.getloadavg()[0]
    try:
        migrate(url)
        with EmbeddedBroker() as broker:
            bootstrap = broker.bootstrap_servers
            create_topics(bootstrap)
            print(f"publishing {n:,} calls…", file=sys.stderr, flush=True)
            publish_s = publish_calls(bootstrap, n, source="backfill")
            read, read_s = read_only(bootstrap)
            engine = make_engine(url)
            sessions = make_sessionmaker(engine)
            analytics = start_consumer(bootstrap, sessions, group_id="analytics-backfill")
            progress_stop = threading.Event()

            def progress(t0: float) -> None:
                while not progress_stop.wait(30):
                    c, d = stored(sessions)
                    elapsed = time.perf_counter() - t0
                    print(f"  … analytics: {c:,}/{n:,} calls, {d:,} decisions stored, {elapsed:.0f} s",
                          file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            threading.Thread(target=progress, args=(t0,), daemon=True).start()
            worker = run_worker(bootstrap, n, timeout=3600)
            triage_done = time.perf_counter()
            deadline = triage_done + 1800
            while stored(sessions) != (n, n) and time.perf_counter() < deadline:
                time.sleep(1)
            done = time.perf_counter()
            calls_stored, decisions_stored = stored(sessions)
            progress_stop.set()
            analytics.stop()
            engine.dispose()
    finally:
        drop()
    # the clock runs from the worker's readiness (its start, the same in a live deployment, is apart)
    total_s = done - t0 - worker["start_s"]
    out = {"benchmark": "backfill", "calls": n, "database": url.split(":")[0],
           "seconds": round(total_s, 1), "calls_per_s": round(n / total_s),
           "triage_seconds": round(worker["elapsed_s"], 1), "triage_start_s": round(worker["start_s"], 1),
           "analytics_after_triage_s": round(done - triage_done, 1),
           "calls_stored": calls_stored, "decisions_stored": decisions_stored,
           "worker_peak_rss_mb": round(worker["peak_rss_mb"]), "read_only_s": round(read_s, 1),
           "ratio": round(total_s / read_s, 1), "publish_s": round(publish_s, 1),
           "cpus": os.cpu_count(), "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
           "at": datetime.now(timezone.utc).isoformat()}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "backfill.json").write_text(json.dumps(out, indent=2))
    print(f"backfill of {n:,} calls through triage and analytics: {out['seconds']} s ({out['calls_per_s']}/s; "
          f"triage {out['triage_seconds']} s, analytics done {out['analytics_after_triage_s']} s later); "
          f"stored {calls_stored:,} calls, {decisions_stored:,} decisions — baseline, reading them from the "
          f"broker: {out['read_only_s']} s (×{out['ratio']})")
    if (calls_stored, decisions_stored) != (n, n):
        sys.exit(1)


if __name__ == "__main__":
    main()
