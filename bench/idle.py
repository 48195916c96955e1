"""The idle platform's CPU: `dyade up --no-demo` (embedded Tansu, SQLite), every service ready, no traffic;
then each process's CPU time (user + system, from /proc) over a window, as a share of one core. Baseline in
the same run: a bare kafka-python consumer polling one empty topic of the same broker with the alert path's
idle fetch wait (DYADE_IDLE_FETCH_WAIT_MS) — what one idle consumer costs at the least on this broker.

    python -m bench.idle [--window 60]
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path


from bench._platform import start_embedded, wait_ready
from dyade import runfile
from dyade.consumer import BACKGROUND_FETCH_WAIT_MS, FETCH_WAIT_MS, IDLE_FETCH_WAIT_MS

RESULTS = Path(__file__).parent / "results"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (not its children), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids = (task / "children").read_text().split()
        out += [int(k) for k in kids]
    return out


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")


def name_of(pid: int) -> str:
    cmd = cmdline(pid)
    for s in ("intake", "triage", "infosocial", "notifier", "analytics"):
        if f"services.{s}" in cmd:
            return s
    return "broker (Tansu)" if "tansu" in cmd else "dyade up" if "dyade.cli.main" in cmd else cmd[:40]


def measure(pids: dict[str, int], window: float) -> dict[str, float]:
    before = {n: cpu_seconds(p) for n, p in pids.items()}
    t0 = time.monotonic()
    time.sleep(window)
    elapsed = time.monotonic() - t0
    return {n: round(100 * (cpu_seconds(p) - before[n]) / elapsed, 2) for n, p in pids.items()}


def bare_consumer(bootstrap: str, window: float) -> float:
    """% of one core used by a plain KafkaConsumer polling an empty topic (same fetch wait), in a thread of
    this process: measured as this process's CPU over the window, minus an idle window before it."""
    from kafka import KafkaConsumer
    from kafka.admin import KafkaAdminClient, NewTopic
    topic = f"bench-idle-{os.getpid()}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, 3, 1)])
    admin.close()
    idle = measure({"self": os.getpid()}, 5)["self"]
    stop = threading.Event()

    def loop():
        consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"bench-idle-{os.getpid()}",
                                 fetch_max_wait_ms=IDLE_FETCH_WAIT_MS)
        while not stop.is_set():
            consumer.poll(timeout_ms=1000)
        consumer.close()
    t = threading.Thread(target=loop, daemon=True)
    t.start()
    time.sleep(10)  # joined and assigned
    busy = measure({"self": os.getpid()}, window)["self"]
    stop.set()
    t.join(10)
    return round(max(0.0, busy - idle), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=60.0, help="seconds measured, once idle")
    parser.add_argument("--settle", type=float, default=30.0, help="seconds left after every service is ready")
    parser.add_argument("--quick", action="store_true", help="a 20 s window after 15 s")
    args = parser.parse_args()
    if args.quick:
        args.window, args.settle = 20.0, 15.0
    with tempfile.TemporaryDirectory() as home:
        proc, ports = start_embedded(home, start_new_session=True)
        try:
            pending = wait_ready(ports, 240, interval=0.5)
            if pending:
                raise SystemExit(f"not ready after 240 s: {sorted(pending)}")
            time.sleep(args.settle)
            pids = {name_of(p): p for p in [proc.pid, *children(proc.pid)]}
            shares = measure(pids, args.window)
            bootstrap = runfile.bootstrap_servers(home)
            baseline = bare_consumer(bootstrap, min(args.window, 30.0)) if bootstrap else None
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    total = round(sum(shares.values()), 2)
    result = {"window_s": args.window, "cpu_percent_of_one_core": shares, "total_percent": total,
              "fetch_wait_ms": FETCH_WAIT_MS, "idle_fetch_wait_ms": IDLE_FETCH_WAIT_MS,
              "background_fetch_wait_ms": BACKGROUND_FETCH_WAIT_MS,
              "baseline_one_idle_consumer_percent": baseline,
              "ratio_total_over_one_consumer": round(total / baseline, 1) if baseline else None,
              "cpus": os.cpu_count(), "load_average": list(os.getloadavg()), "date": time.strftime("%Y-%m-%d")}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "idle.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
