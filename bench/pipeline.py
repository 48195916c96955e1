"""End-to-end alert latency: from a call accepted at intake (its 202) to the alert received by a connected
field-app client (SSE), through the five real services on a real broker, at a stated call rate.

Delivery: every accepted call whose triage decision alerts a dyad (its level, read back from
triage.decided.v1) must reach the client — as its own new alert, or as the update of an open alert about
the same person that it joined (the notifier merges such calls: the SSE message carries the open alert,
with the new call in `call_ids`). The bench prints delivered/expected and, for a call that did not arrive,
the last stage it reached.

Per-stage breakdown, from the events' own timestamps (one host, one clock), each call traced through:
    intake commit    CallReceived `produced_at` (envelope; written in the transaction of the 202)
    relay            record timestamp on calls.received.v2 (intake's outbox relay sent it)
    triage/place     record timestamp on <app>-events-by-subject (triage's place stage sent it on)
    triage/decided   record timestamp on triage.decided.v1 (triage's person stage decided)
    notifier         the call's `joined_at` in notifier_alert_calls (the alert created or updated)
    SSE              the client's receipt of the alert message carrying the call

Baseline in the same run: the broker hops the call crosses — calls.received.v2 → triage's internal
topic → triage.decided.v1 → the notifier (3 hops) — as a chain of bare kafka-python relays (consume,
produce to the next topic) on the same broker, fed at the same rate, with the best settings a plain client
has there (bench.notifier.RAW_SETTINGS: fetch_max_wait_ms 10, linger 0, no flush per record; printed).

    python -m bench.pipeline [--rate 5] [--seconds 30] [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from tempfile import mkdtemp

import httpx

from bench._db import bench_database
from bench.idle import cpu_seconds
from bench.notifier import RAW_SETTINGS, AlertStream, _fmt, fetch_pace, measured_path_settings, percentile
from dyade.auth import issue_token
from dyade.broker import EmbeddedBroker, free_port
from dyade.cli.up import Platform, available_services
from dyade.contracts.topics import CALLS_RECEIVED, TRIAGE_BY_SUBJECT, TRIAGE_DECIDED, Topic
from dyade.kafka import create_topics, make_producer
from dyade.settings import Settings

RESULTS = Path(__file__).parent / "results"
HOPS = 3   # calls.received.v2, <triage>-events-by-subject, triage.decided.v1
QUIET_AFTER_S = 5   # DYADE_IDLE_AFTER_S of the measured platform (the default): a quiet spell longer than it
SECRET = "bench-token-secret-0123456789abcdefghij"
ALERTING = ("dyade_suggeree", "dyade_prioritaire", "securite_policiers")   # services/notifier/domain/routing.py
SLOWEST = 8   # printed with their stages: where the tail comes from
STAGES = (("relay", "intake commit → relay (calls.received.v2)", "produced", "received_ts"),
          ("triage_place", "relay → triage place stage (events-by-subject)", "received_ts", "by_subject_ts"),
          ("triage_decided", "place stage → decision (triage.decided.v1)", "by_subject_ts", "decided_ts"),
          ("notifier", "decision → alert written (notifier joined_at)", "decided_ts", "joined"),
          ("sse", "alert written → SSE client", "joined", "sse"))


def call(call_id: str, n: int, family: str = "Banc", born: date = date(1940, 1, 1)) -> dict:
    """A call about one person of its own: `family` + n and a birth date of its own, so that no two calls
    of a run (warm-up included) are about the same person — intake's fuzzy match (same birth date, near
    spelling) must not link them, nor the notifier merge them."""
    return {"call_id": call_id, "received_at": datetime.now(timezone.utc).isoformat(), "nature_code": "SUIC",
            "priority": 1, "location": {"address": f"{n % 500} rue Principale", "sector": "S1"},
            "persons": [{"first_name": "Personne", "last_name": f"{family}{n}",
                         "birth_date": (born + timedelta(days=n)).isoformat(), "role": "sujet"}],
            "flags": ["idees_suicidaires", "plan_suicidaire"]}


def stats(latencies_ms: list[float]) -> dict:
    if not latencies_ms:
        return {"n": 0}
    return {"n": len(latencies_ms), "p50_ms": round(percentile(latencies_ms, 0.5), 1),
            "p99_ms": round(percentile(latencies_ms, 0.99), 1), "max_ms": round(max(latencies_ms), 1)}


def read_topic(bootstrap: str, topic: str, idle_polls: int = 3) -> list:
    """Every record of a topic, from the beginning to its end (Tansu's end offset is a lower bound of the
    real end: read on until a few empty polls past it)."""
    from kafka import KafkaConsumer, TopicPartition
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             fetch_max_wait_ms=50, client_id="bench-trace")
    try:
        parts = [TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or ())]
        if not parts:
            return []
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        out, empty = [], 0
        while empty < idle_polls or any(consumer.position(tp) < end for tp, end in ends.items()):
            batch = consumer.poll(timeout_ms=200)
            records = [r for rs in batch.values() for r in rs]
            out += records
            empty = 0 if records else empty + 1
            if empty > 50:   # 10 s without data while short of the end offsets: give up
                break
        return out
    finally:
        consumer.close()


def _epoch(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


def trace(bootstrap: str, db_url: str, app_id: str, calls: list[str]) -> dict[str, dict]:
    """Each call's timestamps (Unix seconds) at every stage, from the topics and the notifier's tables."""
    from sqlalchemy import create_engine, text
    t: dict[str, dict] = {c: {} for c in calls}
    for r in read_topic(bootstrap, CALLS_RECEIVED.name):
        v = json.loads(r.value)
        if (row := t.get(v["payload"]["call_id"])) is not None and "received_ts" not in row:
            row.update(produced=_epoch(v["produced_at"]), received_ts=r.timestamp / 1000)
    for r in read_topic(bootstrap, TRIAGE_BY_SUBJECT.of(app_id).name):
        v = json.loads(r.value)
        if v.get("kind") == "call" and (row := t.get(v["call_id"])) is not None and "by_subject_ts" not in row:
            row["by_subject_ts"] = r.timestamp / 1000
    for r in read_topic(bootstrap, TRIAGE_DECIDED.name):
        v = json.loads(r.value)
        if (row := t.get(v["payload"]["call_id"])) is not None and "decided_ts" not in row:
            row.update(decided_ts=r.timestamp / 1000, decided_produced=_epoch(v["produced_at"]),
                       level=v["payload"]["level"])
    engine = create_engine(db_url)
    try:
        with engine.connect() as db:
            for cid, outcome, alert_id, at in db.execute(text(
                    "SELECT call_id, outcome, alert_id, received_at FROM notifier_decisions")):
                if (row := t.get(cid)) is not None:
                    row.update(notifier_outcome=outcome, alert_id=alert_id, handled=_epoch(at))
            for cid, joined, outcome in db.execute(text(
                    "SELECT call_id, joined_at, outcome FROM notifier_alert_calls ORDER BY id")):
                if (row := t.get(cid)) is not None and "joined" not in row:
                    row.update(joined=_epoch(joined), joined_as=outcome)
    finally:
        engine.dispose()
    return t


def _cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes (the broker and the services) so far; one that ended counts 0."""
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except OSError:
            pass
    return total


