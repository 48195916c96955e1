"""A stand-in of triage's person read for Info-social's sector check (services/infosocial/entrypoints/scope.py): it knows
the sectors of each person's decisions and answers as triage's read API does (services/triage/entrypoints/api.py), with
dyade.access — a dyad gets 200 with its sector's decisions, 403 when none is of its sector, 404 for a person
triage never saw. `sector_triage` is a fixture: import it into a test module to use it."""
from __future__ import annotations

import pytest
from fastapi import FastAPI, HTTPException, Request

from dyade import access
from dyade.auth import read_token
from services.triage.entrypoints.api import READERS
from tests.kit import Served

from infosocial_helpers import reading_triage_from


class SectorTriage:
    def __init__(self, secret: str):
        self.secret = secret
        self.persons: dict[str, list[str | None]] = {}   # person key → sectors of its kept decisions
        self.reads: list[tuple[str, str]] = []          # (reader, person key)
        self.url = ""
        self.app = FastAPI()

        @self.app.get("/v1/persons/{person_key}/triage")
        def person(person_key: str, request: Request) -> dict:
            auth = request.headers.get("authorization", "")
            who = read_token(self.secret, auth[7:].strip() if auth.lower().startswith("bearer ") else "")
            if who.role not in READERS:
                raise HTTPException(403, "rôle non permis")
            access.require_claims(who)
            self.reads.append((who.subject, person_key))
            if person_key not in self.persons:
                raise HTTPException(404, "aucun état de triage")
            shown = [s for s in self.persons[person_key] if access.may_see(who, sectors=[s])]
            if access.scoped(who) and not shown:
                raise access.AccessDenied(access.out_of_sector(who, f"l'état de triage de {person_key}"))
            return {"cle": person_key, "dernieres_decisions": [{"sector": s} for s in shown]}

    def start(self) -> "SectorTriage":
        self._served = Served(self.app, lifespan="off").start(timeout=30)
        self.url = self._served.url
        return self

    def stop(self) -> None:
        self._served.stop(wait=10)


@pytest.fixture(scope="module")
def sector_triage(infosocial, settings):
    """Info-social's triage reads pointed at a SectorTriage for the module's tests."""
    with reading_triage_from(infosocial[1].state, SectorTriage(settings.dyade_token_secret)) as stub:
        yield stub
