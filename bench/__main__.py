"""`make bench`: run every benchmark in its default size (each prints its figure beside its baseline), then
write BENCHMARKS.md (repository root) from bench/results/*.json.

    python -m bench [--quick] [NAME ...]   run these benchmarks (default: all), then write BENCHMARKS.md
    python -m bench --table                only rewrite BENCHMARKS.md from the results already there

A benchmark without a readable result keeps the row of the README's former « Bancs d'essai » table, marked
with that table's date and source, until it is measured again.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

HERE = Path(__file__).parent
RESULTS = HERE / "results"
TABLE = HERE.parent / "BENCHMARKS.md"
README_SOURCE = "README « Bancs d'essai », not re-measured"

Row = dict[str, str]


def _ms(v) -> str:
    if v is None:
        return "?"
    return f"{v / 1000:.2f} s" if v >= 1000 else f"{v:.0f} ms" if v >= 10 else f"{v:.1f} ms"


def _x(v) -> str:
    if v is None:
        return "?"
    return f"×{v:.2f}" if v < 10 else f"×{v:.0f}" if v >= 100 else f"×{v:.1f}"


def _machine(r: dict) -> str:
    cpus = r.get("cpus") or r.get("machine_cpus") or (r.get("machine") or {}).get("cpus")
    load = r.get("load_average", r.get("load_avg_1m"))
    if isinstance(load, list):
        load = "→".join(f"{x:.1f}" for x in load[:2])
    elif isinstance(load, (int, float)):
        load = f"{load:.1f}"
    text = f"{cpus} CPUs" if cpus else "?"
    return text + (f", load {load} (measured under load)" if load else "")


def _date(r: dict, path: Path) -> str:
    if r.get("at"):
        return r["at"][:10]
    return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).date().isoformat() + " (file time)"


# --- rows from each benchmark's result file ------------------------------------------------------------

def pipeline_rows(r: dict) -> list[Row]:
    full, raw = r["intake_to_sse"], r["raw_hops"]
    stages = full.get("stages", {})
    order = [("relay", "relay"), ("triage_place", "triage place"), ("triage_decided", "triage decision"),
             ("notifier", "notifier"), ("sse", "SSE")]
    breakdown = " · ".join(f"{label} {_ms(stages[k].get('p50_ms'))} / {_ms(stages[k].get('p99_ms'))}"
                           for k, label in order if k in stages)
    settings = r.get("settings", {}).get("measured_path", {})
    fetches = ", ".join(f"{side.split(' ')[0]} {opts.get('fetch_max_wait_ms')}"
                        for side, opts in settings.items() if "fetch_max_wait_ms" in opts)
    return [
        {"figure": f"`bench.pipeline`: call accepted at intake → alert on the SSE client, "
                   f"{r['rate_per_s']:g} calls/s for {r['seconds']:g} s",
         "value": f"p50 {_ms(full.get('p50_ms'))}, p99 {_ms(full.get('p99_ms'))}; "
                  f"delivered {full.get('delivered', full.get('n'))}/{full.get('expected', full.get('calls'))}"
                  + (f"; the platform used {cpu} % of one core meanwhile"
                     if (cpu := full.get("platform_cpu_percent_while_streaming")) is not None else ""),
         "baseline": f"{r['hops']} bare kafka-python relays: p50 {_ms(raw.get('p50_ms'))}, "
                     f"p99 {_ms(raw.get('p99_ms'))}",
         "ratio": f"{_x(r.get('ratio_p50'))} / {_x(r.get('ratio_p99'))}",
         "target": "p99 < 300 ms at 20 calls/s and ≤ ×5 the raw chain; every call alerted"},
        {"figure": "`bench.pipeline`: per stage, p50 / p99 (events' own timestamps)"
                   + (f"; fetch_max_wait_ms: {fetches}" if fetches else ""),
         "value": breakdown or "?", "baseline": "—", "ratio": "—", "target": "—"},
    ] + ([{"figure": f"`bench.pipeline`: a call after a quiet spell ({q['calls']} calls, each after {q['quiet_s']} s "
                     f"without traffic: the alert path's idle fetch wait)",
           "value": f"p50 {_ms(q.get('p50_ms'))}, max {_ms(q.get('max_ms'))}", "baseline": "—", "ratio": "—",
           "target": "—"}] if (q := full.get("after_quiet")) and q.get("n") else [])


def notifier_rows(r: dict) -> list[Row]:
    n, hop = r["decision_to_sse_alert"], r["raw_broker_hop"]
    return [{"figure": f"`bench.notifier`: triage decision → alert on the SSE client, {r['rate_per_s']:g}/s "
                       f"for {r['seconds']:g} s ({r.get('database', '?')})",
             "value": f"p50 {_ms(n.get('p50_ms'))}, p99 {_ms(n.get('p99_ms'))}; received {n['received']}/{n['sent']}",
             "baseline": f"1 bare kafka-python hop, same records: p50 {_ms(hop.get('p50_ms'))}, "
                         f"p99 {_ms(hop.get('p99_ms'))}",
             "ratio": f"{_x(r.get('ratio_p50'))} / {_x(r.get('ratio_p99'))}", "target": "not set"}]


def notifier_work_rows(r: dict) -> list[Row]:
    base = r["baseline_core_insert_commit"]

    def line(case: dict) -> str:
        return (f"{case['statements']:g} statements + {case['commits']:g} commit, p50 {_ms(case['wall_p50_ms'])}, "
                f"CPU {_ms(case['cpu_p50_ms'])}")
    return [{"figure": f"`bench.notifier_work`: the notifier's own work per decision, in process "
                       f"({r.get('database', '?')}): {label}",
             "value": line(r[key]),
             "baseline": f"one Core INSERT + commit: p50 {_ms(base['wall_p50_ms'])}, CPU {_ms(base['cpu_p50_ms'])}",
             "ratio": _x(r[key].get("ratio_wall_p50")), "target": "—"}
            for key, label in (("single", "a batch of one (the alert path at a low rate)"),
                               ("batch20", "a batch of 20 (a burst), per decision"),
                               ("stream_fetch", "the live stream's read after each commit"))]


def startup_rows(r: dict) -> list[Row]:
    return [{"figure": "`bench.startup`: `dyade up` → every service ready",
             "value": f"{r['dyade_up_to_all_ready_s']:.1f} s (Tansu {_ms(r['broker_start_s'] * 1000)}, "
                      f"topics {_ms(r['topic_creation_s'] * 1000)})",
             "baseline": f"`python -c pass` {_ms(r['baseline_bare_python_start_s'] * 1000)}",
             "ratio": _x(r["ratio_up_vs_bare_python"]), "target": "—"}]


def intake_rows(r: dict) -> list[Row]:
    rows = [{"figure": f"`bench.intake`: calls accepted per second (durable PostgreSQL outbox), "
                       f"{r['concurrency']} in flight",
             "value": f"{r['durable']['per_s']:.0f}/s", "baseline": f"bare FastAPI, one INSERT per call on the "
                                                             f"same database: {r['bare']['per_s']:.0f}/s",
             "ratio": _x(r["ratio"]), "target": "≥ ×0.5"}]
    if "offered" in r:
        d, b = r["offered"]["durable"], r["offered"]["bare"]
        errors = {k: n for k, n in d["statuses"].items() if k != "202"}
        rows.append({"figure": f"`bench.intake`: {d['offered_per_s']:.0f} calls/s offered (open loop, "
                               f"{d['calls']} calls)",
                     "value": f"p50 {_ms(d['p50_ms'])}, p99 {_ms(d['p99_ms'])}; "
                              f"{d['statuses'].get('202', 0)}/{d['calls']} accepted"
                              + (f", other answers {errors}" if errors else ""),
                     "baseline": f"bare FastAPI, one INSERT: p50 {_ms(b['p50_ms'])}, p99 {_ms(b['p99_ms'])}",
                     "ratio": f"{_x(d['p50_ms'] / max(b['p50_ms'], 0.01))} / {_x(d['p99_ms'] / max(b['p99_ms'], 0.01))}",
                     "target": "p99 < 200 ms, no error"})
    return rows


def triage_rows(r: dict) -> list[Row]:
    return [_triage_row(r)] + scale_out_rows(r) + million_rows(r)


def million_rows(r: dict) -> list[Row]:
    """The issue's scale, a million calls (`bench.triage --calls 1000000`, its own result file), beside the
    default run: memory per subject is measured best there (a short run's fixed costs weigh on it)."""
    path = RESULTS / "triage-1000k.json"
    if r["calls"] == 1_000_000 or not path.exists():
        return []
    big = json.loads(path.read_text())
    return [{**_triage_row(big), "machine": _machine(big), "date": _date(big, path)}]


def _triage_row(r: dict) -> Row:
    workers = r.get("workers", 1)
    per_worker = r["worker_events_per_s"] / workers
    noop = r.get("faust_noop_per_s")
    memory = (f"; {r['gb_per_million_subjects']:.2f} GB per million subjects, each person or place one state "
              f"({r['persons']:,} persons and {r['places']:,} places named; target ≤ 1.5 GB per million persons)"
              if r.get("gb_per_million_subjects") else "")
    return {"figure": f"`bench.triage --calls {r['calls']}`: calls decided per second end to end, "
                      f"{workers} worker(s), {r.get('partitions', 3)} partitions",
            "value": f"{r['worker_events_per_s']:,.0f}/s ({r.get('worker_cpu_us_per_call', 0):,.0f} µs of worker "
                     f"CPU per call{_beside(r)}); peak RSS {r.get('peak_rss_mb', 0) / 1024:.2f} GB{memory}",
            "baseline": (f"a do-nothing faust agent: {noop:,.0f} records/s (raw kafka-python consume + decode: "
                         f"{r['baseline_events_per_s']:,.0f}/s)" if noop else
                         f"raw kafka-python consume + decode: {r['baseline_events_per_s']:,.0f}/s"),
            "ratio": _x(per_worker / noop if noop else r["ratio"]) + (" per worker" if noop else ""),
            "target": "≥ ×0.3 of the faust agent per worker; 2 workers ≥ 1.6 × one"}


def _beside(r: dict) -> str:
    """The broker's CPU per call in the same run, when the bench measured it (embedded Tansu)."""
    broker = r.get("broker_cpu_us_per_call")
    return f", the broker's beside it {broker:,.0f} µs" if broker is not None else ""


def _ceiling(one: dict) -> str:
    """The one-worker run's best multiple on this machine (`bench.triage.scale_out_ceiling`), when measured."""
    ceiling = one.get("scale_out_ceiling")
    if ceiling is None:
        return ""
    return (f"; at best ×{ceiling:.2f} on {one.get('cpus')} cores shared with the broker "
            f"({one['broker_cpu_us_per_call']:,.0f} µs per call) and the bench's reader "
            f"({one['reader_cpu_us_per_call']:,.0f} µs)")


def scale_out_rows(one: dict) -> list[Row]:
    """The same calls through 2 workers (`bench.triage --workers 2`, its own result file), beside one worker."""
    path = RESULTS / f"triage-{one['calls'] // 1000}k-2workers.json"
    if one.get("workers", 1) != 1 or not path.exists():
        return []
    two = json.loads(path.read_text())
    return [{"figure": f"`bench.triage --calls {two['calls']} --workers 2`: the same calls through 2 workers "
                       f"(one consumer group, {two.get('partitions', 6)} partitions), this machine",
             "value": f"{two['worker_events_per_s']:,.0f}/s ({two.get('worker_cpu_us_per_call', 0):,.0f} µs of "
                      f"CPU per call, both workers)",
             "baseline": f"1 worker: {one['worker_events_per_s']:,.0f}/s{_ceiling(one)}",
             "ratio": _x(two["worker_events_per_s"] / one["worker_events_per_s"]),
             "target": "≥ ×1.6", "machine": _machine(two), "date": _date(two, path)}]


def backfill_rows(r: dict) -> list[Row]:
    return [{"figure": f"`bench.backfill --calls {r['calls']}`: calls on calls.received.v2 decided by triage and "
                       f"stored by analytics ({r.get('database', '?')})",
             "value": f"{r['seconds']:.0f} s ({r['calls_per_s']:,}/s; triage {r['triage_seconds']:.0f} s); "
                      f"stored {r['calls_stored']:,} calls, {r['decisions_stored']:,} decisions",
             "baseline": f"reading them from the broker: {r['read_only_s']:.0f} s", "ratio": _x(r["ratio"]),
             "target": "1,000,000 calls ≤ 10 min"}]


def infosocial_rows(r: dict) -> list[Row]:
    s, b = r["service"], r["baseline"]
    return [{"figure": f"`bench.infosocial`: frame read at {r['rate']:g} req/s",
             "value": f"p50 {_ms(s['p50_ms'])}, p99 {_ms(s['p99_ms'])}",
             "baseline": f"bare FastAPI in memory: p50 {_ms(b['p50_ms'])}, p99 {_ms(b['p99_ms'])}",
             "ratio": f"{_x(r['ratio_p50'])} / {_x(r['ratio_p99'])}", "target": "—"}]


def analytics_rows(r: dict) -> list[Row]:
    return [{"figure": f"`bench.analytics`: rebuild of {r['calls']:,} calls", "value": f"{r['rebuild_s']:.0f} s",
             "baseline": f"reading them from the broker: {r['read_only_s']:.0f} s",
             "ratio": _x(r["ratio_rebuild_over_read"]), "target": "—"}]


def simulate_rows(r: dict) -> list[Row]:
    return [{"figure": f"`bench.simulate`: file of {r['calls']:,} calls", "value": f"{r['seconds']:.0f} s",
             "baseline": f"writing the same lines, ready-made: {r['baseline_write_seconds']:.1f} s",
             "ratio": _x(r["ratio"]), "target": "—"}]


def idle_rows(r: dict) -> list[Row]:
    worst = max(r["cpu_percent_of_one_core"].items(), key=lambda kv: kv[1])
    waits = (f"fetch wait {r.get('idle_fetch_wait_ms', r['fetch_wait_ms'])} ms on the alert's path once idle, "
             f"{r['background_fetch_wait_ms']} ms off it" if "background_fetch_wait_ms" in r
             else f"fetch wait {r['fetch_wait_ms']} ms")
    return [{"figure": f"`bench.idle`: the idle platform's CPU ({r['window_s']:.0f} s, no traffic, {waits})",
             "value": f"{r['total_percent']:.1f} % of one core (most: {worst[0]} {worst[1]:.1f} %)",
             "baseline": f"one bare kafka-python consumer polling an empty topic: "
                         f"{r['baseline_one_idle_consumer_percent']:.1f} %",
             "ratio": _x(r["ratio_total_over_one_consumer"]), "target": "< 5 % of one core"}]


EXTRACT: dict[str, Callable[[dict], list[Row]]] = {
    "idle": idle_rows,
    "startup": startup_rows, "intake": intake_rows, "triage": triage_rows, "backfill": backfill_rows,
    "infosocial": infosocial_rows,
    "pipeline": pipeline_rows, "notifier": notifier_rows, "notifier_work": notifier_work_rows, "analytics": analytics_rows, "simulate": simulate_rows}

# The README's former table (2 cores; commit a4410feb of 2026-11-23, triage row 2e9332e8 of 2026-11-24).
README_ROWS: dict[str, list[Row]] = {
    "startup": [{"figure": "`bench.startup`: `dyade up` → every service ready",
                 "value": "8.0 s (Tansu 22 ms, 22 topics 32 ms)", "baseline": "`python -c pass` 22 ms",
                 "ratio": "×364", "target": "—", "date": "2026-11-23"}],
    "intake": [{"figure": "`bench.intake`: calls accepted per second (durable PostgreSQL outbox)", "value": "400/s",
                "baseline": "bare FastAPI that only validates: 476/s", "ratio": "×0.84", "target": "≥ ×0.5",
                "date": "2026-11-23"}],
    "triage": [{"figure": "`bench.triage --calls 1000000`: calls decided per second end to end",
                "value": "705/s (1.0 ms CPU per call); 1.56 GB at peak",
                "baseline": "raw kafka-python consume + decode: 42,168/s (do-nothing faust agent: 7,578/s)",
                "ratio": "×0.02", "target": "≥ ×0.5", "date": "2026-11-24"}],
    "infosocial": [{"figure": "`bench.infosocial`: frame read at 25 req/s", "value": "p50 8.5 ms, p99 17 ms",
                    "baseline": "bare FastAPI in memory: p50 4.3 ms, p99 7.5 ms", "ratio": "×2.0 / ×2.3",
                    "target": "—", "date": "2026-11-23"}],
    "pipeline": [{"figure": "`bench.pipeline`: call accepted → alert on the device, 5 calls/s",
                  "value": "p50 2.1 s, p99 2.5 s", "baseline": "4 raw Kafka hops: 0.39 s / 0.68 s",
                  "ratio": "×5.4 / ×3.7", "target": "not set", "date": "2026-11-23"}],
    "analytics": [{"figure": "`bench.analytics`: rebuild of 1,000,000 calls", "value": "73 s",
                   "baseline": "reading them from the broker: 12 s", "ratio": "×6.1", "target": "—",
                   "date": "2026-11-23"}],
    "simulate": [{"figure": "`bench.simulate`: file of 1,000,000 calls", "value": "42 s",
                  "baseline": "writing the same lines, ready-made: 0.7 s", "ratio": "×60", "target": "—",
                  "date": "2026-11-23"}],
}
ORDER = ["pipeline", "notifier", "notifier_work", "startup", "idle", "intake", "triage", "backfill", "infosocial", "analytics",
         "simulate"]


CELLS = ("figure", "value", "baseline", "ratio", "target", "machine", "date")


def previous_rows() -> dict[str, list[Row]]:
    """The rows of the BENCHMARKS.md in place, by benchmark: bench/results/ is not versioned, so a figure
    measured on another checkout lives on in the table until measured again here."""
    import re
    out: dict[str, list[Row]] = {}
    if not TABLE.exists():
        return out
    for line in TABLE.read_text().splitlines():
        hit = re.match(r"\| `bench\.(\w+)", line)
        if not hit:
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if len(cells) == len(CELLS):
            out.setdefault(hit.group(1), []).append(dict(zip(CELLS, cells)))
    return out


def rows_of(name: str, previous: dict[str, list[Row]]) -> list[Row]:
    path = RESULTS / f"{name}.json"
    problem = None
    if path.exists():
        try:
            result = json.loads(path.read_text())
            rows = EXTRACT[name](result)
            for row in rows:   # a row from another result file (scale_out_rows) says its own
                row.setdefault("machine", _machine(result))
                row.setdefault("date", _date(result, path))
            return rows
        except (KeyError, TypeError, ValueError) as exc:
            problem = f"{path.name} unreadable ({type(exc).__name__}: {exc})"
    if name in previous and problem is None and README_SOURCE not in previous[name][0]["date"]:
        return previous[name]   # measured before, results not on this checkout
    old = README_ROWS.get(name)
    if not old:
        return [{"figure": f"`bench.{name}`", "value": problem or "not measured yet", "baseline": "—", "ratio": "—",
                 "target": "—", "machine": "—", "date": "—"}]
    return [{**row, "machine": "2 cores", "date": f"{row['date']} ({README_SOURCE}"
             + (f"; {problem})" if problem else ")")} for row in old]


def write_table() -> Path:
    names = ORDER + sorted(set(EXTRACT) - set(ORDER))
    cells = CELLS
    previous = previous_rows()
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench`; `python -m bench --table` rewrites it from the results "
        "alone) from `bench/results/*.json`: do not edit by hand. Each figure is measured beside its baseline "
        "in the same run, on the same machine; the ratio is figure / baseline (p50 / p99 for latencies). A "
        "row whose date says « README » is the former table of the README, not measured again since.",
        "",
        "The benchmarks are meant for a quiet machine. A figure measured while the load average exceeded the "
        "cores (see *machine*) measures the machine as much as the code: compare ratios, not absolute values.",
        "",
        "| " + " | ".join(cells) + " |",
        "|" + "---|" * len(cells),
    ]
    for name in names:
        for row in rows_of(name, previous):
            lines.append("| " + " | ".join(row.get(c, "—").replace("|", "\\|") for c in cells) + " |")
    lines += [
        "",
        "Raw baselines are the best a plain client achieves on the same broker (fetch_max_wait_ms 10, producer "
        "linger 0, no flush per record); each benchmark prints its settings and the measured path's. On the "
        "embedded Tansu broker a fetch is not answered when a record arrives: the broker looks again after "
        "half the remaining wait while 250 ms or more remain, else at its end (tansu-broker/src/broker/fetch.rs), "
        "so a hop costs up to half of the consumer's fetch_max_wait_ms from 500 ms up, up to all of it below "
        "250 ms (kafka-python's default 500 ms: ≤ 250 ms; faust's fixed 1500 ms: ≤ 750 ms).",
        "",
    ]
    TABLE.write_text("\n".join(lines))
    write_readme_figures([row for name in names for row in rows_of(name, previous)])
    return TABLE


README = HERE.parent / "README.md"
README_START, README_END = "<!-- bench:figures (python -m bench --table) -->", "<!-- /bench:figures -->"


def write_readme_figures(rows: list[Row]) -> None:
    """The README's « Bancs d'essai » figures are BENCHMARKS.md's, rewritten between its markers."""
    text = README.read_text()
    if README_START not in text or README_END not in text:
        return
    table = ["| banc | mesure | référence (même exécution) | rapport | cible | date |", "|---|---|---|---|---|---|"]
    table += ["| " + " | ".join(row.get(c, "—").replace("|", "\\|") for c in
                                ("figure", "value", "baseline", "ratio", "target", "date")) + " |"
              for row in rows if row.get("baseline") != "—" or row.get("value", "—") != "—"]
    head, rest = text.split(README_START, 1)
    tail = rest.split(README_END, 1)[1]
    README.write_text(head + README_START + "\n" + "\n".join(table) + "\n" + README_END + tail)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    ap.add_argument("--quick", action="store_true", help="each benchmark's quick size")
    ap.add_argument("--table", action="store_true", help="only rewrite BENCHMARKS.md from bench/results/")
    args = ap.parse_args()
    failed = []
    if not args.table:
        available = [p.stem for p in sorted(HERE.glob("*.py")) if not p.stem.startswith("_")]
        unknown = set(args.names) - set(available)
        if unknown:
            sys.exit(f"unknown benchmark(s): {', '.join(sorted(unknown))} (available: {', '.join(available)})")
        for name in args.names or available:
            print(f"\n=== bench.{name}", flush=True)
            if subprocess.call([sys.executable, "-m", f"bench.{name}", *(["--quick"] if args.quick else [])]):
                failed.append(name)
        print(f"\nresults in bench/results/; failed: {', '.join(failed) or 'none'}")
    print(f"table: {write_table().relative_to(Path.cwd()) if TABLE.is_relative_to(Path.cwd()) else TABLE}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
