"""Intake's HTTP API: calls, updates, EIDO incidents, batches from the dispatch system; social
referrals; person resolution for the other services; reads of what was accepted and published."""
from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Body, Depends, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, OperationalError

from dyade.auth import Principal, requires
from dyade.contracts import Role
from dyade.contracts.inbound import CallSubmission, CallUpdateSubmission, PersonIdentity, ReferralSubmission
from dyade.contracts.text import OptLine
from dyade.db import describe_db_error
from services.intake.adapters.acceptance import Conflict, Intake, NotFound, Outcome
from services.intake.entrypoints.authz import requires_async
from services.intake.adapters.code_tables import CodeTables
from services.intake.entrypoints.code_tables import code_table_router
from services.intake.domain.calls import InvalidSubmission
from services.intake.domain.eido import EidoError
from services.intake.adapters.group_commit import GroupWriter
from services.intake.entrypoints.identities import PURPOSE_PATTERN, identity_router
from services.intake.entrypoints.limits import PerReaderLimit
from services.intake.entrypoints.narratives import narrative_router
from services.intake.adapters.outbox import Relay
from services.intake.entrypoints.raw_topic import RawConsumer

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
    match: str = Field(description="exact | fuzzy | cad_id")
    confidence: float


LOOKUP_PURPOSE = "recherche d'une personne par son identité"


def problem(status: int, field: str, text: str) -> JSONResponse:
    return JSONResponse({"detail": f"requête invalide — {field}: {text}" if status == 422 else text,
                         "errors": [{"field": field, "problem": text}]}, status_code=status)


