"""Intake's HTTP API: calls, updates, EIDO incidents, batches from the dispatch system; social
referrals; person resolution for the other services; reads of what was accepted and published."""
from __future__ import annotations

import logging
import os
import sys
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Body, Depends, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, OperationalError

from dyade.auth import Principal, requires
from dyade.contracts import Role
from dyade.contracts.inbound import CallSubmission, CallUpdateSubmission, PersonIdentity, ReferralSubmission
from dyade.contracts.text import OptLine
from dyade.db import describe_db_error, make_engine, make_sessionmaker
from dyade.service import create_app as create_service_app
from dyade.settings import Settings
from services.intake.acceptance import Conflict, Intake, NotFound, Outcome
from services.intake.authz import requires_async
from services.intake.bodyguard import Utf8BodyGuard
from services.intake.code_tables import CodeTables
from services.intake.code_table_api import code_table_router
from services.intake.domain.calls import InvalidSubmission
from services.intake.domain.eido import EidoError
from services.intake.group import GroupWriter
from services.intake.identities import identity_router
from services.intake.narratives import narrative_router
from services.intake.outbox import Relay
from services.intake.raw import RawConsumer

log = logging.getLogger("intake.api")

CALL_ID = Path(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$", description="Identifiant d'appel du RAO.")
ID = Path(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$")
CODE_TABLE = Query(None, max_length=64, description="Table de codes de nature (défaut: celle du service).")
REFERRERS = (Role.OFFICER, Role.CALLTAKER, Role.PARTNER, Role.SOCIAL_WORKER)
MAX_BATCH = 1000


class Accepted(BaseModel):
    status: str = Field(description="`accepted` (stocké; publié par le relais de l'outbox).")
    event_id: str
    model_config = {"extra": "allow"}


class BatchRequest(BaseModel):
    calls: list[Any] = Field(max_length=MAX_BATCH, description="Appels (même forme que POST /v1/calls).")
    code_table: OptLine = Field(None, max_length=64)


class BatchResponse(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[dict]


class Resolved(BaseModel):
    person_key: str
    match: str = Field(description="exact | fuzzy | cad_id | new")
    confidence: float


def problem(status: int, field: str, text: str) -> JSONResponse:
    return JSONResponse({"detail": f"requête invalide — {field}: {text}" if status == 422 else text,
                         "errors": [{"field": field, "problem": text}]}, status_code=status)


def answer(outcome: Outcome) -> JSONResponse:
    headers = {"Idempotent-Replay": "true"} if outcome.duplicate else {}
    return JSONResponse(outcome.body, status_code=202, headers=headers)


# The group-commit writer waits on PostgreSQL many times per group; with the default 5 ms GIL switch
# interval it queues behind the event loop after each wait. 0.5 ms keeps it flowing (measured: bench.intake).
GIL_SWITCH_INTERVAL_S = 0.0005


def create_app(settings: Settings, *, raw_group: str | None = None, background: bool = True) -> FastAPI:
    engine = make_engine(settings.db_url)
    sessions = make_sessionmaker(engine)
    tables = CodeTables.load()
    bootstrap = settings.kafka_bootstrap_servers
    relay = Relay(sessions, bootstrap) if bootstrap else None
    intake = Intake(sessions, settings.secret("dyade_pseudonym_key"), tables,
                    on_commit=relay.notify if relay else (lambda: None))
    writer = GroupWriter(intake)
    raw = RawConsumer(intake, bootstrap, raw_group or os.environ.get("INTAKE_RAW_GROUP", "intake-raw")) \
        if bootstrap else None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        writer.start()
        if background and relay:
            relay.start()
        if background and raw:
            raw.start()
        if not bootstrap:
            log.warning("KAFKA_BOOTSTRAP_SERVERS absent: les événements restent dans l'outbox")
        yield
        if raw:
            raw.stop()
        if relay:
            relay.stop()
        writer.stop()
        engine.dispose()

    def background_check() -> None:
        if not writer.alive:
            raise RuntimeError("écrivain des appels arrêté")
        if background and relay and not relay.alive:
            raise RuntimeError("relais de l'outbox arrêté")

    app = create_service_app("intake", settings, title="Réception des appels et références", lifespan=lifespan,
                             description="Reçoit les appels du RAO (JSON, EIDO NENA, lots, topic brut) et les "
                                         "références sociales; publie des événements versionnés, sans perte ni "
                                         "doublon (outbox transactionnelle).",
                             extra_checks={"background": background_check},
                             consumers=lambda: [raw.health()] if background and raw else [])
    app.add_middleware(Utf8BodyGuard)
    app.state.intake, app.state.relay, app.state.raw, app.state.writer = intake, relay, raw, writer

    @app.exception_handler(OperationalError)
    async def _database_down(request: Request, exc: OperationalError):
        return JSONResponse({"detail": "base de données indisponible; rien n'a été accepté, réessayez"},
                            status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(DataError)
    async def _refused_value(request: Request, exc: DataError):
        """A value the database refuses (the edge refuses control characters already): the caller's data,
        so a 4xx; logged without the values (describe_db_error), answered without them."""
        log.warning("value refused by the database", extra={"path": request.url.path,
                                                             "error": describe_db_error(exc)})
        return problem(422, "(corps)", "valeur refusée par la base de données; rien n'a été accepté pour "
                                       "cette requête")

    @app.exception_handler(InvalidSubmission)
    async def _invalid(request: Request, exc: InvalidSubmission):
        return problem(422, exc.field, exc.problem)

    @app.exception_handler(EidoError)
    async def _eido(request: Request, exc: EidoError):
        return problem(422, exc.path, exc.problem)

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, exc: Conflict):
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound):
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.post("/v1/calls", status_code=202, response_model=Accepted, tags=["appels"],
              summary="Un appel du RAO (accepté une fois stocké; rejoué à l'identique: même réponse)",
              responses={409: {"description": "Même appel et révision, contenu différent"},
                         422: {"description": "Champ invalide (nommé)"}})
    async def post_call(sub: CallSubmission, code_table: str | None = CODE_TABLE,
                        _: Principal = Depends(requires_async(Role.DISPATCH))):
        return answer(await writer.submit((sub, code_table, "http")))

    @app.post("/v1/calls:batch", response_model=BatchResponse, tags=["appels"],
              summary="Lot d'appels (reprise d'historique): un résultat par appel, un mauvais n'arrête pas les autres")
    def post_batch(batch: BatchRequest, _: Principal = Depends(requires(Role.DISPATCH))):
        results = intake.accept_batch(batch.calls, code_table=batch.code_table)
        counts = {s: sum(1 for r in results if r["status"] == s) for s in ("accepted", "duplicate")}
        return {"accepted": counts["accepted"], "duplicates": counts["duplicate"],
                "rejected": len(results) - counts["accepted"] - counts["duplicate"], "results": results}

    @app.post("/v1/calls/{call_id}/updates", status_code=202, response_model=Accepted, tags=["appels"],
              summary="Statut d'un appel: dispatched, on_scene, cleared (avec disposition)",
              responses={404: {"description": "Appel inconnu"}, 409: {"description": "Conflit"}})
    def post_update(sub: CallUpdateSubmission, call_id: str = CALL_ID,
                    _: Principal = Depends(requires(Role.DISPATCH))):
        return answer(intake.accept_update(call_id, sub))

    @app.post("/v1/eido", status_code=202, response_model=Accepted, tags=["appels"],
              summary="Incident NENA EIDO (NENA-STA-021.1b), traduit en appel")
    def post_eido(doc: dict[str, Any] = Body(..., description="Document EIDO (JSON)."),
                  code_table: str | None = CODE_TABLE, _: Principal = Depends(requires(Role.DISPATCH))):
        outcome, skipped = intake.accept_eido(doc, code_table=code_table)
        response = answer(outcome)
        if skipped:
            response.headers["X-Dyade-Persons-Skipped"] = str(skipped)
        return response

    @app.get("/v1/calls/{call_id}", tags=["appels"], summary="Ce qui a été accepté et publié pour un appel")
    def get_call(call_id: str = CALL_ID, _: Principal = Depends(requires(Role.DISPATCH, Role.SUPERVISOR))):
        status = intake.call_status(call_id)
        if status is None:
            return JSONResponse({"detail": f"appel inconnu: {call_id}"}, status_code=404)
        return status

    @app.post("/v1/referrals", status_code=202, response_model=Accepted, tags=["références"],
              summary="Référence sociale (au moins un critère d'admissibilité)")
    def post_referral(sub: ReferralSubmission, _: Principal = Depends(requires(*REFERRERS))):
        return answer(intake.accept_referral(sub))

    @app.get("/v1/referrals/{referral_id}", tags=["références"], summary="Acceptation et publication d'une référence")
    def get_referral(referral_id: str = ID, _: Principal = Depends(requires(*REFERRERS, Role.SUPERVISOR))):
        status = intake.referral_status(referral_id)
        if status is None:
            return JSONResponse({"detail": f"référence inconnue: {referral_id}"}, status_code=404)
        return status

    @app.post("/v1/persons/resolve", response_model=Resolved, tags=["personnes"],
              summary="Clé pseudonyme d'une personne connue par son nom (exact, fuzzy, cad_id ou new)")
    def resolve(person: PersonIdentity,
                principal: Principal = Depends(requires(Role.SOCIAL_WORKER, Role.OFFICER, Role.CALLTAKER))):
        return intake.resolve_person(person, principal.subject).as_json()

    app.include_router(identity_router(sessions))
    app.include_router(narrative_router(sessions))
    app.include_router(code_table_router(sessions, tables))

    @app.get("/v1/code-tables", tags=["configuration"], summary="Tables de codes de nature connues")
    def code_tables(_: Principal = Depends(requires(Role.DISPATCH, Role.SUPERVISOR, Role.ANALYST, Role.ADMIN))):
        return {"default": tables.default,
                "tables": {name: {"source_system": t.source_system,
                                  "unknown_code": t.unknown.value if t.unknown else "reject",
                                  "codes": {c: cat.value for c, cat in sorted(t.codes.items())}}
                           for name, t in tables.tables.items()}}

    @app.get("/v1/outbox", tags=["exploitation"], summary="État du relais de l'outbox")
    def outbox_status(_: Principal = Depends(requires(Role.SUPERVISOR, Role.ADMIN))):
        return {"backlog": relay.backlog() if relay else None, "published": relay.published if relay else 0,
                "history_restored": relay.restored if relay else 0, "relay_alive": bool(relay and relay.alive),
                "last_error": relay.last_error if relay else "KAFKA_BOOTSTRAP_SERVERS absent",
                "writer": {"groups": writer.groups, "calls": writer.calls, "busy_s": round(writer.busy_s, 3)},
                "raw": {"accepted": raw.accepted, "duplicates": raw.duplicates, "dead_lettered": raw.dead_lettered,
                        "alive": raw.alive} if raw else None}

    return app
