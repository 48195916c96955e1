"""Intake's test fixtures: one intake app for the session (real broker, real PostgreSQL), a helper to
read what intake published, and call bodies with unique ids."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from kafka import KafkaConsumer, TopicPartition

from dyade.contracts import decode
from dyade.kafka import wait_until
from services.intake.api import create_app


@pytest.fixture(scope="session")
def intake(settings):
    """The intake app with its outbox relay and raw-topic consumer running (own consumer group)."""
    app = create_app(settings, raw_group=f"intake-raw-test-{uuid.uuid4().hex[:8]}")
    with TestClient(app) as client:
        wait_until(lambda: app.state.relay.verified.is_set(), timeout=60)
        yield client


@pytest.fixture(scope="session")
def dispatch(token):
    return token("dispatch", subject="rao-test")


def call_body(call_id: str, **over) -> dict:
    body = {
        "call_id": call_id,
        "revision": 1,
        "received_at": (datetime.now(timezone.utc) - timedelta(minutes=3)).isoformat(),
        "nature_code": "EMP",
        "priority": 2,
        "location": {"address": "1234 rue Principale, Terrebonne", "sector": "S1", "lat": 45.7, "lon": -73.64},
        "persons": [{"first_name": "Jean-François", "last_name": "Tremblay", "birth_date": "1980-05-17",
                     "role": "sujet"}],
        "caller_relation": "famille",
        "flags": ["idees_suicidaires"],
        "narrative": "Mère inquiète: son fils tient des propos suicidaires.",
    }
    body.update(over)
    return body


class TopicReader:
    """Reads a topic from the beginning (no consumer group) and keeps what matches."""

    def __init__(self, bootstrap: str, topic: str):
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                      client_id="intake-test-reader")
        parts = self.consumer.partitions_for_topic(topic) or set()
        wait_until(lambda: self.consumer.partitions_for_topic(topic), timeout=30)
        parts = self.consumer.partitions_for_topic(topic)
        self.consumer.assign([TopicPartition(topic, p) for p in parts])
        self.consumer.seek_to_beginning()
        self.records = []

    def poll(self):
        for recs in self.consumer.poll(timeout_ms=300).values():
            self.records.extend(recs)
        return self.records

    def events(self, predicate=lambda e: True):
        out = []
        for rec in self.records:
            try:
                event = decode(rec.value)
            except Exception:
                continue
            if predicate(event):
                out.append(event)
        return out

    def wait_for(self, predicate, count: int, timeout: float = 60):
        def enough():
            self.poll()
            return len(self.events(predicate)) >= count
        wait_until(enough, timeout=timeout, interval=0.1)
        return self.events(predicate)

    def wait_for_records(self, predicate, count: int, timeout: float = 60):
        def enough():
            self.poll()
            return len([r for r in self.records if predicate(r)]) >= count
        wait_until(enough, timeout=timeout, interval=0.1)
        return [r for r in self.records if predicate(r)]

    def close(self):
        self.consumer.close()


@pytest.fixture
def reader(broker):
    opened = []

    def make(topic: str) -> TopicReader:
        r = TopicReader(broker.bootstrap_servers, topic)
        opened.append(r)
        return r
    yield make
    for r in opened:
        r.close()
