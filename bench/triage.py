"""Triage throughput: N synthetic calls replayed through the faust worker, end to end
(calls.received.v2 → the place stage, and the person stage for calls about a person; two tables with
changelogs → triage.decided.v1), next to two baselines over the same topic in the same run:
  - a raw kafka-python consume + contract decode loop (the ceiling a consumer of this topic reaches here);
  - a faust agent that does nothing: what faust itself costs per record, before any triage work.
Also the worker's start time, peak RSS and memory per million persons.

Method: a fresh embedded Tansu broker (or KAFKA_BOOTSTRAP_SERVERS), N calls produced first; the baseline
reads them all; then the worker starts with a fresh app id and the clock runs from its readiness to the
moment N decisions were read back from triage.decided.v1 (counted, not decoded). Memory per million persons is
extrapolated linearly from the worker's RSS growth during the run (RSS at end − RSS at ready) divided by
the number of distinct subjects the calls named (persons + locations: each is one state), i.e. it assumes
the same mix of calls per subject and includes the per-call routing table; Python's allocator rarely returns memory, so it is an upper bound.

    python -m bench.triage [--calls 50000] [--quick] [--seed 7]   (--calls 1000000 for the issue's figure)
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
from kafka import KafkaConsumer, TopicPartition

from dyade.broker import EmbeddedBroker, free_port
from dyade.contracts import decode
from dyade.contracts.calls import CallPayload, CallReceived, Location, PersonRef
from dyade.kafka import create_topics, make_producer

RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).resolve().parents[1]
CATEGORIES = (["etat_mental_perturbe"] * 4 + ["desordre_public"] * 5 + ["detresse"] * 2 + ["suicidaire", "bien_etre",
              "violence_conjugale_familiale", "autre", "autre"])
FLAGS = ["arme", "menaces", "violence", "idees_suicidaires", "plan_suicidaire", "intoxication", "demande_p38"]


def synthetic_calls(n: int, seed: int) -> tuple[list[tuple[bytes, bytes]], int, int]:
    """(key, value) records keyed as intake keys them (by location)."""
    """Calls over one year: 40 % name a person (≈ 3 calls per person, skewed), the rest a place only. Also the
    numbers of distinct persons and places the calls name (the keys a skewed draw hits, not its key space)."""
    rnd = random.Random(seed)
    persons = max(1, int(n * 0.4 / 3))
    places = max(1, n // 5)
    named_persons, named_places = set(), set()
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    out = []
    for i in range(n):
        person = None
        if rnd.random() < 0.4:
            person = f"p_{int(persons * rnd.random() ** 2):x}"  # skewed: a few people call often
        flags = tuple(rnd.sample(FLAGS, 1)) if rnd.random() < 0.2 else ()
        call_id = f"b{seed}-{i}"
        ev = CallReceived.new(payload=CallPayload(
            call_id=call_id, nature_code="BENCH", category=rnd.choice(CATEGORIES), flags=flags,
            location=Location(location_key=f"l_{rnd.randrange(places):x}", sector=f"S{rnd.randrange(1, 6)}"),
            persons=(PersonRef(person_key=person, role="sujet"),) if person else ()),
            occurred_at=start + timedelta(seconds=i * 365 * 86400 / n), source="bench", correlation_id=call_id)
        out.append((ev.payload.location_key.encode(), ev.to_bytes()))
        named_places.add(ev.payload.location_key)
        if person:
            named_persons.add(person)
    return out, len(named_persons), len(named_places)


def produce(bootstrap: str, records: list[tuple[bytes, bytes]]) -> float:
    p = make_producer(bootstrap, linger_ms=20, batch_size=512 * 1024, enable_idempotence=False, acks=1)
    t0 = time.perf_counter()
    for key, value in records:
        p.send("calls.received.v2", key=key, value=value)
    p.flush()
    p.close()
    return time.perf_counter() - t0


def baseline(bootstrap: str, n: int, partitions: int = 3) -> float:
    """Raw kafka-python: consume the topic from the beginning and decode every call with the contracts."""
    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, max_poll_records=2000,
                      fetch_max_bytes=50 * 1024 * 1024)
    c.assign([TopicPartition("calls.received.v2", p) for p in range(partitions)])
    c.seek_to_beginning()
    seen = 0
    t0, c0 = time.perf_counter(), time.process_time()
    while seen < n:
        for records in c.poll(timeout_ms=500).values():
            for r in records:
                decode(r.value, CallReceived)
                seen += 1
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    c.close()
    return n / elapsed, cpu / n * 1e6


def decision_counter(bootstrap: str, partitions: int = 3) -> KafkaConsumer:
    """Counts records on triage.decided.v1 (end offsets are not used: Tansu's lag a few records behind)."""
    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, max_poll_records=5000,
                      fetch_max_bytes=50 * 1024 * 1024)
    c.assign([TopicPartition("triage.decided.v1", p) for p in range(partitions)])
    c.seek_to_end()
    for tp in c.assignment():
        c.position(tp)
    return c


