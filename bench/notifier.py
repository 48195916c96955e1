"""Alert latency of the notifier: from a triage decision published on triage.decided.v1 to the
alert received by a dyad's connected field app (SSE), p50 and p99 at a stated decision rate (open loop:
each decision is sent at its scheduled time and timed from its send).

Baseline in the same run: the raw broker hop those decisions cross, measured on the very same records by a
bare kafka-python consumer reading triage.decided.v1 (produce → consume), set up as well as a plain client
can be on this broker (RAW_SETTINGS: fetch_max_wait_ms 10, producer linger 0, no flush per record — the
measured path does not flush per record either). Tansu does not answer a parked fetch when a record
arrives: a hop costs up to half of the consumer's fetch_max_wait_ms, so kafka-python's default (500 ms)
alone makes a hop p50 ≈ 125 ms there. The difference is the notifier's own work and settings: consume
(the kernel's fetch settings), dedupe, route, write the alert and its event (PostgreSQL, or SQLite when
none answers), wake the stream, read it back and serialize it to the client.

The notifier runs in its own process (uvicorn, consumers, outbox relay), on the embedded Tansu broker.
The integrator extends this to intake → alert once every service exists.

    python -m bench.notifier [--rate 20] [--seconds 20] [--quick]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from bench._db import bench_database

import httpx

RESULTS = Path(__file__).parent / "results"
SECRET = "bench-token-secret-long-enough-for-hs256"


def serve(bootstrap: str, db_url: str, port: int, home: str) -> None:
    import logging

    import uvicorn

    from dyade.settings import Settings
    from services.notifier.bootstrap import create_app
    from services.notifier.config import NotifierConfig
    logging.disable(logging.WARNING)
    settings = Settings(kafka_bootstrap_servers=bootstrap, database_url=db_url, dyade_token_secret=SECRET,
                        dyade_home=Path(home), _env_file=None)
    config = NotifierConfig(group_id=f"bench-notifier-{uuid.uuid4().hex[:6]}", tick_s=0, _env_file=None)
    uvicorn.run(create_app(settings, config), host="127.0.0.1", port=port, log_level="error", access_log=False)


def database() -> tuple[str, callable]:
    return bench_database("dyade_bench_notifier")


class AlertStream(threading.Thread):
    """A field-app client on the notifier's live stream: when each call first reaches it, and how.

    A call is delivered when any alert message that carries it arrives: its own new alert (`call_id`), or
    the update of an open alert it joined (`call_ids`: the notifier merges a call about the same person into
    the open alert, silently or paging anew). `arrived` is perf_counter time, `arrived_wall` Unix time (to
    compare with the services' timestamps), `joined` the calls that arrived as an update of another call's
    alert, `states` the change's state at each call's first arrival."""

    def __init__(self, base: str, headers: dict):
        super().__init__(daemon=True)
        self.base, self.headers = base, headers
        self.arrived: dict[str, float] = {}
        self.arrived_wall: dict[str, float] = {}
        self.joined: set[str] = set()
        self.states: dict[str, int] = {}
        self.messages = 0
        self.connected = threading.Event()
        self.stop = False

    def run(self) -> None:
        try:
            with httpx.stream("GET", f"{self.base}/v1/stream", headers=self.headers,
                              timeout=httpx.Timeout(10, read=None)) as resp:
                self.connected.set()
                for line in resp.iter_lines():
                    if self.stop:
                        return
                    if line.startswith("data:"):
                        now, wall = time.perf_counter(), time.time()
                        data = json.loads(line[5:])
                        self.messages += 1
                        alert = data["alert"]
                        headline = alert.get("call_id")
                        for call_id in dict.fromkeys([headline, *(alert.get("call_ids") or [])]):
                            if call_id and call_id not in self.arrived:
                                self.arrived[call_id], self.arrived_wall[call_id] = now, wall
                                if call_id != headline:
                                    self.joined.add(call_id)
                                state = data["change"]["state"]
                                self.states[state] = self.states.get(state, 0) + 1
        except httpx.HTTPError:
            if not self.stop:
                raise


# The raw baseline's client settings: the best a plain kafka-python client does on this broker.
RAW_SETTINGS = {"consumer": {"fetch_max_wait_ms": 10, "poll_timeout_ms": 100},
                "producer": {"linger_ms": 0, "acks": "all", "flush_per_record": False}}


class RawConsumer(threading.Thread):
    """Baseline: a bare consumer of the same topic; records when each call's decision arrives."""

    def __init__(self, bootstrap: str):
        super().__init__(daemon=True)
        from kafka import KafkaConsumer, TopicPartition
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                      fetch_max_wait_ms=RAW_SETTINGS["consumer"]["fetch_max_wait_ms"])
        parts = self.consumer.partitions_for_topic("triage.decided.v1")
        self.consumer.assign([TopicPartition("triage.decided.v1", p) for p in parts])
        self.consumer.seek_to_end()
        self.arrived: dict[str, float] = {}
        self.stop = False

    def run(self) -> None:
        while not self.stop:
            for records in self.consumer.poll(timeout_ms=RAW_SETTINGS["consumer"]["poll_timeout_ms"]).values():
                now = time.perf_counter()
                for r in records:
                    self.arrived.setdefault(json.loads(r.value)["payload"]["call_id"], now)
        self.consumer.close()


