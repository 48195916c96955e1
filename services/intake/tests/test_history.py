"""The embedded broker keeps nothing across a restart: intake notices that the broker lost the events
its outbox says were sent, and republishes them all, in order, with the same event ids. A broker that
still holds them gets nothing twice. Own database and own brokers: the relay here must not touch the
session's outbox."""
from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from dyade.broker import EmbeddedBroker
from dyade.kafka import create_topics, wait_until
from dyade.db import scratch_database
from tests.kit import TopicReader
from services.intake.bootstrap import create_app
from services.intake.adapters.outbox import PRODUCED_TOPICS
from services.intake.tests.conftest import call_body


@pytest.fixture(scope="module")
def own_db():
    url, drop = scratch_database("dyade_intake_hist")
    yield url
    drop()


def events_on(bootstrap: str) -> dict[str, list[str]]:
    out = {}
    for topic in PRODUCED_TOPICS:
        r = TopicReader(bootstrap, topic)
        r.poll(); r.poll()
        out[topic.name] = sorted((rec.partition, rec.offset, dict(rec.headers)["event_id"].decode()) for rec in r.records)
        r.close()
    return out


def run_intake(settings, bootstrap, db_url):
    s = settings.model_copy(update={"kafka_bootstrap_servers": bootstrap, "database_url": db_url})
    return create_app(s, raw_group=f"intake-raw-hist-{uuid.uuid4().hex[:6]}")


def test_empty_broker_after_restart_gets_every_event_back_in_order(settings, own_db, token, tmp_path):
    dispatch = token("dispatch")
    sent: list[str] = []
    with EmbeddedBroker(log_path=tmp_path / "b1.log") as b1:
        create_topics(b1.bootstrap_servers)
        app = run_intake(settings, b1.bootstrap_servers, own_db)
        with TestClient(app) as c:
            for i in range(6):
                r = c.post("/v1/calls", json=call_body(f"H-{i}", revision=1), headers=dispatch)
                assert r.status_code == 202
                sent.append(r.json()["event_id"])
            r = c.post("/v1/calls/H-0/updates", json={"status": "cleared", "at": call_body("x")["received_at"],
                                                     "disposition": "refere"}, headers=dispatch)
            sent.append(r.json()["event_id"])
            r = c.post("/v1/referrals", headers=token("officer"), json={
                "referral_id": "R-H-1", "referrer_type": "policier", "referrer_id": "matricule 4521",
                "person": {"first_name": "Marie", "last_name": "Gagnon", "birth_date": "1975-02-03"},
                "criteria": ["recurrence"], "linked_call_ids": ["H-0"]})
            sent.append(r.json()["event_id"])
            wait_until(lambda: app.state.relay.backlog() == 0, timeout=60)
        before = events_on(b1.bootstrap_servers)
        assert sorted(e for t in before.values() for _, _, e in t) == sorted(sent)

    with EmbeddedBroker(log_path=tmp_path / "b2.log") as b2:  # a new, empty broker
        create_topics(b2.bootstrap_servers)
        app = run_intake(settings, b2.bootstrap_servers, own_db)
        with TestClient(app) as c:
            wait_until(lambda: app.state.relay.restored == 1 and app.state.relay.backlog() == 0, timeout=90)
        after = events_on(b2.bootstrap_servers)
        assert after == before, "same events, same partitions, same order"
        # The broker now holds the history: a restarted intake republishes nothing.
        app = run_intake(settings, b2.bootstrap_servers, own_db)
        with TestClient(app) as c:
            wait_until(lambda: app.state.relay.verified.is_set(), timeout=60)
            assert app.state.relay.restored == 0
        assert events_on(b2.bootstrap_servers) == before


def test_a_broker_restarted_under_a_running_intake_gets_what_came_before_and_after(settings, token, tmp_path):
    """`dyade up` restarts a dead embedded broker on its port while intake runs. The relay builds a new
    producer (kafka-python's stays failed after the restart) and sees the offsets start again: the calls
    accepted before the restart are republished, though more calls came after than there were before."""
    from dyade.broker import free_port
    url, drop = scratch_database("dyade_intake_restart")
    dispatch, port = token("dispatch"), free_port("127.0.0.1")
    ids = lambda bootstrap: {e for t in events_on(bootstrap).values() for _, _, e in t}  # noqa: E731
    try:
        b1 = EmbeddedBroker(port=port, log_path=tmp_path / "b1.log").start()
        create_topics(b1.bootstrap_servers)
        app = run_intake(settings, b1.bootstrap_servers, url)
        with TestClient(app) as c:
            relay = app.state.relay
            wait_until(relay.verified.is_set, timeout=60)
            before = [c.post("/v1/calls", json=call_body(f"RB-{i}"), headers=dispatch).json()["event_id"]
                      for i in range(3)]
            wait_until(lambda: relay.backlog() == 0, timeout=60)
            b1.stop()
            with EmbeddedBroker(port=port, log_path=tmp_path / "b2.log") as b2:
                create_topics(b2.bootstrap_servers)
                after = [c.post("/v1/calls", json=call_body(f"RA-{i}"), headers=dispatch).json()["event_id"]
                         for i in range(6)]   # same place, same partition: past the old last offset
                wait_until(lambda: set(before + after) <= ids(b2.bootstrap_servers), timeout=90, interval=1)
                assert relay.restored == 1
    finally:
        drop()