def last_stage(row: dict) -> str:
    for key, name in (("sse", "SSE client"), ("joined", "notifier (alert written, not received by the client)"),
                      ("handled", f"notifier (decision recorded: {row.get('notifier_outcome')}, no alert)"),
                      ("decided_ts", "triage.decided.v1 (not handled by the notifier)"),
                      ("by_subject_ts", "triage place stage (no decision)"),
                      ("received_ts", "calls.received.v2 (not read by triage)")):
        if key in row:
            return name
    return "intake (accepted, never relayed)"


def pipeline(rate: float, seconds: float, quiet_calls: int = 5) -> dict:
    url, drop = bench_database("dyade_bench_pipeline")
    broker = EmbeddedBroker().start()
    home = mkdtemp()
    settings = Settings(kafka_bootstrap_servers=broker.bootstrap_servers, database_url=url, dyade_home=Path(home),
                        dyade_token_secret=SECRET, dyade_pseudonym_key="bench-pseudonym-key-0123456789abcdef",
                        intake_port=free_port(), triage_port=free_port(), infosocial_port=free_port(),
                        notifier_port=free_port(), analytics_port=free_port(), _env_file=None)
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers, "DATABASE_URL": url,
           "DYADE_HOME": home, "DYADE_TOKEN_SECRET": SECRET, "DYADE_PSEUDONYM_KEY": settings.dyade_pseudonym_key,
           "DYADE_LOG_LEVEL": "WARNING", "DYADE_IDLE_AFTER_S": str(QUIET_AFTER_S)}
    for name in ("intake", "triage", "infosocial", "notifier", "analytics"):
        env[f"{name.upper()}_PORT"] = str(settings.port_of(name))
    from services.triage.config import TriageOptions
    app_id = TriageOptions().app_id   # the same environment as the worker's
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
        if not client.connected.wait(30):
            raise RuntimeError("the SSE client did not connect within 30 s")
        accepted: dict[str, float] = {}
        accepted_wall: dict[str, float] = {}
        with httpx.Client(base_url=settings.url_of("intake"), headers=auth("dispatch"), timeout=30) as http:
            # warm-up: the first decisions pay the triage worker's and the consumer groups' start. Persons of
            # their own (another family, born in 1930): a measured call about a warm-up person would join its
            # open alert instead of getting one.
            warm = [f"warm-{uuid.uuid4().hex[:6]}" for _ in range(3)]
            for i, cid in enumerate(warm):
                http.post("/v1/calls", json=call(cid, i, "Chauffe", date(1930, 1, 1))).raise_for_status()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not all(c in client.arrived for c in warm):
                time.sleep(0.1)
            warmed = sum(c in client.arrived for c in warm)
            pids = [broker.process.pid, *(p.pid for p in platform.processes.values())]
            cpu_before, n, t0 = _cpu_seconds(pids), int(rate * seconds), time.perf_counter()
            for i in range(n):
                time.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
                cid = f"B-{uuid.uuid4().hex[:10]}"
                r = http.post("/v1/calls", json=call(cid, i))
                if r.status_code == 202:
                    accepted[cid], accepted_wall[cid] = time.perf_counter(), time.time()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not all(c in client.arrived for c in accepted):
                time.sleep(0.2)
            streaming_cpu = round(100 * (_cpu_seconds(pids) - cpu_before) / (time.perf_counter() - t0), 1)
            # calls after a quiet spell: the alert path's consumers have gone back to their idle fetch wait
            quiet: list[str] = []
            for i in range(quiet_calls):
                time.sleep(QUIET_AFTER_S + 2)
                cid = f"Q-{uuid.uuid4().hex[:10]}"
                if http.post("/v1/calls", json=call(cid, i, "Calme")).status_code == 202:   # persons of their own
                    accepted[cid], accepted_wall[cid] = time.perf_counter(), time.time()
                    quiet.append(cid)
                    deadline = time.monotonic() + 30
                    while time.monotonic() < deadline and cid not in client.arrived:
                        time.sleep(0.05)
        time.sleep(1.0)   # let the last commits land before reading the tables
        client.stop = True
        rows = trace(broker.bootstrap_servers, url, app_id, list(accepted))
    finally:
        platform.stop()
        broker.stop()
        drop()

    for cid, row in rows.items():
        row["accepted"] = accepted_wall[cid]
        if cid in client.arrived_wall:
            row["sse"] = client.arrived_wall[cid]
    decided = {c for c, r in rows.items() if "level" in r}
    # expected: every accepted call but those triage decided need no dyad (an undecided call is a loss too)
    expected = [c for c in accepted if c not in decided or rows[c]["level"] in ALERTING]
    delivered = [c for c in expected if c in client.arrived]
    missing = {c: last_stage(rows[c]) for c in expected if c not in client.arrived}
    streamed = [c for c in delivered if c not in quiet]
    stages = {}
    for key, label, a, b in STAGES:
        values = [(r[b] - r[a]) * 1000 for c, r in rows.items() if c in streamed and a in r and b in r]
        stages[key] = {"stage": label, **stats(values)}
    stages["total"] = {"stage": "intake commit → SSE client (sum of the stages)",
                       **stats([(r["sse"] - r["produced"]) * 1000 for c, r in rows.items()
                                if c in streamed and "produced" in r])}
    stages["intake_ack"] = {"stage": "(beside the chain) intake commit → 202 at the client",
                            **stats([(r["accepted"] - r["produced"]) * 1000 for r in rows.values() if "produced" in r])}
    levels: dict[str, int] = {}
    for c in decided:
        levels[rows[c]["level"]] = levels.get(rows[c]["level"], 0) + 1
    after_quiet = stats([(client.arrived[c] - accepted[c]) * 1000 for c in delivered if c in quiet])
    start = min((rows[c]["accepted"] for c in streamed), default=0.0)
    slowest = [{"call": c, "at_s": round(rows[c]["accepted"] - start, 2),
                "total_ms": round((rows[c]["sse"] - rows[c]["produced"]) * 1000, 1),
                **{key: round((rows[c][b] - rows[c][a]) * 1000, 1) for key, _, a, b in STAGES
                   if a in rows[c] and b in rows[c]}}
               for c in sorted((c for c in streamed if "produced" in rows[c]),
                               key=lambda c: rows[c]["produced"] - rows[c]["sse"])[:SLOWEST]]
    return stats([(client.arrived[c] - accepted[c]) * 1000 for c in streamed]) | {
        "after_quiet": after_quiet | {"calls": len(quiet), "quiet_s": QUIET_AFTER_S + 2},
        "calls": len(accepted), "decided": len(decided), "levels": levels, "expected": len(expected),
        "delivered": len(delivered), "delivered_as_update": sorted(c for c in delivered if c in client.joined),
        "missing": missing, "warm_up_delivered": f"{warmed}/3", "first_state": client.states,
        "sse_messages": client.messages, "stages": stages, "slowest": slowest,
        "platform_cpu_percent_while_streaming": streaming_cpu,
        "notifier_outcomes": _count(r.get("notifier_outcome") for r in rows.values())}