def count(consumer: KafkaConsumer) -> int:
    return sum(len(r) for r in consumer.poll(timeout_ms=200).values())


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (contention-independent cost)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def faust_noop(bootstrap: str, n: int) -> float:
    """Records/s of a do-nothing faust agent over the same topic (a subprocess, fresh consumer group)."""
    out = subprocess.run([sys.executable, "-m", "bench._faust_noop", bootstrap, str(n)],
                         cwd=ROOT, capture_output=True, text=True, timeout=max(600, n / 500))
    rates = re.findall(r"RATE ([0-9.]+)", out.stdout + out.stderr)  # faust logs what a worker prints
    if out.returncode or not rates:
        raise RuntimeError(f"faust no-op agent failed: {out.stderr[-2000:]}")
    return float(rates[-1])


def run_worker(bootstrap: str, n: int, timeout: float, broker_alive=lambda: True, workers: int = 1,
               partitions: int = 3, broker_pid: int | None = None) -> dict:
    """`workers` processes in one consumer group (they share the partitions); figures are their sums. Also the
    CPU the embedded broker (`broker_pid`) and this process (reading the decisions back) spend meanwhile: on a
    machine of few cores they share it with the workers."""
    home = tempfile.mkdtemp(prefix="triage-bench-")
    app_id = f"bench-{uuid.uuid4().hex[:6]}"
    ports = [free_port() for _ in range(workers)]
    logs = [open(Path(home) / f"worker{i}.log", "w") for i in range(workers)]
    t_start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "services.triage"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                              env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "TRIAGE_PORT": str(port),
                                   "DYADE_HOME": str(Path(home) / str(port)), "TRIAGE_APP_ID": app_id,
                                   "DYADE_TOKEN_SECRET": "bench-secret-long-enough-for-hs256-signing",
                                   "DYADE_LOG_LEVEL": "WARNING", "DYADE_TOPIC_PARTITIONS": str(partitions)})
             for port, log in zip(ports, logs)]
    watcher = decision_counter(bootstrap, partitions)

    def alive() -> None:
        for proc, log in zip(procs, logs):
            if proc.poll() is not None:
                raise RuntimeError(f"a worker exited, see {log.name}")

    def ready(port: int) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False
    try:
        # decisions made before every worker is ready (a worker that is up first takes all the partitions
        # until the others join) are counted apart: the rate is the whole group's, from its readiness on
        done = 0
        while not all(ready(port) for port in ports):
            alive()
            done += count(watcher)
        t_ready = time.perf_counter()
        rss_ready, cpu_ready = sum(rss_kb(p.pid) for p in procs), sum(cpu_s(p.pid) for p in procs)
        broker_ready, reader_ready = (cpu_s(broker_pid) if broker_pid else 0.0), time.process_time()
        before_ready = done
        last_report = time.perf_counter()
        while done < n:
            if time.perf_counter() - t_ready > timeout:
                raise RuntimeError(f"only {done}/{n} decisions after {timeout} s")
            if not broker_alive():
                raise RuntimeError(f"the broker stopped after {done}/{n} decisions")
            alive()
            done += count(watcher)
            if time.perf_counter() - last_report > 30:
                last_report = time.perf_counter()
                print(f"  … {done:,}/{n:,} decisions, {done / (last_report - t_ready):,.0f}/s, "
                      f"worker RSS {sum(rss_kb(p.pid) for p in procs) / 1024:,.0f} MB", flush=True)
        t_done = time.perf_counter()
        rss_end = sum(rss_kb(p.pid) for p in procs)
        hwm = sum(rss_kb(p.pid, "VmHWM") for p in procs)
        cpu_end = sum(cpu_s(p.pid) for p in procs)
        broker_end, reader_end = (cpu_s(broker_pid) if broker_pid else 0.0), time.process_time()
    finally:
        watcher.close()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
    measured = max(1, n - before_ready)
    return {"workers": workers, "start_s": t_ready - t_start, "elapsed_s": t_done - t_ready,
            "decided_before_ready": before_ready, "events_per_s": measured / (t_done - t_ready),
            "worker_cpu_us_per_call": (cpu_end - cpu_ready) / measured * 1e6,
            "broker_cpu_us_per_call": (broker_end - broker_ready) / measured * 1e6 if broker_pid else None,
            "reader_cpu_us_per_call": (reader_end - reader_ready) / measured * 1e6,
            "rss_ready_mb": rss_ready / 1024, "rss_end_mb": rss_end / 1024, "peak_rss_mb": hwm / 1024}


