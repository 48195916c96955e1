"""The whole platform for cross-service tests: every service as its own process (as `dyade up` runs them),
on the session's broker and a database of its own; stopped when the e2e tests end."""
from __future__ import annotations

import httpx
import pytest

from dyade.auth import issue_token
from tests.kit import every_service, fresh_database, settings_for


@pytest.fixture(scope="package")
def platform(broker, tmp_path_factory):
    home = tmp_path_factory.mktemp("platform-home")
    with fresh_database() as url, every_service(settings_for(broker.bootstrap_servers, url, home, "e2e")) as running:
        yield running


@pytest.fixture(scope="package")
def headers_for(platform):
    def make(role: str, subject: str = "e2e", **claims) -> dict[str, str]:
        token = issue_token(platform.settings.dyade_token_secret, subject=subject, role=role, **claims)
        return {"Authorization": f"Bearer {token}"}
    return make


@pytest.fixture(scope="package")
def client(platform):
    with httpx.Client(timeout=30) as c:
        yield c