def _count(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[str(v)] = out.get(str(v), 0) + 1
    return out


def raw_hops(rate: float, seconds: float) -> dict:
    """The same number of broker hops as bare relays: produce → consume → produce … → consume, with the
    best plain-client settings (RAW_SETTINGS), on topics of the platform's partition count."""
    from kafka import KafkaConsumer, TopicPartition
    broker = EmbeddedBroker().start()
    names = [f"bench.hop{i}.v1" for i in range(HOPS)]
    consumer_opts = dict(fetch_max_wait_ms=RAW_SETTINGS["consumer"]["fetch_max_wait_ms"])
    poll_ms = RAW_SETTINGS["consumer"]["poll_timeout_ms"]
    linger = RAW_SETTINGS["producer"]["linger_ms"]
    try:
        create_topics(broker.bootstrap_servers, [Topic(n, "k", (), "bench", partitions=CALLS_RECEIVED.partitions)
                                                 for n in names])
        producer = make_producer(broker.bootstrap_servers, linger_ms=linger)
        stop = threading.Event()
        arrived: dict[str, float] = {}
        ready = threading.Barrier(HOPS + 1)

        def relay(src: str, dst: str | None) -> None:
            consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap_servers, group_id=None,
                                     enable_auto_commit=False, **consumer_opts)
            tps = [TopicPartition(src, p) for p in consumer.partitions_for_topic(src)]
            consumer.assign(tps)
            consumer.seek_to_end(*tps)
            for tp in tps:
                consumer.position(tp)
            out = make_producer(broker.bootstrap_servers, linger_ms=linger) if dst else None
            ready.wait()
            while not stop.is_set():
                for records in consumer.poll(timeout_ms=poll_ms).values():
                    now = time.perf_counter()
                    for r in records:
                        if out:
                            out.send(dst, key=r.key, value=r.value)
                        else:
                            arrived.setdefault(r.value.decode(), now)
            consumer.close()
            if out:
                out.close()

        threads = [threading.Thread(target=relay, args=(names[i], names[i + 1] if i + 1 < HOPS else None),
                                    daemon=True) for i in range(HOPS)]
        for t in threads:
            t.start()
        ready.wait()
        for i in range(3):   # warm-up: connections and metadata of every producer
            producer.send(names[0], key=b"w", value=f"W-{i}".encode())
        time.sleep(2)
        sent: dict[str, float] = {}
        n, t0 = int(rate * seconds), time.perf_counter()
        for i in range(n):
            time.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
            cid = f"R-{i}"
            sent[cid] = time.perf_counter()
            producer.send(names[0], key=cid.encode(), value=cid.encode())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(c in arrived for c in sent):
            time.sleep(0.1)
        stop.set()
        for t in threads:
            t.join(5)
        producer.close()
        return stats([(arrived[c] - t) * 1000 for c, t in sent.items() if c in arrived]) | {"calls": len(sent)}
    finally:
        broker.stop()


