"""Who the keys on a page are: asked of intake (the only service that keeps identities) with the signed-in
social worker's own token, so that intake audits the real reader. Short timeout; when intake does not answer,
the page keeps the pseudonymous keys and says so discreetly. Names are never logged nor stored here.

Finding a person by name and birth date goes through intake too: `POST /v1/persons/resolve` (read-only: intake
audits every look-up, found or not, and answers 404 for a person it does not know) gives the key, then the identity is disclosed by `POST /v1/persons/identities` (audited:
reader, role, purpose « infosocial: recherche par nom et date de naissance »). Both with her token; intake
allows the disclosure to social workers only, and Info-social's search itself is social-worker only."""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from datetime import date

import httpx
from fastapi import Request

from dyade.auth import token_from
from dyade.settings import Settings
from services.infosocial.domain.content import PERSON_KEY

log = logging.getLogger("infosocial.identities")

TIMEOUT_S = 1.0
BATCH = 200  # intake's limit per request
UNAVAILABLE = "identités indisponibles (intake injoignable)"
SEARCH_PURPOSE = "infosocial: recherche par nom et date de naissance"


@dataclass
class Lookup:
    names: dict[str, str] = field(default_factory=dict)  # person key → « Prénom Nom (AAAA-MM-JJ) »
    notice: str | None = None
    births: dict[str, date | None] = field(default_factory=dict)  # keys intake knows → birth date (or None)
    identities: dict[str, dict] = field(default_factory=dict)  # as intake disclosed them (kept in memory only)


@dataclass
class Search:
    found: bool = False
    person_key: str | None = None
    match: str | None = None          # exact | fuzzy | cad_id (never "new": that is « not found »)
    confidence: float | None = None
    name: str | None = None
    identity: dict | None = None
    notice: str | None = None         # intake unreachable or refused


def birth_of(identity: dict) -> date | None:
    try:
        return date.fromisoformat(identity["birth_date"]) if identity.get("birth_date") else None
    except ValueError:
        return None


def label(identity: dict) -> str | None:
    name = " ".join(p for p in (identity.get("first_name"), identity.get("last_name")) if p)
    if not name:
        return None
    return f"{name} ({identity['birth_date']})" if identity.get("birth_date") else name


def page_token(request: Request) -> str | None:
    """The reader's own token, to forward (bearer header, else the sign-in cookie; never the address's)."""
    return token_from(request)


class IntakeIdentities:
    def __init__(self, base_url: str, timeout_s: float = TIMEOUT_S):
        self.base_url = base_url.rstrip("/")
        self.client = httpx.Client(timeout=timeout_s)

    @classmethod
    def from_settings(cls, settings: Settings) -> "IntakeIdentities":
        return cls(os.environ.get("INFOSOCIAL_INTAKE_URL") or settings.url_of("intake"))

    def lookup(self, request: Request, keys, purpose: str) -> Lookup:
        wanted = list(dict.fromkeys(k for k in keys if k and re.fullmatch(PERSON_KEY, k)))
        token = page_token(request)
        if not wanted or not token:
            return Lookup()
        out = Lookup()
        for start in range(0, len(wanted), BATCH):
            try:
                r = self.client.post(f"{self.base_url}/v1/persons/identities",
                                     json={"person_keys": wanted[start:start + BATCH], "purpose": purpose},
                                     headers={"Authorization": f"Bearer {token}"})
            except httpx.HTTPError as exc:
                log.warning("intake unreachable for identities", extra={"error": type(exc).__name__})
                return Lookup(out.names, UNAVAILABLE)
            if r.status_code != 200:
                log.warning("intake refused identities", extra={"status": r.status_code})
                return Lookup(out.names, f"identités indisponibles (intake a répondu {r.status_code})", out.births,
                              out.identities)
            for key, identity in r.json().get("identities", {}).items():
                out.identities[key] = identity
                out.births[key] = birth_of(identity)
                if text := label(identity):
                    out.names[key] = text
        return out

    def search(self, request: Request, *, last_name: str, first_name: str | None, birth_date: date) -> Search:
        """The person intake knows by this name and birth date (exact, or a near spelling born that day)."""
        token = page_token(request)
        if not token:
            return Search(notice="jeton absent")
        body = {"last_name": last_name, "first_name": first_name or None, "birth_date": birth_date.isoformat()}
        try:
            r = self.client.post(f"{self.base_url}/v1/persons/resolve", json=body, params={"purpose": SEARCH_PURPOSE},
                                 headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            log.warning("intake unreachable for a search", extra={"error": type(exc).__name__})
            return Search(notice=UNAVAILABLE)
        if r.status_code == 404:  # intake knows nobody by this identity (a look-up makes no key)
            return Search(found=False)
        if r.status_code == 429:
            return Search(notice=f"recherche refusée par intake (429) : {r.json().get('detail', '')}".rstrip(" :"))
        if r.status_code != 200:
            log.warning("intake refused a search", extra={"status": r.status_code})
            return Search(notice=f"recherche refusée par intake ({r.status_code})")
        resolved = r.json()
        key = resolved["person_key"]
        shown = self.lookup(request, [key], SEARCH_PURPOSE)
        return Search(found=key in shown.identities, person_key=key, match=resolved.get("match"),
                      confidence=resolved.get("confidence"), name=shown.names.get(key),
                      identity=shown.identities.get(key), notice=shown.notice)

    def close(self) -> None:
        self.client.close()
