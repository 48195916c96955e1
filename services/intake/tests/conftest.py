"""Intake's test fixtures: one intake app for the session (real broker, real PostgreSQL) and call bodies
with unique ids. What intake published is read with tests.kit's `reader`."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from dyade.kafka import wait_until
from services.intake.bootstrap import create_app


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
