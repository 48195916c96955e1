"""`dyade infosocial sweep`: the daily sweep from the command line, at an injected time."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from typer.testing import CliRunner

from dyade.settings import get_settings
from services.infosocial.entrypoints.cli import app

from infosocial_helpers import create_active


@pytest.fixture
def cli_env(monkeypatch, settings):
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("DYADE_HOME", str(settings.dyade_home))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_sweep_command_marks_an_overdue_frame_stale(cli_env, api, sw, person, token):
    fid = create_active(api, sw, person)
    due = datetime.fromisoformat(api.get(f"/v1/frames/{fid}", headers=sw[0]).json()["review_due"]).date()
    at = f"{due + timedelta(days=3)}T08:00:00-05:00"
    result = CliRunner().invoke(app, ["sweep", "--at", at, "--frame", fid])
    assert result.exit_code == 0, result.output
    assert "marquées périmées: 1" in result.output
    assert api.get(f"/v1/frames/{fid}", headers=token("officer")).json()["stale"] is True


def test_sweep_command_refuses_a_naive_time(cli_env):
    result = CliRunner().invoke(app, ["sweep", "--at", "2027-01-01T08:00:00"])
    assert result.exit_code == 2 and "fuseau" in result.output
