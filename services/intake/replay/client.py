"""Sending an export to intake's batch endpoint: batches, an optional rate limit, and a tally of what
was accepted, already there, rejected by intake, or skipped by the reader (with reasons)."""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable

import httpx

from services.intake.replay.reader import AcceptedRow, ReplayMapping, SkippedRow, read_export


class ReplayError(RuntimeError):
    """The replay cannot go on (intake unreachable, refused the token, unknown code table)."""


@dataclass
class Tally:
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped: Counter = field(default_factory=Counter)
    rejected_reasons: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def as_json(self) -> dict:
        return {"rows": self.rows, "accepted": self.accepted, "duplicates": self.duplicates,
                "rejected_by_intake": self.rejected, "rejected_reasons": dict(self.rejected_reasons),
                "skipped": dict(self.skipped), "skipped_examples": self.examples,
                "seconds": round(self.seconds, 2), "rows_per_s": round(self.rows_per_s, 1)}


def _check_table(client: httpx.Client, name: str) -> None:
    r = client.get("/v1/code-tables")
    if r.status_code in (401, 403):
        raise ReplayError(f"intake refuse le jeton ({r.status_code}): {r.json().get('detail')}")
    r.raise_for_status()
    if name not in r.json()["tables"]:
        raise ReplayError(f"la table de codes {name!r} n'est pas connue du service intake: placez le fichier de "
                          f"mapping dans INTAKE_MAPPINGS_DIR et redémarrez intake")


def replay(paths: Iterable[str], mapping: ReplayMapping, *, url: str, token: str, batch_size: int = 500,
           rate: float | None = None, on_progress: Callable[[int], None] = lambda n: None,
           timeout: float = 120.0, client: httpx.Client | None = None) -> Tally:
    """`client` (tests: a TestClient) replaces the HTTP client made from `url`."""
    tally = Tally()
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {token}"}
    own = client is None
    client = client or httpx.Client(base_url=url, timeout=timeout)
    client.headers.update(headers)
    try:
        try:
            _check_table(client, mapping.name)
        except httpx.HTTPError as exc:
            raise ReplayError(f"intake injoignable à {url}: {exc}") from exc
        batch: list[dict] = []

        def send() -> None:
            if not batch:
                return
            try:
                r = client.post("/v1/calls:batch", json={"calls": batch, "code_table": mapping.name})
            except httpx.HTTPError as exc:
                raise ReplayError(f"intake injoignable à {url}: {exc}") from exc
            if r.status_code != 200:
                raise ReplayError(f"intake a refusé le lot ({r.status_code}): {r.text[:300]}")
            body = r.json()
            tally.accepted += body["accepted"]
            tally.duplicates += body["duplicates"]
            tally.rejected += body["rejected"]
            for item in body["results"]:
                if item["status"] not in ("accepted", "duplicate"):
                    tally.rejected_reasons[item["status"] + ": " + item.get("reason", "")[:80]] += 1
            on_progress(len(batch))
            batch.clear()
            if rate:
                ahead = tally.rows / rate - (time.perf_counter() - started)
                if ahead > 0:
                    time.sleep(ahead)

        for row in read_export(paths, mapping):
            tally.rows += 1
            if isinstance(row, SkippedRow):
                tally.skipped[row.kind] += 1
                tally.examples.setdefault(row.kind, f"{row.source}: {row.reason}")
                on_progress(1)
                continue
            assert isinstance(row, AcceptedRow)
            batch.append(row.submission.model_dump(mode="json", exclude_none=True))
            if len(batch) >= batch_size or (rate and len(batch) >= max(1, int(rate))):
                send()
        send()
    finally:
        if own:
            client.close()
    tally.seconds = time.perf_counter() - started
    return tally
