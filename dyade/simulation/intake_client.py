"""Sending a simulated stream to intake over HTTP: calls (batched when there is no pace to keep),
updates, referrals and, for a share of calls, the same call as a NENA EIDO document.

A service that is not there yet is waited for (retries with backoff, logged); a 4xx answer is a
rejection with intake's reason, counted and never retried."""
from __future__ import annotations

import logging
import time
from typing import Callable

import httpx

from dyade.simulation.eido import AGENCY, to_eido
from dyade.simulation.outputs import Counts, eido_chosen
from dyade.simulation.simulation import Record

log = logging.getLogger("dyade.simulation")
RETRYABLE = {408, 425, 429, 500, 502, 503, 504}


class Unavailable(RuntimeError):
    """The service did not answer within the attempts allowed."""


def eido_call_id(call_id: str, agency: str = AGENCY) -> str:
    """The call id intake gives a call that came as an EIDO (its incident URN, when it fits 64 chars)."""
    return f"urn:emergency:uid:incidentid:{call_id}:{agency}"


class ServiceClient:
    """POST/PUT/GET with a bearer token per role, retried while the service is down or busy."""

    def __init__(self, base_url: str, token_for: Callable[[str, str], str], *, attempts: int | None = 8,
                 timeout: float = 15.0, name: str = "service", stop: Callable[[], bool] = lambda: False,
                 http: httpx.Client | None = None, wait: Callable[[float], object] = time.sleep):
        self.base_url = base_url.rstrip("/")
        self.token_for = token_for
        self.attempts = attempts  # None: until `stop()` says so
        self.name = name
        self.stop = stop
        self.wait = wait  # the demo passes its stop event's wait, so that a stop is not held up by a backoff
        self.http = http or httpx.Client(base_url=self.base_url, timeout=timeout)

    def request(self, method: str, path: str, role: str, *, json=None, subject: str | None = None) -> httpx.Response:
        delay, attempt = 0.5, 0
        headers = {"Authorization": f"Bearer {self.token_for(role, subject or 'simulateur')}",
                   "Accept-Language": "fr"}
        while True:
            attempt += 1
            try:
                r = self.http.request(method, path, json=json, headers=headers)
                if r.status_code not in RETRYABLE:
                    return r
                why = f"HTTP {r.status_code}"
            except httpx.HTTPError as exc:
                why = f"{type(exc).__name__}: {exc}"
            if (self.attempts is not None and attempt >= self.attempts) or self.stop():
                raise Unavailable(f"{self.name} ({self.base_url}{path}) ne répond pas: {why}")
            log.warning("%s indisponible (%s %s: %s); nouvel essai dans %.1f s", self.name, method, path, why, delay)
            self.wait(delay)
            if self.stop():
                raise Unavailable(f"arrêt demandé pendant l'attente de {self.name}")
            delay = min(delay * 2, 15.0)

    def close(self) -> None:
        self.http.close()


def reason_of(r: httpx.Response) -> str:
    try:
        body = r.json()
    except ValueError:
        return f"HTTP {r.status_code}"
    detail = body.get("detail") if isinstance(body, dict) else body
    return f"HTTP {r.status_code}: {detail}"


class HttpSink:
    """The stream into intake. `batch` > 1 groups calls into POST /v1/calls:batch (flushed before any
    update or referral, so that an update never reaches intake before its call)."""

    def __init__(self, client: ServiceClient, *, batch: int = 200, eido_share: float = 0.0, city: str = "Ville-Démo"):
        self.client = client
        self.batch = max(1, min(batch, 1000))
        self.eido_share, self.city = eido_share, city
        self.pending: list[dict] = []
        self.renamed: dict[str, str] = {}  # simulator call id → the id intake knows (EIDO calls)
        self.counts = Counts()
        self.accepted: list[str] = []  # ids of the calls intake accepted (or already had)

    def send(self, rec: Record) -> None:
        if rec.kind == "call":
            if eido_chosen(rec.call_id, self.eido_share):
                self._flush()
                self._eido(rec.body)
            elif self.batch > 1:
                self.pending.append(rec.body)
                if len(self.pending) >= self.batch:
                    self._flush()
            elif self._one("/v1/calls", "dispatch", rec.body, "calls"):
                self.accepted.append(rec.call_id)
        elif rec.kind == "update":
            self._flush()
            call_id = self.renamed.get(rec.call_id, rec.call_id)
            self._one(f"/v1/calls/{call_id}/updates", "dispatch", rec.body, "updates")
        else:
            self._flush()
            role = "officer" if rec.body.get("referrer_type") == "policier" else "partner"
            self._one("/v1/referrals", role, rec.body, "referrals")

    def _one(self, path: str, role: str, body: dict, counter: str) -> bool:
        r = self.client.request("POST", path, role, json=body)
        if r.status_code < 300:
            setattr(self.counts, counter, getattr(self.counts, counter) + 1)
            return True
        self.counts.reject(reason_of(r))
        log.warning("refusé par intake %s: %s", path, reason_of(r))
        return False

    def _eido(self, call: dict) -> None:
        r = self.client.request("POST", "/v1/eido", "dispatch", json=to_eido(call, self.city))
        if r.status_code < 300:
            self.renamed[call["call_id"]] = r.json().get("call_id") or eido_call_id(call["call_id"])
            self.counts.calls += 1
            self.accepted.append(call["call_id"])
            self.counts.eido += 1
        else:  # intake could not read this EIDO: the call still goes in, as JSON
            self.counts.reject("EIDO " + reason_of(r))
            log.warning("EIDO refusé par intake (%s); l'appel est envoyé en JSON", reason_of(r))
            if self._one("/v1/calls", "dispatch", call, "calls"):
                self.accepted.append(call["call_id"])

    def _flush(self) -> None:
        if not self.pending:
            return
        calls, self.pending = self.pending, []
        r = self.client.request("POST", "/v1/calls:batch", "dispatch", json={"calls": calls})
        if r.status_code >= 300:
            for _ in calls:
                self.counts.reject(reason_of(r))
            log.warning("lot refusé par intake: %s", reason_of(r))
            return
        for result in r.json().get("results", []):
            if result.get("status") in ("accepted", "duplicate"):
                self.counts.calls += 1
                self.accepted.append(result.get("call_id") or "")
            else:
                self.counts.reject(result.get("reason") or result.get("status", "?"))

    def close(self) -> None:
        self._flush()
