"""Integration harness: the triage worker as a subprocess, events in, decisions out (read with
tests.kit.TopicReader: assign + seek, no consumer group, so nothing is shared with other tests)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx

from dyade.contracts.calls import CallPayload, CallReceived, CallUpdated, CallUpdatePayload, Location, PersonRef
from dyade.kafka import wait_until

ROOT = Path(__file__).resolve().parents[3]


class Worker:
    """`python -m services.triage` with its own app id (consumer group, tables, internal topics)."""

    def __init__(self, settings, app_id: str, port: int, log_path: Path):
        self.settings, self.app_id, self.port, self.log_path = settings, app_id, port, log_path
        self.proc: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{port}"
        self.last_readiness = "(not asked yet)"

    def env(self) -> dict[str, str]:
        s = self.settings
        return {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": s.kafka_bootstrap_servers, "DATABASE_URL": s.database_url,
                "DYADE_HOME": str(s.dyade_home), "DYADE_TOKEN_SECRET": s.dyade_token_secret,
                "DYADE_PSEUDONYM_KEY": s.dyade_pseudonym_key, "TRIAGE_PORT": str(self.port),
                "TRIAGE_APP_ID": self.app_id, "DYADE_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1",
                "TRIAGE_FAUST_LOG_LEVEL": "INFO", "DYADE_STUCK_S": "45", "DYADE_START_STUCK_S": "60"}

    def start(self, timeout: float = 120) -> float:
        t0 = time.monotonic()
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen([sys.executable, "-m", "services.triage"], cwd=ROOT, env=self.env(),
                                     stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until(self.ready, timeout=timeout, interval=0.2)
        except TimeoutError as exc:
            raise TimeoutError(f"triage worker {self.url} not ready within {timeout} s; last /readyz: "
                               f"{self.last_readiness}; log {self.log_path}") from exc
        return time.monotonic() - t0

    def ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"triage worker exited ({self.proc.returncode}); see {self.log_path}")
        try:
            r = httpx.get(self.url + "/readyz", timeout=2)
        except httpx.HTTPError as exc:
            self.last_readiness = repr(exc)
            return False
        self.last_readiness = r.text[:1000]
        return r.status_code == 200

    def live(self) -> bool:
        try:
            return httpx.get(self.url + "/healthz", timeout=3).status_code != 500
        except httpx.HTTPError:
            return True  # not answering is the supervisor's other case (dyade up: 3 misses), not this one

    def supervised_until(self, predicate, timeout: float, interval: float = 1.0):
        return supervised_until([self], predicate, timeout, interval)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def call_event(call_id: str, occurred_at: datetime, *, person: str | None = None, category="etat_mental_perturbe",
               flags=(), location="l_test", revision: int = 1, role="sujet", caller="famille", nature_code="TEST",
               address: str | None = None, lat: float | None = None, lon: float | None = None,
               sector: str | None = "S1") -> CallReceived:
    persons = (PersonRef(person_key=person, role=role),) if person else ()
    return CallReceived.new(payload=CallPayload(
        call_id=call_id, revision=revision, nature_code=nature_code, category=category, flags=tuple(flags),
        location=Location(location_key=location, sector=sector, address=address, lat=lat, lon=lon), persons=persons,
        caller_relation=caller), occurred_at=occurred_at, source="intake", correlation_id=call_id)


def update_event(call_id: str, occurred_at: datetime, *, disposition=None, dyad=None, persons=(),
                 location="l_test") -> CallUpdated:
    return CallUpdated.new(payload=CallUpdatePayload(call_id=call_id, status="cleared", disposition=disposition,
                                                     dyad_id=dyad, person_keys=tuple(persons),
                                                     location_key=location),
                           occurred_at=occurred_at, source="intake", correlation_id=call_id)


def supervised_until(workers: list[Worker], predicate, timeout: float, interval: float = 1.0):
    """Wait for `predicate()` as `dyade up` (or Kubernetes) would run the workers: a worker whose /healthz says
    it is stuck (records waiting, nothing handled for DYADE_STUCK_S — faust sometimes resumes a worker after a
    rebalance without ever fetching its partitions again) is killed and started again. Returns (value, restarts)."""
    deadline, restarts = time.monotonic() + timeout, 0
    while True:
        value = predicate()
        if value:
            return value, restarts
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s ({restarts} restart(s) of a stuck worker)")
        for w in workers:
            if not w.live():
                restarts += 1
                w.kill9()
                w.start()
        time.sleep(interval)
