"""Who the keys on a page are: asked of intake (the only service that keeps identities) with the signed-in
social worker's own token, so that intake audits the real reader. Short timeout; when intake does not answer,
the page keeps the pseudonymous keys and says so discreetly. Names are never logged nor stored here."""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field

import httpx
from fastapi import Request

from dyade.auth import token_from
from dyade.settings import Settings
from services.infosocial.domain.content import PERSON_KEY

log = logging.getLogger("infosocial.identities")

TIMEOUT_S = 1.0
BATCH = 200  # intake's limit per request
UNAVAILABLE = "identités indisponibles (intake injoignable)"


@dataclass
class Lookup:
    names: dict[str, str] = field(default_factory=dict)  # person key → « Prénom Nom (AAAA-MM-JJ) »
    notice: str | None = None


def label(identity: dict) -> str | None:
    name = " ".join(p for p in (identity.get("first_name"), identity.get("last_name")) if p)
    if not name:
        return None
    return f"{name} ({identity['birth_date']})" if identity.get("birth_date") else name


def page_token(request: Request) -> str | None:
    """The token the page was opened with (bearer header, the sign-in cookie or ?access_token=)."""
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else token_from(request, None)


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
                return Lookup(out.names, f"identités indisponibles (intake a répondu {r.status_code})")
            for key, identity in r.json().get("identities", {}).items():
                if text := label(identity):
                    out.names[key] = text
        return out

    def close(self) -> None:
        self.client.close()
