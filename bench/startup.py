"""Start-up figures of the platform: embedded broker start, topic creation, `dyade up` until every
service answers /readyz, and the shutdown after Ctrl-C. Baseline in the same run: starting a bare Python
interpreter that imports nothing (the floor of any process start on this machine).

    python -m bench.startup [--runs 3]
"""
from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median


from bench._platform import start_embedded, wait_ready
from dyade.broker import EmbeddedBroker
from dyade.cli.up import available_services
from dyade.kafka import create_topics

RESULTS = Path(__file__).parent / "results"


def broker_and_topics() -> tuple[float, float]:
    b = EmbeddedBroker().start()
    try:
        t0 = time.perf_counter()
        create_topics(b.bootstrap_servers)
        return b.started_in, time.perf_counter() - t0
    finally:
        b.stop()


def bare_python() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - t0


def dyade_up() -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as home:
        t0 = time.perf_counter()
        proc, ports = start_embedded(home)
        pending = wait_ready(ports, 180)
        ready = time.perf_counter() - t0
        t1 = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
        if pending:
            raise SystemExit(f"not ready after 180 s: {sorted(pending)}")
        return ready, time.perf_counter() - t1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one run")
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    brokers, topics, ups, downs, bares = [], [], [], [], []
    for _ in range(runs):
        b, t = broker_and_topics()
        brokers.append(b)
        topics.append(t)
        bares.append(bare_python())
        u, d = dyade_up()
        ups.append(u)
        downs.append(d)
    result = {
        "services": [s.name for s in available_services()],
        "broker_start_s": median(brokers), "topic_creation_s": median(topics),
        "dyade_up_to_all_ready_s": median(ups), "dyade_stop_s": median(downs),
        "baseline_bare_python_start_s": median(bares),
        "ratio_up_vs_bare_python": median(ups) / median(bares), "runs": runs,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "startup.json").write_text(json.dumps(result, indent=2))
    print(f"broker start          {result['broker_start_s'] * 1000:8.1f} ms")
    print(f"topic creation        {result['topic_creation_s'] * 1000:8.1f} ms")
    print(f"dyade up → all ready  {result['dyade_up_to_all_ready_s']:8.2f} s   ({', '.join(result['services'])})")
    print(f"dyade stop (Ctrl-C)   {result['dyade_stop_s']:8.2f} s")
    print(f"baseline: bare python {result['baseline_bare_python_start_s'] * 1000:8.1f} ms  "
          f"→ up/bare = {result['ratio_up_vs_bare_python']:.0f}×")


if __name__ == "__main__":
    main()
