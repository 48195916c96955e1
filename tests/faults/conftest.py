"""The fault suite: short in CI, full with `make faults` (DYADE_FAULTS=full)."""
from __future__ import annotations

import json
import os

import pytest

from dyade.broker import EmbeddedBroker
from tests.kit import fresh_database
from tests.faults.platform import ALWAYS, Ledger, Platform

FULL = os.environ.get("DYADE_FAULTS") == "full"
REPORT: dict[str, dict] = {}


@pytest.fixture(scope="package")
def platform(tmp_path_factory):
    home = tmp_path_factory.mktemp("faults-home")
    with EmbeddedBroker(log_path=home / "tansu.log") as broker, fresh_database() as url:
        running = Platform(home, broker, url).start()
        try:
            import httpx
            r = httpx.put(running.url("notifier") + "/v1/dyads/D1", headers=running.token("supervisor"), timeout=10,
                          json={"name": "Dyade D1", "sector": "S1", "shifts": ALWAYS,
                                "members": [{"name": "Agente", "role": "policier"},
                                            {"name": "Intervenant", "role": "intervenant"}]})
            assert r.status_code == 200, r.text
            yield running
        finally:
            running.stop()
            out = os.environ.get("DYADE_FAULTS_REPORT")
            if out and REPORT:
                with open(out, "w") as f:
                    json.dump(REPORT, f, indent=2, ensure_ascii=False)


@pytest.fixture(scope="package")
def ledger(platform):
    book = Ledger(platform)
    yield book
    book.close()


@pytest.fixture
def report():
    return REPORT
