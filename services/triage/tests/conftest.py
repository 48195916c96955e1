"""One triage worker subprocess for the whole test session, with its own app id."""
from __future__ import annotations

import uuid

import pytest

from dyade.broker import free_port
from dyade.kafka import make_producer
from services.triage.tests.harness import Worker


@pytest.fixture(scope="session")
def triage_worker(settings, tmp_path_factory):
    log = tmp_path_factory.mktemp("triage") / "worker.log"
    worker = Worker(settings, f"triage-test-{uuid.uuid4().hex[:8]}", settings.triage_port, log)
    worker.start_seconds = worker.start()
    yield worker
    worker.stop()


@pytest.fixture(scope="session")
def producer(broker):
    p = make_producer(broker.bootstrap_servers)
    yield p
    p.close()


@pytest.fixture(scope="session")
def new_worker(settings, tmp_path_factory):
    """Start more workers (fresh app id: they replay every topic from the beginning)."""
    started = []

    def make() -> Worker:
        log = tmp_path_factory.mktemp("triage-replay") / "worker.log"
        w = Worker(settings, f"triage-replay-{uuid.uuid4().hex[:8]}", free_port(), log)
        started.append(w)
        return w
    yield make
    for w in started:
        w.stop()
