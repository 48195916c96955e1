"""The whole platform for cross-service tests: every service as its own process (as `dyade up` runs them),
on the session's broker and a database of its own; stopped when the e2e tests end."""
from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from dyade.auth import issue_token
from dyade.broker import free_port
from dyade.cli.up import Platform, available_services
from dyade.settings import Settings
from tests.kit import fresh_database


@pytest.fixture(scope="package")
def platform(broker, tmp_path_factory):
    home = tmp_path_factory.mktemp("platform-home")
    with fresh_database() as url:
        settings = Settings(kafka_bootstrap_servers=broker.bootstrap_servers, database_url=url, dyade_home=home,
                            dyade_pseudonym_key="e2e-pseudonym-key-0123456789abcdef", dyade_token_secret="e2e-token-secret-0123456789abcdefghijk",
                            intake_port=free_port(), triage_port=free_port(), infosocial_port=free_port(),
                            notifier_port=free_port(), analytics_port=free_port(), _env_file=None)
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers, "DATABASE_URL": url,
               "DYADE_HOME": str(home), "DYADE_PSEUDONYM_KEY": settings.dyade_pseudonym_key,
               "DYADE_TOKEN_SECRET": settings.dyade_token_secret, "PYTHONUNBUFFERED": "1"}
        for name in ("intake", "triage", "infosocial", "notifier", "analytics"):
            env[f"{name.upper()}_PORT"] = str(settings.port_of(name))
        running = Platform(settings)
        running.logs = Path(home) / "logs"
        running.logs.mkdir(parents=True, exist_ok=True)
        try:
            for spec in available_services():
                running.start_service(spec, env)
            running.wait_ready(timeout=120)
            yield running
        finally:
            running.stop()


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
