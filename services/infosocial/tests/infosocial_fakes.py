"""A stand-in for triage's read API in Info-social's tests (the faust worker is too heavy to start here). It
answers with triage's own code over triage's own state: `subject_view` for `/v1/persons/{key}/triage?au=` and
`decide` → `explain_decision` for `/v1/calls/{id}/decision`; it checks the bearer token as triage does (its
readers) and remembers who read what, as triage's audit log would."""
from __future__ import annotations

from datetime import datetime, timezone

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from dyade.auth import read_token
from services.triage.domain import state as S
from services.triage.domain.config import RulesetConfig
from services.triage.domain.decide import decide
from services.triage.entrypoints.views import explain_decision, subject_view
from services.triage.entrypoints.api import READERS
from tests.kit import Served

CFG = RulesetConfig()


class FakeTriage:
    def __init__(self, secret: str):
        self.secret = secret
        self.states: dict[str, dict] = {}
        self.decisions: dict[str, dict] = {}
        self.reads: list[tuple[str, str, str]] = []  # (reader, role, path)
        self.app = self._app()
        self.url = ""
        self._served: Served | None = None

    def add_call(self, person: str, call_id: str, at: datetime, *, sector: str | None = "S1",
                 category: str = "etat_mental_perturbe") -> None:
        """A call about `person` as triage would have recorded and decided it."""
        st = self.states.setdefault(person, S.new_state())
        call = S.CallFacts(call_id=call_id, revision=1, t=at.timestamp(), category=category, flags=(), priority=3,
                           location_key="l_test", sector=sector, person_keys=(person,), subject=person,
                           caller_relation="famille", received_at=at.isoformat())
        d = decide(call, st, {"7j": 1, "30j": 1, "90j": 1, "180j": 1, "365j": 1}, 1, CFG)
        S.record_call(st, call, CFG)
        self.decisions[call_id] = explain_decision(d.payload.model_dump(mode="json"))

    def _reader(self, request: Request):
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            raise HTTPException(401, "jeton requis")
        who = read_token(self.secret, auth[7:].strip())
        if who.role not in READERS:
            raise HTTPException(403, "rôle non permis")
        self.reads.append((who.subject, who.role.value, request.url.path))
        return who

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/v1/persons/{person_key}/triage")
        def person(person_key: str, request: Request, au: datetime | None = None):
            self._reader(request)
            st = self.states.get(person_key)
            if st is None:
                return JSONResponse({"detail": "aucun état de triage"}, status_code=404)
            at = au or datetime.now(timezone.utc)
            return subject_view(person_key, st, at.timestamp(), CFG)

        @app.get("/v1/calls/{call_id}/decision")
        def decision(call_id: str, request: Request):
            self._reader(request)
            if call_id not in self.decisions:
                return JSONResponse({"detail": "aucune décision connue"}, status_code=404)
            return self.decisions[call_id]

        @app.get("/healthz")
        def health():
            return {"ok": True}
        return app

    def start(self) -> "FakeTriage":
        self._served = Served(self.app).start(timeout=30)
        self.url = self._served.url
        return self

    def stop(self) -> None:
        if self._served:
            self._served.stop(wait=10)