def scale_out_ceiling(w: dict, cores: int) -> float | None:
    """The best multiple of one worker's rate that workers of one core each reach on `cores` cores shared
    with the broker and this bench's reader (from one run's CPU per call), None without the broker's CPU."""
    work, broker, reader = w["worker_cpu_us_per_call"], w["broker_cpu_us_per_call"], w["reader_cpu_us_per_call"]
    if broker is None:
        return None
    return min(cores, cores * work / (work + broker + reader))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=50_000, help="calls to replay (200 000+ for the full figure)")
    ap.add_argument("--quick", action="store_true", help="20 000 calls")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workers", type=int, default=1, help="triage workers in the group (they share the partitions)")
    ap.add_argument("--partitions", type=int, default=6,
                    help="partitions of every topic (the unit of scale-out: 6 splits evenly over 1, 2 or 3 workers)")
    args = ap.parse_args()
    n = 20_000 if args.quick else args.calls
    print(f"generating {n} synthetic calls…", flush=True)
    records, persons, places = synthetic_calls(n, args.seed)
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    broker = None if external else EmbeddedBroker(log_path=Path(tempfile.mkdtemp()) / "tansu.log").start()
    bootstrap = external or broker.bootstrap_servers
    try:
        create_topics(bootstrap, partitions=args.partitions)
        produce_s = produce(bootstrap, records)
        del records
        print(f"produced in {produce_s:.1f} s; baseline: raw kafka-python consume + decode…", flush=True)
        base, base_cpu_us = baseline(bootstrap, n, args.partitions)
        print(f"baseline {base:,.0f} events/s; do-nothing faust agents…", flush=True)
        noop = faust_noop(bootstrap, n)
        print(f"faust no-op {noop:,.0f}/s; triage worker…", flush=True)
        w = run_worker(bootstrap, n, timeout=max(600, n / 100), workers=args.workers, partitions=args.partitions,
                       broker_alive=(lambda: broker.running) if broker else (lambda: True),
                       broker_pid=broker.process.pid if broker else None)
    finally:
        if broker:
            broker.stop()
    subjects = persons + places
    growth_mb = max(0.0, w["rss_end_mb"] - w["rss_ready_mb"])
    per_million = growth_mb / subjects * 1_000_000 / 1024  # GB per million subjects
    result = {"calls": n, "partitions": args.partitions, "persons": persons, "places": places, "baseline_events_per_s": base,
              "faust_noop_per_s": noop,
              "ratio_to_faust_noop": w["events_per_s"] / noop,
              "baseline_cpu_us_per_event": base_cpu_us, "load_average": os.getloadavg(), "cpus": os.cpu_count(),
              "at": datetime.now(timezone.utc).isoformat(),
              "worker_events_per_s": w["events_per_s"], "ratio": w["events_per_s"] / base, **w,
              "state_growth_mb": growth_mb, "gb_per_million_subjects": per_million,
              "gb_per_million_persons": growth_mb / persons * 1_000_000 / 1024,
              "scale_out_ceiling": scale_out_ceiling(w, os.cpu_count() or 1)}
    RESULTS.mkdir(exist_ok=True)
    named = f"triage-{n // 1000}k" + (f"-{args.workers}workers" if args.workers > 1 else "") + ".json"
    for name in ("triage.json", named):  # the latest run, and this size's
        (RESULTS / name).write_text(json.dumps(result, indent=2))
    print(f"\ntriage worker : {w['events_per_s']:>9,.0f} calls/s end to end ({n - w['decided_before_ready']} calls in "
          f"{w['elapsed_s']:.1f} s, {args.workers} worker(s), {args.partitions} partitions; "
          f"{w['decided_before_ready']} decided before all were ready, not counted)")
    print(f"baseline      : {base:>9,.0f} events/s (kafka-python consume + decode, same topic, same run)")
    print(f"ratio         : {result['ratio']:.2f} (target ≥ 0.5)")
    print(f"faust itself  : {noop:>9,.0f} records/s for an agent that does nothing ({noop / base:.2f} of the baseline)")
    print(f"vs faust      : triage does {result['ratio_to_faust_noop']:.2f} of what a do-nothing faust agent reads")
    print(f"CPU per call  : worker {w['worker_cpu_us_per_call']:,.0f} µs (all stages, produce included), "
          f"baseline {base_cpu_us:,.0f} µs → CPU ratio {base_cpu_us / w['worker_cpu_us_per_call']:.2f}")
    if result["scale_out_ceiling"] is not None:
        print(f"beside it     : broker (Tansu) {w['broker_cpu_us_per_call']:,.0f} µs per call, this bench reading "
              f"the decisions {w['reader_cpu_us_per_call']:,.0f} µs; on {result['cpus']} cores, workers that each use "
              f"one core at {w['worker_cpu_us_per_call']:,.0f} µs per call can at best do "
              f"×{result['scale_out_ceiling']:.2f} one worker's rate")
    print(f"load average  : {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other work on the machine)")
    print(f"worker start  : {w['start_s']:.1f} s to /readyz 200")
    print(f"peak RSS      : {w['peak_rss_mb']:.0f} MB (ready {w['rss_ready_mb']:.0f} MB, end {w['rss_end_mb']:.0f} MB)")
    print(f"memory        : ≈ {per_million:.2f} GB per million subjects ({persons} persons + {places} places, "
          f"linear extrapolation of RSS growth); ≈ {result['gb_per_million_persons']:.2f} GB per million persons "
          f"with this mix of places")
    print(f"results in {RESULTS / named}")


if __name__ == "__main__":
    main()
