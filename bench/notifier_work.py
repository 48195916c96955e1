"""The notifier's own work per triage decision on the alert path, in process (no broker, no HTTP): what
`handle_batch` (services/notifier/entrypoints/consumers.py) does with a consumed batch of decisions — the
ledger, the duplicate and cleared-call checks, routing over the roster, the locking read of the open
alerts, the alert, its event, its call and the decision written, and the commit. One dyad always on duty
in sector S1; each decision about a new call, so each opens a new alert paging it.

Measured, per decision: SQL statements sent to the database (the commit counted apart), wall time p50 / p99
and CPU time (process_time) p50, for

- (a) `single`: a batch of one decision (the alert path at a low rate: each decision its own batch);
- (b) `batch20`: a batch of 20 decisions at once (a burst), the batch's figures divided by 20;
- (c) `stream_fetch`: what the live stream (entrypoints/stream.py `_fetch`) then does for the dyad's
  connected app after each commit of (a): read the changes past its cursor and the alerts' summaries.

Baseline in the same run, on the same database: the least a decision can cost there — one SQLAlchemy Core
transaction inserting one row into one table and committing. The ratio is figure / baseline (wall p50).

    python -m bench.notifier_work [--decisions 300] [--batches 15] [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, event, insert

from bench._db import bench_database

RESULTS = Path(__file__).parent / "results"
ALWAYS = [{"days": list(range(7)), "start": "00:00", "end": "00:00"}]


class Counted:
    """Counts the statements and commits an engine sends while a block runs."""

    def __init__(self, engine) -> None:
        self.statements = self.commits = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, *_):
        self.statements += 1

    def _commit(self, *_):
        self.commits += 1

    @contextmanager
    def measure(self, into: list):
        """Appends (statements, commits, wall ms, cpu ms) of the block to `into`."""
        s0, c0 = self.statements, self.commits
        t0, cpu0 = time.perf_counter(), time.process_time()
        yield
        into.append((self.statements - s0, self.commits - c0, (time.perf_counter() - t0) * 1000,
                     (time.process_time() - cpu0) * 1000))


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def summarize(samples: list[tuple], per: int = 1) -> dict:
    """Per decision: each sample covers `per` decisions."""
    stmts = [s / per for s, *_ in samples]
    wall = [w / per for *_, w, _ in samples]
    cpu = [c / per for *_, c in samples]
    return {"samples": len(samples), "decisions_per_sample": per,
            "statements": round(statistics.median(stmts), 2), "commits": round(statistics.median(
                [c / per for _, c, *_ in samples]), 3),
            "wall_p50_ms": round(percentile(wall, 0.50), 3), "wall_p99_ms": round(percentile(wall, 0.99), 3),
            "cpu_p50_ms": round(percentile(cpu, 0.50), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--decisions", type=int, default=300, help="single decisions measured (default 300)")
    ap.add_argument("--batches", type=int, default=15, help="batches of 20 measured (default 15)")
    ap.add_argument("--quick", action="store_true", help="100 decisions and 5 batches")
    args = ap.parse_args()
    if args.quick:
        args.decisions, args.batches = 100, 5

    import logging

    from dyade.settings import Settings
    from services.notifier.adapters.models import DyadRow
    from services.notifier.config import NotifierConfig
    from services.notifier.entrypoints import stream
    from services.notifier.entrypoints.consumers import handle_batch
    from services.notifier.runtime import Notifier
    from bench.notifier import decision
    logging.disable(logging.WARNING)

    url, drop = bench_database("dyade_bench_notifier_work")
    n = None
    try:
        settings = Settings(database_url=url, kafka_bootstrap_servers="", dyade_token_secret="x" * 40,
                            _env_file=None)
        n = Notifier(settings, NotifierConfig(tick_s=0, _env_file=None))   # not started: no threads
        with n.work() as s:
            s.add(DyadRow(dyad_id="D1", name="Dyade 1", sector="S1", members=[], shifts=ALWAYS, active=True,
                          updated_at=n.clock()))
        scratch = Table("bench_notifier_work_baseline", MetaData(), Column("id", Integer, primary_key=True),
                        Column("call_id", String(100)), Column("outcome", String(32)))
        scratch.create(n.engine)
        counted = Counted(n.engine)
        run = uuid.uuid4().hex[:6]

        baseline: list = []
        for i in range(args.decisions + 20):
            sample: list = baseline if i >= 20 else []
            with counted.measure(sample):
                with n.engine.begin() as conn:
                    conn.execute(insert(scratch).values(call_id=f"base-{run}-{i}", outcome="dyad"))

        single, fetched = [], []
        pos, sent = stream._cursor_now(n), set()
        for i in range(args.decisions + 20):   # the first 20 warm the caches (compiled statements, pool)
            events = [decision(f"one-{run}-{i}")]
            with counted.measure(single if i >= 20 else []):
                handle_batch(n, events)
            with counted.measure(fetched if i >= 20 else []):   # the dyad's app wakes and reads what changed
                batch = stream._fetch(n, pos, sent, "D1", "fr")
            for row_id, _ in batch:
                sent.add(row_id)
                pos = max(pos, row_id)
            sent = {r for r in sent if r > pos - stream.WINDOW}
            assert batch, "the dyad's stream got no change"

        batched: list = []
        for b in range(args.batches + 2):
            events = [decision(f"many-{run}-{b}-{k}") for k in range(20)]
            with counted.measure(batched if b >= 2 else []):
                handle_batch(n, events)
    finally:
        if n is not None:
            n.engine.dispose()
        drop()

    base = summarize(baseline)
    result = {"benchmark": "notifier_work", "database": url.split(":", 1)[0],
              "single": summarize(single), "batch20": summarize(batched, per=20),
              "stream_fetch": summarize(fetched), "baseline_core_insert_commit": base,
              "load_avg_1m": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
              "at": datetime.now(timezone.utc).isoformat()}
    for key in ("single", "batch20", "stream_fetch"):
        result[key]["ratio_wall_p50"] = round(result[key]["wall_p50_ms"] / base["wall_p50_ms"], 2)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "notifier_work.json").write_text(json.dumps(result, indent=2))

    print(f"notifier work per decision ({result['database']}, load {result['load_avg_1m']} on {result['cpus']} CPUs)")
    rows = [("(a) one decision per batch", result["single"]), ("(b) batch of 20, per decision", result["batch20"]),
            ("(c) stream _fetch per alert", result["stream_fetch"]),
            ("baseline: Core insert + commit", base)]
    for label, r in rows:
        ratio = f"  ×{r['ratio_wall_p50']}" if "ratio_wall_p50" in r else ""
        print(f"  {label:32} {r['statements']:6.2f} statements + {r['commits']:.2f} commit, wall p50 "
              f"{r['wall_p50_ms']:.2f} ms p99 {r['wall_p99_ms']:.2f} ms, CPU p50 {r['cpu_p50_ms']:.2f} ms{ratio}")


if __name__ == "__main__":
    main()
