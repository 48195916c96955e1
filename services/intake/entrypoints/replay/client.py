"""Sending an export to intake's batch endpoint: first the mapping's code table (PUT /v1/code-tables/{name},
admin token), then batches, an optional rate limit, and a tally of what was accepted, already there,
rejected by intake, or skipped by the reader (with reasons; administrative codes of the mapping's `skip`
list as `code_ecarte`)."""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable

import httpx

from services.intake.entrypoints.replay.reader import AcceptedRow, ReplayMapping, SkippedRow, read_export


class ReplayError(RuntimeError):
    """The replay cannot go on (intake unreachable, refused the token, refused or unknown code table)."""


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
    table: dict | None = None  # intake's answer to the upload of the mapping's code table

    @property
    def skipped_codes(self) -> int:
        """Rows of administrative codes (the mapping's `skip`): not calls, never sent."""
        return self.skipped.get("code_ecarte", 0)

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def as_json(self) -> dict:
        return {"rows": self.rows, "accepted": self.accepted, "duplicates": self.duplicates,
                "rejected_by_intake": self.rejected, "rejected_reasons": dict(self.rejected_reasons),
                "skipped": dict(self.skipped), "skipped_examples": self.examples,
                "skipped_codes": self.skipped_codes, "code_table": self.table,
                "seconds": round(self.seconds, 2), "rows_per_s": round(self.rows_per_s, 1)}


def upload_table(client: httpx.Client, mapping: ReplayMapping, admin_token: str) -> dict:
    """PUT the mapping's code table into intake (a new version if it changed), in use at once: no file in
    INTAKE_MAPPINGS_DIR, no restart. Returns intake's answer (name, version, created...)."""
    body = {**mapping.table.as_content(), "reason": f"dyade replay --mapping {mapping.path.name}"}
    body["description"] = (body["description"] or f"table du mapping {mapping.path.name}")[:300]
    r = client.put(f"/v1/code-tables/{mapping.name}", json=body, headers={"Authorization": f"Bearer {admin_token}"})
    if r.status_code in (401, 403):
        raise ReplayError(f"intake refuse le jeton admin pour charger la table {mapping.name!r} ({r.status_code}): "
                          f"{_detail(r)}")
    if r.status_code == 404:
        raise ReplayError("ce service intake ne charge pas de table de codes par l'API (PUT /v1/code-tables): "
                          "placez le fichier de mapping dans INTAKE_MAPPINGS_DIR et redémarrez intake, "
                          "ou reprenez avec --no-upload")
    if r.status_code >= 300:
        raise ReplayError(f"table de codes {mapping.name!r} refusée par intake ({r.status_code}): {_detail(r)}")
    return r.json()


def _detail(r: httpx.Response) -> str:
    try:
        return str(r.json().get("detail"))[:300]
    except ValueError:
        return r.text[:300]


def _check_table(client: httpx.Client, name: str, headers: dict) -> None:
    r = client.get(f"/v1/code-tables/{name}", headers=headers)
    if r.status_code in (401, 403):
        raise ReplayError(f"intake refuse le jeton ({r.status_code}): {_detail(r)}")
    if r.status_code == 404 and "inconnue" in _detail(r):
        raise ReplayError(f"la table de codes {name!r} n'est pas connue du service intake: chargez-la (dyade replay "
                          f"--mapping FICHIER, sans --no-upload) ou placez le fichier de mapping dans "
                          f"INTAKE_MAPPINGS_DIR et redémarrez intake")
    if r.status_code == 404:  # an intake without GET /v1/code-tables/{name}: its list
        listed = client.get("/v1/code-tables", headers=headers)
        listed.raise_for_status()
        if name not in listed.json()["tables"]:
            raise ReplayError(f"la table de codes {name!r} n'est pas connue du service intake")
        return
    r.raise_for_status()


def replay(paths: Iterable[str], mapping: ReplayMapping, *, url: str, token: str, batch_size: int = 500,
           rate: float | None = None, on_progress: Callable[[int], None] = lambda n: None,
           timeout: float = 120.0, client: httpx.Client | None = None, admin_token: str | None = None) -> Tally:
    """With `admin_token`, the mapping's code table is first loaded into intake (PUT /v1/code-tables/{name}).
    `client` (tests: a TestClient) replaces the HTTP client made from `url`."""
    tally = Tally()
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {token}"}
    own = client is None
    client = client or httpx.Client(base_url=url, timeout=timeout)  # a client given is not changed: no token left on it
    try:
        try:
            if admin_token:
                tally.table = upload_table(client, mapping, admin_token)
            _check_table(client, mapping.name, headers)
        except httpx.HTTPError as exc:
            raise ReplayError(f"intake injoignable à {url}: {exc}") from exc
        batch: list[dict] = []

        def send() -> None:
            if not batch:
                return
            try:
                r = client.post("/v1/calls:batch", json={"calls": batch, "code_table": mapping.name}, headers=headers)
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
