"""A stand-in of triage's person read for Info-social's sector check (services/infosocial/entrypoints/scope.py): it knows
the sectors of each person's decisions and answers as triage's read API does (services/triage/entrypoints/api.py), with
dyade.access — a dyad gets 200 with its sector's decisions, 403 when none is of its sector, 404 for a person
triage never saw. `sector_triage` is a fixture: import it into a test module to use it."""
from __future__ import annotations

import threading

import pytest
import uvicorn
from fastapi import FastAPI, HTTPException, Request

from dyade import access
from dyade.auth import read_token
from dyade.broker import free_port
from dyade.kafka import wait_until
from services.triage.entrypoints.api import READERS


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
        port = free_port()
        self._server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=port, log_config=None,
                                                     access_log=False, lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        wait_until(lambda: self._server.started, timeout=30)
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)


@pytest.fixture(scope="module")
def sector_triage(infosocial, settings):
    """Info-social's triage reads pointed at a SectorTriage for the module's tests."""
    from services.infosocial.adapters.triage_reads import TriageReads
    stub = SectorTriage(settings.dyade_token_secret).start()
    state = infosocial[1].state
    original, state.triage = state.triage, TriageReads(stub.url)
    yield stub
    state.triage.close()
    state.triage = original
    stub.stop()
