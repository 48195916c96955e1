"""Faults an operator of a 911-connected system meets, on the real broker and PostgreSQL, with the platform
as `dyade up` runs it: poison records on every consumed topic, the broker frozen under a call stream, and
kill -9 of each service in turn under a call stream. After each, every accepted call has exactly one
decision, every alert-worthy decision exactly one alert, analytics counted each call once, and nobody
restarted anything by hand.

Short in CI; in full (`make faults`: broker frozen 60 s, longer streams) with DYADE_FAULTS=full."""
from __future__ import annotations

import time
import uuid

import orjson
import pytest

from dyade.contracts.topics import CALLS_RAW, TOPICS
from dyade.kafka import make_producer, wait_until
from tests.kit import TopicReader
from tests.faults.conftest import FULL
from tests.faults.platform import SERVICES, CallStream

pytestmark = pytest.mark.slow
FREEZE_S = 60 if FULL else 20
STREAM_S = 20 if FULL else 6


def settle(ledger, accepted: list[str], timeout: float = 240) -> dict:
    assert accepted, "no call was accepted"
    calls = set(accepted)
    try:
        counts = wait_until(lambda: ledger.settled(calls), timeout=timeout, interval=1.0)
    except TimeoutError:
        raise AssertionError(f"not settled after {timeout} s: {ledger.missing(calls)}") from None
    assert counts["calls_with_several_decisions"] == [], counts
    assert counts["calls_with_several_alerts"] == [], counts
    assert counts["alert_worthy"] > 0, counts   # the stream must exercise the alert path
    return counts


def stream_for(platform, seconds: float, rate: float = 5.0) -> CallStream:
    stream = CallStream(platform, prefix=f"F{uuid.uuid4().hex[:6]}", rate=rate).start()
    time.sleep(seconds)
    return stream


def test_poison_records_on_every_consumed_topic_are_dead_lettered_and_the_stream_goes_on(platform, ledger, report):
    producer = make_producer(platform.broker.bootstrap_servers)
    consumed = [t for t in TOPICS if t.consumed_by]
    poison = [b"\x00\xff\xfe not json", b'{"type": "call.received", "schema_version": 2, "payload": {}}',
              b'{"nul": "\\u0000"}']
    for topic in consumed:
        for value in poison:
            producer.send(topic.name, key=b"poison", value=value)
    nul_name = {"call_id": "POISON-NUL", "received_at": "2026-01-01T00:00:00+00:00", "nature_code": "EMP",
                "location": {"address": "100 rue Saint-Louis", "sector": "S1"},
                "persons": [{"first_name": "Lu\u0000cie", "last_name": "Pelletier", "role": "sujet"}]}
    producer.send(CALLS_RAW.name, key=b"raw-nul", value=orjson.dumps(nul_name))
    good = dict(nul_name, call_id="POISON-HEADER", persons=[])
    producer.send(CALLS_RAW.name, key=b"raw-header", value=orjson.dumps(good), headers=[("code_table", b"\xff\xfe")])
    producer.flush()
    producer.close()

    readers = {t.name: TopicReader(platform.broker.bootstrap_servers, t.dlq_name) for t in consumed}

    def dead_lettered_by_every_consumer() -> dict | None:
        seen = {}
        for name, reader in readers.items():
            services = {dict(r.headers).get("dlq.service", b"").decode() for r in reader.poll()
                        if r.key and r.key.startswith((b"poison", b"raw-"))}
            seen[name] = services
        topic = {t.name: t for t in consumed}
        missing = {n: set(topic[n].consumed_by) - s for n, s in seen.items() if set(topic[n].consumed_by) - s}
        return None if missing else seen
    try:
        wait_until(dead_lettered_by_every_consumer, timeout=120, interval=1.0)
        raw = [dict(r.headers)["dlq.reason"].decode() for r in readers[CALLS_RAW.name].poll()
               if r.key in (b"raw-nul", b"raw-header")]
        assert len(raw) == 2, raw
    finally:
        for r in readers.values():
            r.close()
    stream = stream_for(platform, STREAM_S)
    counts = settle(ledger, stream.stop())
    # no consumer stopped or stuck; a burst of dead letters is said, not silent
    states = {f"{s}/{c['group']}": (c["state"], c["message"]) for s, cs in platform.consumers().items() for c in cs}
    assert all(state in ("running", "degraded") for state, _ in states.values()), states
    assert all("lettres mortes" in message for state, message in states.values() if state == "degraded"), states
    report["poison"] = {"poison_records": len(consumed) * len(poison) + 2, **counts}


def test_the_broker_frozen_under_a_call_stream_loses_nothing_and_needs_no_restart(platform, ledger, report):
    pids = platform.service_pids()
    stream = stream_for(platform, 3)
    platform.broker.pause()
    try:
        time.sleep(FREEZE_S)
    finally:
        platform.broker.resume()
    time.sleep(STREAM_S)
    accepted = stream.stop()
    counts = settle(ledger, accepted)
    wait_until(lambda: all(platform.ready().values()), timeout=120, interval=1.0)
    assert platform.service_pids() == pids, "a service was restarted"
    report["broker_frozen"] = {"frozen_s": FREEZE_S, "retried_posts": stream.retries, **counts}


@pytest.mark.parametrize("service", SERVICES)
def test_kill_9_of_a_service_under_a_call_stream_is_restarted_and_loses_nothing(platform, ledger, report, service):
    before = platform.service_pids()
    stream = stream_for(platform, 2)
    killed = platform.kill9(service)
    wait_until(lambda: platform.service_pids().get(service) not in (None, killed), timeout=90, interval=0.5)
    platform.wait_ready(180)
    time.sleep(STREAM_S / 2)
    accepted = stream.stop()
    counts = settle(ledger, accepted)
    after = platform.service_pids()
    assert {s: p for s, p in after.items() if s != service} == {s: p for s, p in before.items() if s != service}
    report[f"kill_9_{service}"] = {"retried_posts": stream.retries, **counts}
