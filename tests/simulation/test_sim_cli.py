"""`dyade simulate` from the command line: files and ground truth written, bad options refused in French."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from dyade.cli.main import app

runner = CliRunner()


def test_simulate_writes_the_stream_and_its_truth(tmp_path):
    out = tmp_path / "ville" / "appels.jsonl"
    result = runner.invoke(app, ["simulate", "--profile", "demo", "--days", "3", "--start", "2026-05-01",
                                 "--out", str(out), "--no-progress", "--seed", "9"])
    assert result.exit_code == 0, result.output
    truth = json.loads((tmp_path / "ville" / "appels.truth.json").read_text())
    assert truth["generator"]["seed"] == 9 and truth["generator"]["start"] == "2026-05-01"
    assert len(out.read_bytes().splitlines()) == truth["stream"]["calls"] > 0
    for name in ("updates", "referrals"):
        assert (tmp_path / "ville" / f"appels.{name}.jsonl").exists()


def test_bad_options_are_refused_with_the_reason(tmp_path):
    result = runner.invoke(app, ["simulate", "--out", str(tmp_path / "appels.txt"), "--no-progress"])
    assert result.exit_code == 2 and ".jsonl ou .csv" in result.output
    result = runner.invoke(app, ["simulate", "--start", "hier", "--out", str(tmp_path / "a.jsonl")])
    assert result.exit_code == 2 and "date invalide" in result.output
