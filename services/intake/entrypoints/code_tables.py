"""Code tables loaded at run time: `PUT /v1/code-tables/{name}` (admin) stores a new version (audited: who,
role, when, why) and puts it in use at once, in this process and, within seconds, in every other intake
process (code_tables.CodeTables.refresh): a new city's dispatch codes need no file in INTAKE_MAPPINGS_DIR
and no restart. `GET /v1/code-tables/{name}` gives a table's content and version; `/history` its audit.

    app.include_router(code_table_router(sessions, tables))   # services/intake/entrypoints/api.py
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.orm import Session, sessionmaker

from dyade.auth import Principal, requires
from dyade.contracts import CallCategory, Role
from dyade.contracts.text import Line, OptLine, OptText
from services.intake.adapters.code_tables import CodeTables, CodeTableStore
from services.intake.domain.codes import MAX_CODE_LENGTH, MAX_CODES, CodeTable

NAME = Path(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._\-]+$",
            description="Nom de la table (paramètre `code_table` des API et du topic brut).")
Code = Annotated[Line, StringConstraints(min_length=1, max_length=MAX_CODE_LENGTH)]
Label = Annotated[Line, StringConstraints(max_length=200)]
READERS = (Role.DISPATCH, Role.SUPERVISOR, Role.ANALYST, Role.ADMIN)


class CodeTableIn(BaseModel):
    """A code table, as in a mapping file (`codes`, `unknown_code`, `skip`, `labels`...)."""
    model_config = ConfigDict(extra="forbid")

    description: OptLine = Field(None, max_length=300)
    source_system: OptLine = Field(None, max_length=64, description="Repris dans les événements (payload.source_system).")
    unknown_code: Line = Field("reject", max_length=40, description="`reject` ou une catégorie (souvent `autre`).")
    codes: dict[Code, CallCategory] = Field(default_factory=dict, max_length=MAX_CODES,
                                            description="Code du RAO → catégorie Dyade.")
    skip: list[Code] = Field(default_factory=list, max_length=MAX_CODES,
                             description="Codes administratifs (interpellation routière, retour au poste...): "
                                         "pas des appels, jamais acceptés.")
    labels: dict[Code, Label] = Field(default_factory=dict, max_length=MAX_CODES)
    reason: OptText = Field(None, max_length=500, description="Pourquoi cette version (journal d'audit).")


def code_table_router(sessions: sessionmaker[Session], tables: CodeTables, *, refresh_s: float = 5.0) -> APIRouter:
    store = CodeTableStore(sessions)
    tables.attach(store, refresh_s=refresh_s)
    router = APIRouter(prefix="/v1/code-tables", tags=["configuration"])

    @router.put("/{name}", summary="Charger une table de codes (nouvelle version, en service sans redémarrage)",
                responses={200: {"description": "Contenu identique à la version en service (aucune nouvelle version)"},
                           201: {"description": "Nouvelle version enregistrée et en service"},
                           422: {"description": "Table invalide (le problème est nommé)"}})
    def put_table(body: CodeTableIn, name: str = NAME, principal: Principal = Depends(requires(Role.ADMIN))):
        try:
            table = CodeTable.build(name, {k: v.value for k, v in body.codes.items()}, body.unknown_code, body.labels,
                                    body.source_system or "cad", body.skip, body.description or "")
        except ValueError as exc:
            return JSONResponse({"detail": f"requête invalide — codes: {exc}",
                                 "errors": [{"field": "codes", "problem": str(exc)}]}, status_code=422)
        stored, created = store.put(table, subject=principal.subject, role=principal.role.value, reason=body.reason)
        tables.install(CodeTable.from_content(name, stored.content), stored.version)
        return JSONResponse({**stored.as_json(), "created": created, "in_use": True, "codes": len(table.codes),
                             "skip": len(table.skip), "unknown_code": body.unknown_code},
                            status_code=201 if created else 200)

    @router.get("/{name}", summary="Contenu et version d'une table de codes")
    def get_table(name: str = NAME, _: Principal = Depends(requires(*READERS))):
        try:
            table = tables.get(name)
        except KeyError:
            return JSONResponse({"detail": f"table de codes inconnue: {name!r} (connues: {', '.join(tables.names())})"},
                                status_code=404)
        version = tables.stored.get(name)
        return {"name": name, "origin": tables.origin(name), "version": version, "default": name == tables.default,
                **table.as_content()}

    @router.get("/{name}/history", summary="Journal d'audit d'une table de codes (qui, rôle, quand, pourquoi)")
    def get_history(name: str = NAME, _: Principal = Depends(requires(Role.ADMIN, Role.SUPERVISOR))):
        history = store.history(name)
        if not history:
            return JSONResponse({"detail": f"aucune version chargée par l'API pour la table {name!r}"}, status_code=404)
        return {"name": name, "history": history}

    return router
