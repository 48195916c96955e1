"""One analytics server (real uvicorn, its own consumer group) and one synthetic history published through
the real broker, shared by the integration and browser tests of this package."""
from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import func, select

from dyade.db import make_engine
from dyade.kafka import make_producer, publish, wait_until
from services.analytics.adapters import models as m
from services.analytics.bootstrap import create_app
from services.analytics.tests.history import build
from tests.kit import Served


@pytest.fixture(scope="package")
def server(settings):
    app = create_app(settings, group_id=f"analytics-test-{uuid.uuid4().hex[:8]}")
    served = Served(app, settings.analytics_port, lifespan="on").start()
    wait_until(lambda: app.state.consumer is not None and app.state.consumer.ready.is_set(), timeout=90)
    yield app, served.url
    served.stop(wait=30)


def stored_count(db_url: str, ids: list[str]) -> int:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(m.processed)
                                .where(m.processed.c.event_id.in_(ids))).scalar_one()
    finally:
        engine.dispose()


@pytest.fixture(scope="package")
def history(server, settings):
    """The synthetic history, published to the real topics; returns once analytics has stored all of it."""
    h = build(uuid.uuid4().hex[:8])
    producer = make_producer(settings.kafka_bootstrap_servers)
    for event in h.events:
        publish(producer, event)
    producer.flush(30)
    producer.close()
    ids = [str(e.event_id) for e in h.events]
    wait_until(lambda: stored_count(settings.db_url, ids) == len(ids), timeout=120, interval=0.3)
    server[0].state.book.refresh()
    return h


@pytest.fixture(scope="package")
def client(server, token):
    with httpx.Client(base_url=server[1], headers=token("analyst"), timeout=60) as c:
        yield c
