"""Info-social test fixtures: one real server (uvicorn in a thread) on the session's PostgreSQL and broker,
with its own consumer group. What it published is read with tests.kit's `reader`."""
from __future__ import annotations

import uuid

import httpx
import pytest

from dyade.kafka import wait_until
from tests.kit import Served

from infosocial_helpers import SW_A, SW_B, reading_triage_from


@pytest.fixture(scope="session")
def infosocial(settings):
    """(base_url, app) of a running Info-social service."""
    from services.infosocial.bootstrap import create_app
    app = create_app(settings, consumer_group=f"infosocial-test-{uuid.uuid4().hex[:8]}")
    with Served(app, lifespan="on") as served:
        wait_until(lambda: _ok(served.url), timeout=60, interval=0.1)
        yield served.url, app


def _ok(base: str) -> bool:
    try:
        return httpx.get(base + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="session")
def api(infosocial):
    base, _ = infosocial
    with httpx.Client(base_url=base, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def runtime(infosocial):
    return infosocial[1].state.runtime


@pytest.fixture
def person() -> str:
    return "p_" + uuid.uuid4().hex[:20]


@pytest.fixture(scope="session")
def sw(token):
    """Headers of the two social workers (author and approver)."""
    return token("social_worker", subject=SW_A), token("social_worker", subject=SW_B)


@pytest.fixture(scope="session")
def intake_url(settings):
    """A real intake app (no relay nor raw consumer: only its HTTP API is needed here) on a free port."""
    from services.intake.bootstrap import create_app
    with Served(create_app(settings, background=False), lifespan="on") as served:
        wait_until(lambda: _ok(served.url), timeout=60, interval=0.1)
        yield served.url


@pytest.fixture
def reading_from(infosocial):
    """Points the page's identity adapter at a given intake for one test."""
    from services.infosocial.adapters.identities import IntakeIdentities
    state = infosocial[1].state
    original, used = state.identities, []

    def use(url: str) -> None:
        used.append(IntakeIdentities(url))
        state.identities = used[-1]
    yield use
    state.identities = original
    for adapter in used:
        adapter.close()


@pytest.fixture(scope="module")
def triage(infosocial, settings):
    """A stand-in of triage's read API (triage's own views over triage state), used by Info-social's desk
    for this module's tests."""
    from infosocial_fakes import FakeTriage
    with reading_triage_from(infosocial[1].state, FakeTriage(settings.dyade_token_secret)) as fake:
        yield fake
