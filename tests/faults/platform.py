"""The platform under faults: `dyade up --no-demo` on a broker of its own (so it can be frozen) and a fresh
PostgreSQL database; a call stream; and the ledger that checks, after each fault, that every accepted call
has exactly one decision, every alert-worthy decision exactly one alert, and analytics counted each call
once."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from dyade.auth import issue_token
from dyade.broker import EmbeddedBroker, free_port
from dyade.contracts.topics import TRIAGE_DECIDED
from dyade.kafka import wait_until
from tests.kit import TopicReader

SERVICES = ("intake", "triage", "infosocial", "notifier", "analytics")
ALERT_LEVELS = {"dyade_suggeree", "dyade_prioritaire", "securite_policiers"}
ALWAYS = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "00:00"}]
PEOPLE = [("Lucie", "Pelletier", "1968-02-03"), ("Marc", "Gagnon", "1979-11-21"), ("Sylvie", "Roy", "1990-06-30"),
          ("Jean", "Côté", "1955-01-12"), ("Nadia", "Bouchard", "1984-09-09")]


class Platform:
    """`dyade up --no-demo` as an operator runs it, on `broker`, with `database_url`."""

    def __init__(self, home: Path, broker: EmbeddedBroker, database_url: str):
        self.home, self.broker, self.database_url = home, broker, database_url
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "DATABASE_"))}
        self.env.update(KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap_servers, DATABASE_URL=database_url,
                        DYADE_HOME=str(home), DYADE_PSEUDONYM_KEY="faults-pseudonym-key-0123456789abcdef",
                        DYADE_TOKEN_SECRET="faults-token-secret-0123456789abcdefghijk", PYTHONUNBUFFERED="1",
                        DYADE_LOG_LEVEL="INFO",
                        # supervision as in production, on the suite's time scale: a consumer stuck with records
                        # waiting, or waiting for its partitions, is restarted within a minute, not two or fifteen
                        DYADE_STUCK_S="45", DYADE_START_STUCK_S="60")
        for s in SERVICES:
            self.env[f"{s.upper()}_PORT"] = str(free_port())
        self.log = open(home / "up.log", "ab")
        self.proc: subprocess.Popen | None = None

    def token(self, role: str, **claims) -> dict[str, str]:
        return {"Authorization": "Bearer " + issue_token(self.env["DYADE_TOKEN_SECRET"], subject=f"faults-{role}",
                                                         role=role, **claims)}

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.env[service.upper() + '_PORT']}"

    def start(self) -> "Platform":
        self.proc = subprocess.Popen([sys.executable, "-m", "dyade.cli.main", "up", "--no-demo"], env=self.env,
                                     stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.wait_ready(180)
        return self

    def ready(self) -> dict[str, bool]:
        """Each service ready: its checks pass and its consumers run. A consumer that only reports the
        earlier tests' burst of dead letters (the 5-minute alarm) counts as running: it is consuming."""
        out = {}
        for s in SERVICES:
            try:
                r = httpx.get(self.url(s) + "/readyz", timeout=3)
                body = r.json()
            except (httpx.HTTPError, ValueError):
                out[s] = False
                continue
            out[s] = r.status_code == 200 or (
                all(v == "ok" for v in body.get("checks", {}).values())
                and all(c["state"] == "running" or (c["state"] == "degraded" and "lettres mortes" in c["message"])
                        for c in body.get("consumers", [])))
        return out

    def consumers(self) -> dict[str, list[dict]]:
        """Each service's consumers as its /readyz reports them."""
        out = {}
        for s in SERVICES:
            try:
                out[s] = httpx.get(self.url(s) + "/readyz", timeout=3).json().get("consumers", [])
            except (httpx.HTTPError, ValueError):
                out[s] = [{"group": "?", "state": "down", "message": "ne répond pas"}]
        return out

    def wait_ready(self, timeout: float) -> None:
        def all_ready():
            assert self.proc.poll() is None, f"dyade up exited ({self.proc.returncode}); see {self.home / 'up.log'}"
            return all(self.ready().values())
        wait_until(all_ready, timeout=timeout, interval=0.5)

    def service_pids(self) -> dict[str, int]:
        """The pid of each service process under `dyade up` (by its `-m services.<name>` command line)."""
        from dyade.process import children_of
        pids = {}
        for pid in children_of(self.proc.pid):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            for s in SERVICES:
                if f"services.{s}".encode() in cmd:
                    pids[s] = pid
        return pids

    def kill9(self, service: str) -> int:
        pid = self.service_pids()[service]
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(90)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@dataclass
class CallStream:
    """Calls posted at `rate` per second from a thread, about a few recurring persons (so that some are
    alert-worthy), until stopped. A call counts as accepted on 202; a 5xx or a refused connection (a killed
    intake) is retried, as a dispatch system does, with the same call id."""
    platform: Platform
    prefix: str
    rate: float = 5.0
    accepted: list[str] = field(default_factory=list)
    retries: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    n: int = 0

    def body(self, i: int) -> dict:
        first, last, born = PEOPLE[i % len(PEOPLE)]
        now = datetime.now(timezone.utc)
        return {"call_id": f"{self.prefix}-{i}", "received_at": (now - timedelta(seconds=1)).isoformat(),
                "nature_code": "EMP", "priority": 2,
                "location": {"address": f"{100 + (i % 7) * 100} rue Saint-Louis", "sector": "S1"},
                "persons": [{"first_name": first, "last_name": last, "birth_date": born, "role": "sujet"}],
                "caller_relation": "famille", "flags": ["arme"] if i % 9 == 0 else []}

    def post(self, client: httpx.Client, i: int) -> None:
        headers = self.platform.token("dispatch")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                r = client.post(self.platform.url("intake") + "/v1/calls", json=self.body(i), headers=headers)
                if r.status_code == 202:
                    self.accepted.append(f"{self.prefix}-{i}")
                    return
                if r.status_code < 500:
                    raise AssertionError(f"call {i} refused: {r.status_code} {r.text}")
            except httpx.HTTPError:
                pass
            self.retries += 1
            time.sleep(0.5)
        raise AssertionError(f"call {i} never accepted")

    def run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                self.post(client, self.n)
                self.n += 1
                self._stop.wait(1 / self.rate)

    def start(self) -> "CallStream":
        self._thread = threading.Thread(target=self.run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> list[str]:
        self._stop.set()
        self._thread.join(150)
        return self.accepted


@dataclass
class Ledger:
    """What the platform did with the accepted calls, read from the decisions topic and the databases."""
    platform: Platform

    def __post_init__(self):
        self.decisions = TopicReader(self.platform.broker.bootstrap_servers, TRIAGE_DECIDED)
        self.engine = create_engine(self.platform.database_url)

    def decision_ids(self, call_ids: set[str]) -> dict[str, set[str]]:
        self.decisions.poll()
        out: dict[str, set[str]] = {}
        for e in self.decisions.events():
            if e.payload.call_id in call_ids:
                out.setdefault(e.payload.call_id, set()).add(e.payload.decision_id)
        return out

    def alert_worthy(self, call_ids: set[str]) -> set[str]:
        return {e.payload.call_id for e in self.decisions.events()
                if e.payload.call_id in call_ids and e.payload.level.value in ALERT_LEVELS}

    def alerts_per_call(self, call_ids: set[str]) -> dict[str, int]:
        with self.engine.connect() as c:
            rows = c.execute(text("SELECT call_id, call_ids FROM notifier_alerts WHERE kind <> 'suivi'")).all()
        counts = {cid: 0 for cid in call_ids}
        for own, merged in rows:
            for cid in {own, *(merged or [])}:
                if cid in counts:
                    counts[cid] += 1
        return counts

    def analytics_calls(self, call_ids: set[str]) -> set[str]:
        with self.engine.connect() as c:
            rows = c.execute(text("SELECT call_id FROM analytics_calls")).all()
        return {cid for (cid,) in rows if cid in call_ids}

    def analytics_overview(self) -> dict:
        r = httpx.get(self.platform.url("analytics") + "/v1/figures/overview",
                      headers=self.platform.token("analyst"), timeout=10)
        return r.json() if r.status_code == 200 else {}

    def missing(self, call_ids: set[str]) -> dict:
        """What has not gone all the way yet (for the message of a failed wait)."""
        decided = self.decision_ids(call_ids)
        worthy = self.alert_worthy(call_ids)
        alerts = self.alerts_per_call(worthy)
        return {"undecided": sorted(call_ids - set(decided)),
                "alert_worthy_without_alert": sorted(c for c, n in alerts.items() if n == 0),
                "not_counted_by_analytics": sorted(call_ids - self.analytics_calls(call_ids))}

    def settled(self, call_ids: set[str]) -> dict | None:
        """The counts once every accepted call went all the way; None while some are still on their way."""
        decided = self.decision_ids(call_ids)
        if set(decided) != call_ids:
            return None
        worthy = self.alert_worthy(call_ids)
        alerts = self.alerts_per_call(worthy)
        counted = self.analytics_calls(call_ids)
        if any(n == 0 for n in alerts.values()) or counted != call_ids:
            return None
        return {"accepted": len(call_ids), "decided": len(decided),
                "calls_with_several_decisions": sorted(c for c, d in decided.items() if len(d) != 1),
                "alert_worthy": len(worthy), "alerted": sum(1 for n in alerts.values() if n >= 1),
                "calls_with_several_alerts": sorted(c for c, n in alerts.items() if n != 1),
                "counted_by_analytics": len(counted)}

    def close(self) -> None:
        self.decisions.close()
        self.engine.dispose()