def path_settings() -> dict:
    """The measured path's client settings, read where they are set: the consumer kernel (notifier), faust's
    aiokafka driver and TriageOptions (triage), intake's outbox relay."""
    from services.intake.adapters import outbox as intake_outbox
    from services.triage.adapters import batching
    from services.triage.config import TriageOptions

    opts = TriageOptions()
    return {"notifier (consumer kernel)": measured_path_settings()["consumer"],
            "triage (faust/aiokafka)": {"fetch_max_wait_ms": fetch_pace(),   # services/triage/adapters/transport.py
                                        "producer_linger_ms": round(opts.producer_linger * 1000),
                                        "batch_within_ms": f"{batching.QUIET_WITHIN_S * 1000:g} "
                                                           f"({opts.batch_within * 1000:g} after a batch of "
                                                           f"{batching.TRICKLE}+)",
                                        "commit_interval_s": opts.commit_interval},
            "intake outbox relay": {"woken": "on commit", "idle_s": intake_outbox.Relay(None, "").idle_s,
                                    "linger_s": f"{intake_outbox.Relay.QUIET_LINGER_S:g} "
                                                f"({intake_outbox.Relay.BUSY_LINGER_S:g} from "
                                                f"{intake_outbox.Relay.BUSY_PER_S} events/s)",
                                    "acks": "waited per batch"}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=20.0, help="calls per second (default 20, the target's rate)")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--quick", action="store_true", help="10 s")
    args = ap.parse_args()
    seconds = 10.0 if args.quick else args.seconds
    load_before = os.getloadavg()[0]
    raw = raw_hops(args.rate, seconds)
    full = pipeline(args.rate, seconds)
    result = {"benchmark": "pipeline", "rate_per_s": args.rate, "seconds": seconds, "intake_to_sse": full,
              "raw_hops": raw, "hops": HOPS,
              "ratio_p50": round(full.get("p50_ms", 0) / raw["p50_ms"], 1) if raw.get("p50_ms") else None,
              "ratio_p99": round(full.get("p99_ms", 0) / raw["p99_ms"], 1) if raw.get("p99_ms") else None,
              "settings": {"raw_baseline": RAW_SETTINGS, "measured_path": path_settings()},
              "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)], "cpus": os.cpu_count(),
              "at": datetime.now(timezone.utc).isoformat()}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "pipeline.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    merged = len(full["delivered_as_update"])
    print(f"call accepted at intake → alert on the field app (SSE), {args.rate:g}/s for {seconds:.0f} s: "
          f"p50 {full.get('p50_ms')} ms, p99 {full.get('p99_ms')} ms")
    print(f"  delivered {full['delivered']}/{full['expected']} alert-worthy calls ({merged} as the update of an "
          f"open alert they joined); {full['calls']} accepted, {full['decided']} decided {full['levels']}; "
          f"first state {full['first_state']}")
    q = full["after_quiet"]
    print(f"  after a quiet spell ({q['calls']} calls, each after {q['quiet_s']} s without traffic, idle fetch "
          f"wait): p50 {q.get('p50_ms')} ms, max {q.get('max_ms')} ms")
    for cid, where in full["missing"].items():
        print(f"  missing {cid}: last seen at {where}")
    print("  per stage (events' own timestamps):            p50       p99")
    for key, s in full["stages"].items():
        print(f"    {s['stage']:<52}{s.get('p50_ms', '-'):>8} {s.get('p99_ms', '-'):>9} ms")
    print(f"  the platform (broker and services) used {full['platform_cpu_percent_while_streaming']} % of one core "
          "while the calls streamed")
    print(f"  the {SLOWEST} slowest (seconds into the run: ms per stage, in the order above):")
    for row in full["slowest"]:
        print(f"    {row['at_s']:>6} s  {row['total_ms']:>6} ms = "
              + " + ".join(str(row.get(key, "?")) for key, *_ in STAGES))
    print(f"raw broker hops ({HOPS} bare relays), same rate:      "
          f"p50 {raw.get('p50_ms')} ms, p99 {raw.get('p99_ms')} ms ({raw.get('n', 0)}/{raw['calls']})")
    print(f"  raw settings: {_fmt(RAW_SETTINGS)}")
    for side, opts in result["settings"]["measured_path"].items():
        print(f"  measured path, {side}: " + ", ".join(f"{k}={v}" for k, v in opts.items()))
    print(f"ratio: p50 ×{result['ratio_p50']}, p99 ×{result['ratio_p99']} (measured under load: load average "
          f"{result['load_average'][0]:.1f} → {result['load_average'][1]:.1f} on {os.cpu_count()} cores)")
    if full["missing"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
