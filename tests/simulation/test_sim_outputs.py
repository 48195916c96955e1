"""Where a stream goes: CSV for `dyade replay`, the raw Kafka topic (read back from the real broker), and
intake over HTTP (the real intake app on the session's PostgreSQL): everything accepted, and the spelling
variants of a frequent caller resolved by intake to one pseudonymous key."""
from __future__ import annotations

import csv
from dataclasses import replace
from datetime import date, datetime

import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition

from dyade.auth import issue_token
from dyade.kafka import wait_until
from dyade.simulation.outputs import CSV_COLUMNS, KafkaSink
from dyade.simulation.profiles import PROFILES
from dyade.simulation.run import simulate
from dyade.simulation.simulation import Knobs, Simulation

from sim_helpers import write_run  # type: ignore[import-not-found]


def test_csv_has_one_row_a_call(tmp_path):
    knobs = Knobs(PROFILES["demo"], seed=4, start=date(2026, 2, 1), days=7)
    run = write_run(tmp_path, knobs, suffix=".csv")
    with (tmp_path / "calls.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    assert len(rows) == run.truth["stream"]["calls"]
    assert len({r["call_id"] for r in rows}) == len(rows)
    assert all(datetime.fromisoformat(r["received_at"]).tzinfo for r in rows)
    assert any(r["last_name"] for r in rows) and any("," in r["address"] for r in rows)


def test_calls_reach_the_raw_topic(broker, unique):
    knobs = Knobs(PROFILES["demo"], seed=6, start=date(2026, 3, 1), days=2, prefix=f"K{unique}")
    sink = KafkaSink(broker.bootstrap_servers)
    result = simulate(knobs, sink)
    sent = result.truth["stream"]["calls"]
    assert sent > 50 and sink.counts.calls == sent
    assert sink.skipped == result.truth["stream"]["updates"] + result.truth["stream"]["referrals"]  # not raw calls
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap_servers, group_id=None, enable_auto_commit=False)
    try:
        parts = consumer.partitions_for_topic("calls.raw.v1")
        consumer.assign([TopicPartition("calls.raw.v1", p) for p in parts])
        consumer.seek_to_beginning()
        mine: dict[str, dict] = {}

        def all_read() -> bool:
            for records in consumer.poll(timeout_ms=500).values():
                for r in records:
                    if r.key and r.key.decode().startswith(f"K{unique}-"):
                        mine[r.key.decode()] = orjson.loads(r.value)
            return len(mine) >= sent
        wait_until(all_read, timeout=60)
    finally:
        consumer.close()
    assert len(mine) == sent
    assert all(body["call_id"] == key for key, body in mine.items())


@pytest.fixture(scope="module")
def intake_http(settings):
    from fastapi.testclient import TestClient
    from services.intake.bootstrap import create_app
    app = create_app(settings, background=False)  # acceptance only: the relay is intake's own business
    with TestClient(app) as client:
        yield client


def test_a_stream_into_intake_is_accepted_and_persons_resolve_to_one_key(settings, intake_http, unique):
    from dyade.simulation.intake_client import HttpSink, ServiceClient

    def token(role: str, subject: str) -> str:
        return issue_token(settings.dyade_token_secret, subject=subject, role=role)
    client = ServiceClient("http://testserver", token, attempts=2, name="intake", http=intake_http)
    profile = replace(PROFILES["demo"], extreme_rate=600.0)  # a week is enough to see them call again and again
    knobs = Knobs(profile, seed=5, start=date(2026, 10, 1), days=4, prefix=f"H{unique}", intervention_share=1.0)
    sink = HttpSink(client, batch=100, eido_share=0.05)
    result = simulate(knobs, sink)
    stream = result.truth["stream"]
    not_eido = {reason: n for reason, n in sink.counts.reasons.items() if not reason.startswith("EIDO ")}
    assert not_eido == {}
    assert sink.counts.calls == stream["calls"] and sink.counts.updates == stream["updates"]
    assert sink.counts.referrals == stream["referrals"]

    extreme = next(p for p in result.truth["persons"] if p["kind"] == "extreme")
    assert len(extreme["call_ids"]) >= 3
    # The same seed gives the same calls: replaying the extreme utiliser's calls returns what intake stored.
    bodies = {r.call_id: r.body for r in Simulation(knobs).stream(updates=False, referrals=False)
              if r.call_id in set(extreme["call_ids"])}
    keys = set()
    for call_id in extreme["call_ids"]:
        if call_id in sink.renamed:  # it went in as an EIDO document, under its incident id
            continue
        r = intake_http.post("/v1/calls", json=bodies[call_id],
                             headers={"Authorization": f"Bearer {token('dispatch', 'test')}"})
        assert r.status_code == 202 and r.headers.get("Idempotent-Replay") == "true", r.text
        keys |= {p["person_key"] for p in r.json()["persons"] if p.get("role") == "sujet"}
    resolved = intake_http.post("/v1/persons/resolve", json={**extreme["identity"], "role": "sujet"},
                                headers={"Authorization": f"Bearer {token('social_worker', 'test')}"})
    assert resolved.status_code == 200, resolved.text
    assert keys == {resolved.json()["person_key"]}
    assert resolved.json()["match"] == "exact"


def test_the_csv_replays_through_intakes_reader(tmp_path):
    from pathlib import Path

    import yaml

    from dyade.simulation.profiles import CODE_TABLE
    from services.intake.entrypoints.replay import reader
    mapping_path = Path(__file__).resolve().parents[2] / "dyade" / "simulation" / "replay-simulateur.yaml"
    assert {k: v for k, v in yaml.safe_load(mapping_path.read_text())["codes"].items()} == \
        {code: cat.value for code, cat in CODE_TABLE.items()}
    run = write_run(tmp_path, Knobs(PROFILES["demo"], seed=12, start=date(2026, 4, 1), days=5), suffix=".csv")
    rows = list(reader.read_export([tmp_path / "calls.csv"], reader.load_mapping(mapping_path)))
    skipped = [r for r in rows if not isinstance(r, reader.AcceptedRow)]
    assert skipped == []
    assert len(rows) == run.truth["stream"]["calls"]
    first = rows[0].submission
    assert first.call_id.startswith("SIM-20260401-") and first.received_at.tzinfo is not None


def test_the_pacer_keeps_the_streams_own_time_divided_by_the_speed():
    from datetime import timedelta

    from dyade.simulation.outputs import Pacer
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds
    pacer = Pacer(60, clock=lambda: now[0], sleep=sleep)  # one simulated hour a minute
    t0 = datetime(2026, 5, 1, 8, 0)
    for minutes in (0, 30, 90, 90, 150):
        pacer.wait(t0 + timedelta(minutes=minutes))
    assert slept == [30.0, 60.0, 60.0]  # nothing to wait for a second record at the same time
    now[0] += 500  # the sink was slow: no sleep, it catches up
    pacer.wait(t0 + timedelta(minutes=160))
    assert slept == [30.0, 60.0, 60.0]
    fast = Pacer(0, clock=lambda: 0.0, sleep=lambda s: slept.append(s))
    fast.wait(t0)
    fast.wait(t0 + timedelta(days=1))
    assert len(slept) == 3