def decision(call_id: str):
    from dyade.contracts.triage import Danger, DecisionPayload, Recurrence, TriageDecided
    now = datetime.now(timezone.utc)
    payload = DecisionPayload(decision_id=f"{call_id}:bench", call_id=call_id, location_key="l_bench", sector="S1",
                              category="etat_mental_perturbe", level="dyade_suggeree",
                              danger=Danger(level="aucun", score=0), recurrence=Recurrence(),
                              ruleset_version="bench", call_received_at=now, summary="bench")
    return TriageDecided.new(payload=payload, occurred_at=now, source="bench", correlation_id=call_id)


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def summarize(sent: dict[str, float], arrived: dict[str, float]) -> dict:
    lat = [(arrived[c] - t) * 1000 for c, t in sent.items() if c in arrived]
    if not lat:
        return {"received": 0, "sent": len(sent)}
    return {"sent": len(sent), "received": len(lat), "p50_ms": round(percentile(lat, 0.50), 2),
            "p99_ms": round(percentile(lat, 0.99), 2), "max_ms": round(max(lat), 2),
            "mean_ms": round(statistics.fmean(lat), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=20.0, help="decisions per second (default 20)")
    ap.add_argument("--seconds", type=float, default=20.0, help="measured duration (default 20 s)")
    ap.add_argument("--quick", action="store_true", help="5 s at the same rate")
    args = ap.parse_args()
    seconds = 5.0 if args.quick else args.seconds

    from dyade.auth import issue_token
    from dyade.broker import EmbeddedBroker, free_port
    from dyade.db import migrate
    from dyade.kafka import create_topics, make_producer, publish, wait_until

    db_url, drop = database()
    migrate(db_url)
    broker = EmbeddedBroker().start()
    port = free_port()
    proc = None
    try:
        create_topics(broker.bootstrap_servers)
        ctx = multiprocessing.get_context("spawn")
        proc = ctx.Process(target=serve, args=(broker.bootstrap_servers, db_url, port, tempfile.mkdtemp()),
                           daemon=True)
        proc.start()
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _ok(f"{base}/readyz"), timeout=90, interval=0.2)
        sup = {"Authorization": "Bearer " + issue_token(SECRET, subject="bench", role="supervisor")}
        dyad = {"Authorization": "Bearer " + issue_token(SECRET, subject="bench", role="dyad", dyad_id="D1",
                                                         sector="S1")}
        always = [{"days": list(range(7)), "start": "00:00", "end": "00:00"}]
        httpx.put(f"{base}/v1/dyads/D1", json={"name": "Dyade 1", "sector": "S1", "shifts": always},
                  headers=sup).raise_for_status()

        client = AlertStream(base, dyad)
        client.start()
        client.connected.wait(30)
        raw = RawConsumer(broker.bootstrap_servers)
        raw.start()
        producer = make_producer(broker.bootstrap_servers, linger_ms=RAW_SETTINGS["producer"]["linger_ms"])
        run = uuid.uuid4().hex[:6]
        warm = f"warm-{run}"   # the consumer group is assigned and the stream is live
        publish(producer, decision(warm))
        producer.flush()
        wait_until(lambda: warm in client.arrived, timeout=120, interval=0.1)

        sent: dict[str, float] = {}
        interval, t0 = 1.0 / args.rate, time.perf_counter()
        n = int(seconds * args.rate)
        for i in range(n):
            scheduled = t0 + i * interval
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            call_id = f"bench-{run}-{i}"
            event = decision(call_id)
            sent[call_id] = time.perf_counter()
            publish(producer, event)
        producer.flush()
        try:
            wait_until(lambda: all(c in client.arrived for c in sent), timeout=60, interval=0.2)
        except TimeoutError:
            pass
        client.stop = raw.stop = True
        producer.close()
    finally:
        if proc is not None:   # stopped before its database is dropped
            proc.terminate()
            proc.join(20)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
        broker.stop()
        drop()

    notifier, hop = summarize(sent, client.arrived), summarize(sent, raw.arrived)
    result = {"benchmark": "notifier", "rate_per_s": args.rate, "seconds": seconds,
              "database": db_url.split(":", 1)[0], "decision_to_sse_alert": notifier, "raw_broker_hop": hop,
              "ratio_p50": round(notifier.get("p50_ms", 0) / hop["p50_ms"], 1) if hop.get("p50_ms") else None,
              "ratio_p99": round(notifier.get("p99_ms", 0) / hop["p99_ms"], 1) if hop.get("p99_ms") else None,
              "load_avg_1m": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
              "settings": {"raw_baseline": RAW_SETTINGS, "measured_path": measured_path_settings()},
              "at": datetime.now(timezone.utc).isoformat()}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "notifier.json").write_text(json.dumps(result, indent=2))
    print(f"settings: raw baseline {_fmt(RAW_SETTINGS)}; notifier (consumer kernel) "
          f"{_fmt(result['settings']['measured_path'])}")
    print(f"decision → alert on SSE at {args.rate:g}/s for {seconds:g} s ({result['database']}): "
          f"p50 {notifier.get('p50_ms')} ms, p99 {notifier.get('p99_ms')} ms "
          f"({notifier['received']}/{notifier['sent']} received)")
    print(f"raw broker hop, same records:         p50 {hop.get('p50_ms')} ms, p99 {hop.get('p99_ms')} ms")
    print(f"ratio: p50 ×{result['ratio_p50']}, p99 ×{result['ratio_p99']} "
          f"(machine load {result['load_avg_1m']} on {result['cpus']} CPUs)")
    if notifier["received"] < notifier["sent"]:
        sys.exit(1)


def measured_path_settings() -> dict:
    """What the notifier's consumers run with (dyade/consumer.py, read from its source: the consumer runs in
    the notifier's process): its poll timeout and the alert path's fetch_max_wait_ms (the decisions' consumer)."""
    import inspect
    import re

    from dyade import consumer as kernel
    source = inspect.getsource(kernel)
    poll = re.findall(r"batch = consumer\.poll\(timeout_ms=(\d+)", source)
    return {"consumer": {"fetch_max_wait_ms": fetch_pace(), "poll_timeout_ms": poll[0] if poll else "?"},
            "producer": {"linger_ms": 5, "flush": "after each polled batch"}}


def fetch_pace() -> str:
    """The alert path's fetch wait (dyade/consumer.py FetchPace): short right after records, longer as the quiet
    lasts."""
    from dyade import consumer as kernel
    return (f"{kernel.FETCH_WAIT_MS} right after records (growing to {kernel.IDLE_FETCH_WAIT_MS} over "
            f"{kernel.IDLE_AFTER_S:g} s of quiet)")


def _fmt(settings: dict) -> str:
    return "; ".join(f"{side} " + ", ".join(f"{k}={v}" for k, v in opts.items()) for side, opts in settings.items())


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    main()
