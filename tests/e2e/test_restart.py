"""`dyade up` on the embedded default (Tansu in memory, SQLite), stopped and started again: every accepted
call is still there and every service rebuilds its state from what intake republishes, without counting
anything twice."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from dyade.auth import issue_token
from dyade.broker import free_port
from dyade.kafka import wait_until
from dyade.settings import Settings

SERVICES = ("intake", "triage", "infosocial", "notifier", "analytics")


class Up:
    """One `dyade up --no-demo` process on a given home and ports."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.proc = subprocess.Popen([sys.executable, "-m", "dyade.cli.main", "up", "--no-demo"], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.env[service.upper() + '_PORT']}"

    def wait_ready(self) -> None:
        def ready():
            assert self.proc.poll() is None, self.proc.stdout.read()
            try:
                return all(httpx.get(self.url(s) + "/readyz", timeout=2).status_code == 200 for s in SERVICES)
            except httpx.HTTPError:
                return False
        wait_until(ready, timeout=180, interval=0.5)

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        out, _ = self.proc.communicate(timeout=90)
        assert self.proc.returncode == 0, out
        return out


def call(call_id: str, n: int) -> dict:
    return {"call_id": call_id, "received_at": (datetime.now(timezone.utc) - timedelta(minutes=50 - n)).isoformat(),
            "nature_code": "EMP", "priority": 2, "location": {"address": f"{100 + n} rue Saint-Louis", "sector": "S1"},
            "persons": [{"first_name": "Lucie", "last_name": "Pelletier", "birth_date": "1968-02-03", "role": "sujet"}],
            "caller_relation": "voisin", "flags": ["intoxication"] if n % 2 else []}


@pytest.mark.slow
def test_restarting_dyade_up_keeps_every_call_and_rebuilds_every_service(tmp_path):
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")}
    env["DYADE_HOME"] = str(home)
    for s in SERVICES:
        env[f"{s.upper()}_PORT"] = str(free_port())
    secret = Settings(dyade_home=home, _env_file=None).secret("dyade_token_secret")
    dispatch = {"Authorization": "Bearer " + issue_token(secret, subject="cad", role="dispatch")}
    analyst = {"Authorization": "Bearer " + issue_token(secret, subject="direction", role="analyst")}
    call_ids = [f"R-{i}" for i in range(5)]

    def decisions(up: Up) -> dict[str, str]:
        out = {}
        for cid in call_ids:
            r = httpx.get(f"{up.url('triage')}/v1/calls/{cid}/decision", headers=dispatch, timeout=5)
            if r.status_code == 200:
                out[cid] = r.json()
        return out

    def all_decisions(up: Up) -> dict[str, dict] | None:
        found = decisions(up)
        return found if len(found) == len(call_ids) else None

    def overview(up: Up) -> dict:
        return httpx.get(f"{up.url('analytics')}/v1/figures/overview", headers=analyst, timeout=5).json()

    first = Up(env)
    try:
        first.wait_ready()
        for i, cid in enumerate(call_ids):
            r = httpx.post(f"{first.url('intake')}/v1/calls", json=call(cid, i), headers=dispatch, timeout=10)
            assert r.status_code == 202, r.text
        before = wait_until(lambda: all_decisions(first), timeout=90)
        wait_until(lambda: overview(first)["calls"] == len(call_ids) and
                   overview(first)["decisions"] == len(call_ids), timeout=60, interval=0.5)
    finally:
        first.stop()

    second = Up(env)
    try:
        second.wait_ready()
        for cid in call_ids:  # intake's database is the record of what was accepted
            r = httpx.get(f"{second.url('intake')}/v1/calls/{cid}", headers=dispatch, timeout=5)
            assert r.status_code == 200, r.text
        # triage's tables lived in the old broker; it rebuilds them from what intake republished
        after = wait_until(lambda: all_decisions(second), timeout=120)
        assert {c: d["decision_id"] for c, d in after.items()} == {c: d["decision_id"] for c, d in before.items()}
        assert after["R-4"]["recurrence"] == before["R-4"]["recurrence"]
        # analytics neither lost nor doubled anything
        wait_until(lambda: overview(second)["calls"] == len(call_ids), timeout=30)
        assert overview(second)["decisions"] == len(call_ids)
    finally:
        second.stop()
