"""What the desk asks of triage's read API, with the signed-in social worker's own token (triage audits its
reads): the sector of a call (`GET /v1/calls/{id}/decision` → `sector`) and a person's calls per window as of
a date (`GET /v1/persons/{key}/triage?au=…` → `recurrence.appels_par_fenetre`). Info-social receives no calls:
these answers are the only source of sectors and of the caseload's calls per month. Requests run a few at a
time under a deadline; whatever triage does not answer in time is simply missing (the page says so)."""
from __future__ import annotations

import logging
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime

import httpx

from dyade.settings import Settings

log = logging.getLogger("infosocial.triage")

TIMEOUT_S = 1.0
DEADLINE_S = 2.5
WORKERS = 8
PAUSE_S = 30.0  # after triage failed to answer, the desk does not ask again for this long (pages stay fast)
CALL_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")
PERSON = re.compile(r"^p_[0-9A-Za-z]{4,64}$")
NOT_KNOWN = object()  # triage answered 404: no call of that person, no decision for that call


class TriageReads:
    def __init__(self, base_url: str, timeout_s: float = TIMEOUT_S, workers: int = WORKERS):
        self.base_url = base_url.rstrip("/")
        self.client = httpx.Client(timeout=timeout_s)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="infosocial-triage")
        self.paused_until = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> "TriageReads":
        return cls(os.environ.get("INFOSOCIAL_TRIAGE_URL") or settings.url_of("triage"))

    def _get(self, token: str, path: str, params: dict | None = None):
        r = self.client.get(self.base_url + path, params=params, headers={"Authorization": f"Bearer {token}"})
        if r.status_code == 404:
            return NOT_KNOWN
        r.raise_for_status()
        return r.json()

    def _many(self, jobs: dict, deadline_s: float) -> dict:
        """{name: (path, params)} → {name: answer | NOT_KNOWN}, for the jobs answered in time."""
        if time.monotonic() < self.paused_until:
            return {}
        futures = {self.pool.submit(self._get, *job): name for name, job in jobs.items()}
        done, late = wait(futures, timeout=deadline_s)
        for f in late:
            f.cancel()
        out, failed = {}, 0
        for f in done:
            try:
                out[futures[f]] = f.result()
            except (httpx.HTTPError, ValueError):
                failed += 1
        if failed or late:
            if not out:
                self.paused_until = time.monotonic() + PAUSE_S
            log.warning("triage did not answer every read", extra={"failed": failed, "late": len(late),
                                                                     "asked": len(jobs)})
        return out

    def sectors(self, token: str | None, call_ids: list[str], deadline_s: float = DEADLINE_S) -> dict[str, str | None]:
        """call id → sector of its triage decision (None: triage has no decision or no sector for it)."""
        wanted = [c for c in dict.fromkeys(call_ids) if c and CALL_ID.fullmatch(c)]
        if not token or not wanted:
            return {}
        answers = self._many({c: (token, f"/v1/calls/{c}/decision", None) for c in wanted}, deadline_s)
        return {c: (None if a is NOT_KNOWN else a.get("sector")) for c, a in answers.items()}

    def windows(self, token: str | None, asks: list[tuple[str, datetime | None]],
                deadline_s: float = DEADLINE_S) -> dict[tuple[str, datetime | None], dict | None]:
        """(person key, as of) → calls per window ({"30j": n, ...}; None: triage knows no call of the person).
        Pairs triage did not answer in time are missing."""
        wanted = [(k, at) for k, at in dict.fromkeys(asks) if PERSON.fullmatch(k)]
        if not token or not wanted:
            return {}
        jobs = {(k, at): (token, f"/v1/persons/{k}/triage", {"au": at.isoformat()} if at else None)
                for k, at in wanted}
        answers = self._many(jobs, deadline_s)
        return {ask: (None if a is NOT_KNOWN else (a.get("recurrence") or {}).get("appels_par_fenetre") or {})
                for ask, a in answers.items()}

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()