def answer(outcome: Outcome) -> JSONResponse:
    headers = {"Idempotent-Replay": "true"} if outcome.duplicate else {}
    return JSONResponse(outcome.body, status_code=202, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """What intake answers when a request cannot be accepted: the field and the problem, in French, never the
    values (they may hold identities)."""

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


def intake_router(intake: Intake, writer: GroupWriter, tables: CodeTables, sessions, relay: Relay | None,
                  raw: RawConsumer | None, lookups: PerReaderLimit) -> APIRouter:
    router = APIRouter()

    @router.post("/v1/calls", status_code=202, response_model=Accepted, tags=["appels"],
              summary="Un appel du RAO (accepté une fois stocké; rejoué à l'identique: même réponse)",
              responses={409: {"description": "Même appel et révision, contenu différent"},
                         422: {"description": "Champ invalide (nommé)"}})
    async def post_call(sub: CallSubmission, code_table: str | None = CODE_TABLE,
                        _: Principal = Depends(requires_async(Role.DISPATCH))):
        return answer(await writer.submit((sub, code_table, "http")))

    @router.post("/v1/calls:batch", response_model=BatchResponse, tags=["appels"],
              summary="Lot d'appels (reprise d'historique): un résultat par appel, un mauvais n'arrête pas les autres")
    def post_batch(batch: BatchRequest, _: Principal = Depends(requires(Role.DISPATCH))):
        results = intake.accept_batch(batch.calls, code_table=batch.code_table)
        counts = {s: sum(1 for r in results if r["status"] == s) for s in ("accepted", "duplicate")}
        return {"accepted": counts["accepted"], "duplicates": counts["duplicate"],
                "rejected": len(results) - counts["accepted"] - counts["duplicate"], "results": results}

    @router.post("/v1/calls/{call_id}/updates", status_code=202, response_model=Accepted, tags=["appels"],
              summary="Statut d'un appel: dispatched, on_scene, cleared (avec disposition)",
              responses={404: {"description": "Appel inconnu"}, 409: {"description": "Conflit"}})
    def post_update(sub: CallUpdateSubmission, call_id: str = CALL_ID,
                    _: Principal = Depends(requires(Role.DISPATCH))):
        return answer(intake.accept_update(call_id, sub))

    @router.post("/v1/eido", status_code=202, response_model=Accepted, tags=["appels"],
              summary="Incident NENA EIDO (NENA-STA-021.1b), traduit en appel")
    def post_eido(doc: dict[str, Any] = Body(..., description="Document EIDO (JSON)."),
                  code_table: str | None = CODE_TABLE, _: Principal = Depends(requires(Role.DISPATCH))):
        outcome, skipped = intake.accept_eido(doc, code_table=code_table)
        response = answer(outcome)
        if skipped:
            response.headers["X-Dyade-Persons-Skipped"] = str(skipped)
        return response

    @router.get("/v1/calls/{call_id}", tags=["appels"], summary="Ce qui a été accepté et publié pour un appel")
    def get_call(call_id: str = CALL_ID, _: Principal = Depends(requires(Role.DISPATCH, Role.SUPERVISOR))):
        status = intake.call_status(call_id)
        if status is None:
            return JSONResponse({"detail": f"appel inconnu: {call_id}"}, status_code=404)
        return status

    @router.post("/v1/referrals", status_code=202, response_model=Accepted, tags=["références"],
              summary="Référence sociale (au moins un critère d'admissibilité)")
    def post_referral(sub: ReferralSubmission, _: Principal = Depends(requires(*REFERRERS))):
        return answer(intake.accept_referral(sub))

    @router.get("/v1/referrals/{referral_id}", tags=["références"], summary="Acceptation et publication d'une référence")
    def get_referral(referral_id: str = ID, _: Principal = Depends(requires(*REFERRERS, Role.SUPERVISOR))):
        status = intake.referral_status(referral_id)
        if status is None:
            return JSONResponse({"detail": f"référence inconnue: {referral_id}"}, status_code=404)
        return status

    @router.post("/v1/persons/resolve", response_model=Resolved, tags=["personnes"],
              summary="Clé pseudonyme d'une personne déjà connue d'intake (exact, fuzzy ou cad_id); lecture seule, "
                      "consignée, limitée par lecteur",
              responses={404: {"description": "Personne inconnue d'intake: aucune clé n'est créée (elle l'est à "
                                              "l'acceptation d'un appel ou d'une référence)"},
                         429: {"description": "Trop de recherches pour ce lecteur (Retry-After)"}})
    def resolve(person: PersonIdentity,
                purpose: str = Query(LOOKUP_PURPOSE, min_length=3, max_length=200, pattern=PURPOSE_PATTERN,
                                     description="Pourquoi la personne est recherchée (consigné)."),
                principal: Principal = Depends(requires(Role.SOCIAL_WORKER, Role.OFFICER, Role.CALLTAKER))):
        wait = lookups.take(principal.subject)
        if wait is not None:
            log.warning("person look-ups refused: limit reached", extra={"role": principal.role.value,
                                                                         "per_minute": lookups.per_minute})
            return JSONResponse({"detail": f"trop de recherches de personnes : au plus {lookups.per_minute} par "
                                           f"minute pour un même utilisateur; réessayez dans {wait} s"},
                                status_code=429, headers={"Retry-After": str(wait)})
        found = intake.look_up_person(person, subject=principal.subject, role=principal.role.value, purpose=purpose)
        if found is None:
            return JSONResponse({"detail": "personne introuvable : intake ne la connaît par aucun appel ni aucune "
                                           "référence acceptés (une recherche ne crée pas de clé)"}, status_code=404)
        return found.as_json()

    router.include_router(identity_router(sessions))
    router.include_router(narrative_router(sessions))
    router.include_router(code_table_router(sessions, tables))

    @router.get("/v1/code-tables", tags=["configuration"], summary="Tables de codes de nature connues")
    def code_tables(_: Principal = Depends(requires(Role.DISPATCH, Role.SUPERVISOR, Role.ANALYST, Role.ADMIN))):
        return {"default": tables.default,
                "tables": {name: {"source_system": t.source_system,
                                  "unknown_code": t.unknown.value if t.unknown else "reject",
                                  "codes": {c: cat.value for c, cat in sorted(t.codes.items())}}
                           for name, t in tables.tables.items()}}

    @router.get("/v1/outbox", tags=["exploitation"], summary="État du relais de l'outbox")
    def outbox_status(_: Principal = Depends(requires(Role.SUPERVISOR, Role.ADMIN))):
        return {"backlog": relay.backlog() if relay else None, "published": relay.published if relay else 0,
                "history_restored": relay.restored if relay else 0, "relay_alive": bool(relay and relay.alive),
                "last_error": relay.last_error if relay else "KAFKA_BOOTSTRAP_SERVERS absent",
                "writer": {"groups": writer.groups, "calls": writer.calls, "busy_s": round(writer.busy_s, 3)},
                "raw": {"accepted": raw.accepted, "duplicates": raw.duplicates, "dead_lettered": raw.dead_lettered,
                        "alive": raw.alive} if raw else None}

    return router
