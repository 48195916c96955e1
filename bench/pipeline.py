"""End-to-end alert latency: from a call accepted at intake (its 202) to the alert received by a connected
field-app client (SSE), through the five real services on a real broker, at a stated call rate.

Baseline in the same run: the raw broker hops the call crosses — calls.received.v2 → triage's two
repartition topics → triage.decided.v1 (4 hops) — as a chain of bare kafka-python relays (consume, produce
to the next topic) on the same broker, fed at the same rate.

    python -m bench.pipeline [--rate 5] [--seconds 30] [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import threading
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from tempfile import mkdtemp

import httpx

from bench._db import bench_database
from bench.notifier import AlertStream, percentile
from dyade.auth import issue_token
from dyade.broker import EmbeddedBroker, free_port
from dyade.cli.up import Platform, available_services
from dyade.contracts.topics import Topic
from dyade.kafka import create_topics, make_producer
from dyade.settings import Settings

RESULTS = Path(__file__).parent / "results"
HOPS = 4
SECRET = "bench-token-secret-0123456789abcdefghij"


def call(call_id: str, n: int) -> dict:
    return {"call_id": call_id, "received_at": datetime.now(timezone.utc).isoformat(), "nature_code": "SUIC",
            "priority": 1, "location": {"address": f"{n % 500} rue Principale", "sector": "S1"},
            # one person per call (distinct birth dates: intake's fuzzy matching must not merge them)
            "persons": [{"first_name": "Personne", "last_name": f"Banc{n}",
                         "birth_date": (date(1940, 1, 1) + timedelta(days=n)).isoformat(), "role": "sujet"}],
            "flags": ["idees_suicidaires", "plan_suicidaire"]}


def stats(latencies_ms: list[float]) -> dict:
    if not latencies_ms:
        return {"n": 0}
    return {"n": len(latencies_ms), "p50_ms": round(percentile(latencies_ms, 0.5), 1),
            "p99_ms": round(percentile(latencies_ms, 0.99), 1), "max_ms": round(max(latencies_ms), 1)}


def pipeline(rate: float, seconds: float) -> dict:
    url, drop = bench_database("dyade_bench_pipeline")
    broker = EmbeddedBroker().start()
    home = mkdtemp()
    settings = Settings(kafka_bootstrap_servers=broker.bootstrap_servers, database_url=url, dyade_home=Path(home),
                        dyade_token_secret=SECRET, dyade_pseudonym_key="bench-pseudonym-key-0123456789",
                        intake_port=free_port(), triage_port=free_port(), infosocial_port=free_port(),
                        notifier_port=free_port(), analytics_port=free_port(), _env_file=None)
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers, "DATABASE_URL": url,
           "DYADE_HOME": home, "DYADE_TOKEN_SECRET": SECRET, "DYADE_PSEUDONYM_KEY": settings.dyade_pseudonym_key,
           "DYADE_LOG_LEVEL": "WARNING"}
    for name in ("intake", "triage", "infosocial", "notifier", "analytics"):
        env[f"{name.upper()}_PORT"] = str(settings.port_of(name))
    platform = Platform(settings)
    platform.logs = Path(home) / "logs"
    platform.logs.mkdir(parents=True)
    try:
        create_topics(broker.bootstrap_servers)
        for spec in available_services():
            platform.start_service(spec, env)
        platform.wait_ready(180)
        auth = lambda role, **kw: {"Authorization": "Bearer " + issue_token(SECRET, subject="bench", role=role, **kw)}  # noqa: E731
        httpx.put(f"{settings.url_of('notifier')}/v1/dyads/DB", headers=auth("supervisor"), json={
            "name": "Banc", "sector": "S1", "members": [{"name": "A", "role": "policier"}],
            "shifts": [{"days": list(range(7)), "start": "00:00", "end": "00:00"}]}).raise_for_status()
        client = AlertStream(settings.url_of("notifier"), auth("supervisor"))
        client.start()
        client.connected.wait(30)
        accepted: dict[str, float] = {}
        with httpx.Client(base_url=settings.url_of("intake"), headers=auth("dispatch"), timeout=30) as http:
            for i in range(3):  # warm-up: the first decisions pay the triage worker's start
                http.post("/v1/calls", json=call(f"warm-{uuid.uuid4().hex[:6]}", i))
            time.sleep(3)
            n, t0 = int(rate * seconds), time.perf_counter()
            for i in range(n):
                time.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
                cid = f"B-{uuid.uuid4().hex[:10]}"
                r = http.post("/v1/calls", json=call(cid, i))
                if r.status_code == 202:
                    accepted[cid] = time.perf_counter()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(c in client.arrived for c in accepted):
            time.sleep(0.2)
        client.stop = True
        return stats([(client.arrived[c] - t) * 1000 for c, t in accepted.items() if c in client.arrived]) | {
            "calls": len(accepted), "first_state": client.states}
    finally:
        platform.stop()
        broker.stop()
        drop()


def raw_hops(rate: float, seconds: float) -> dict:
    """The same number of hops as bare relays: produce → consume → produce … → consume."""
    from kafka import KafkaConsumer, TopicPartition
    broker = EmbeddedBroker().start()
    names = [f"bench.hop{i}.v1" for i in range(HOPS)]
    try:
        create_topics(broker.bootstrap_servers, [Topic(n, "k", (), "bench") for n in names])
        producer = make_producer(broker.bootstrap_servers)
        stop = threading.Event()
        arrived: dict[str, float] = {}

        def relay(src: str, dst: str | None) -> None:
            consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap_servers, group_id=None,
                                     enable_auto_commit=False)
            consumer.assign([TopicPartition(src, p) for p in consumer.partitions_for_topic(src)])
            out = make_producer(broker.bootstrap_servers) if dst else None
            while not stop.is_set():
                for records in consumer.poll(timeout_ms=50).values():
                    for r in records:
                        if out:
                            out.send(dst, key=r.key, value=r.value)
                        else:
                            arrived.setdefault(r.value.decode(), time.perf_counter())
                if out:
                    out.flush()
            consumer.close()

        threads = [threading.Thread(target=relay, args=(names[i], names[i + 1] if i + 1 < HOPS else None),
                                    daemon=True) for i in range(HOPS)]
        for t in threads:
            t.start()
        time.sleep(2)
        sent: dict[str, float] = {}
        n, t0 = int(rate * seconds), time.perf_counter()
        for i in range(n):
            time.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
            cid = f"R-{i}"
            producer.send(names[0], key=cid.encode(), value=cid.encode())
            producer.flush()
            sent[cid] = time.perf_counter()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(arrived) < len(sent):
            time.sleep(0.1)
        stop.set()
        return stats([(arrived[c] - t) * 1000 for c, t in sent.items() if c in arrived]) | {"calls": len(sent)}
    finally:
        broker.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=5.0, help="calls per second (default 5)")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--quick", action="store_true", help="10 s")
    args = ap.parse_args()
    seconds = 10.0 if args.quick else args.seconds
    raw = raw_hops(args.rate, seconds)
    full = pipeline(args.rate, seconds)
    result = {"rate_per_s": args.rate, "seconds": seconds, "intake_to_sse": full, "raw_hops": raw, "hops": HOPS,
              "ratio_p50": round(full.get("p50_ms", 0) / raw["p50_ms"], 1) if raw.get("p50_ms") else None,
              "ratio_p99": round(full.get("p99_ms", 0) / raw["p99_ms"], 1) if raw.get("p99_ms") else None,
              "load_average": os.getloadavg()[0]}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "pipeline.json").write_text(json.dumps(result, indent=2))
    print(f"call accepted at intake → alert on the field app (SSE), {args.rate}/s for {seconds:.0f} s: "
          f"p50 {full.get('p50_ms')} ms, p99 {full.get('p99_ms')} ms ({full.get('n', 0)}/{full['calls']} received; "
          f"first state {full.get('first_state')})")
    print(f"raw broker hops ({HOPS} bare relays), same rate:          "
          f"p50 {raw.get('p50_ms')} ms, p99 {raw.get('p99_ms')} ms ({raw.get('n', 0)}/{raw['calls']})")
    print(f"ratio: p50 ×{result['ratio_p50']}, p99 ×{result['ratio_p99']} "
          f"(load average {result['load_average']:.1f} on 2 cores)")


if __name__ == "__main__":
    main()
