"""The Info-social FastAPI app: API, the social worker's page, workers started in the lifespan."""
from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError

from dyade.settings import Settings
from dyade.service import create_app as base_app
from services.infosocial.entrypoints import api, pages
from services.infosocial.adapters.frames import Problem
from services.infosocial.adapters.identities import IntakeIdentities
from services.infosocial.runtime import Runtime
from services.infosocial.adapters.triage_reads import TriageReads

DESCRIPTION = """Fiches Info-social (cadres d'intervention): versions approuvées par une deuxième personne,
révision annuelle, consentement et base légale, vues par rôle, audit de chaque lecture; file des références
sociales. Chaque élément d'une fiche porte sa source: `police` (tiré des interventions policières) ou
`sante` (défaut); sans consentement ni base légale, les policiers ne voient que les éléments `police`."""


def create_app(settings: Settings, *, consumer_group: str = "infosocial", workers: bool = True,
               sweep: bool = True) -> FastAPI:
    runtime = Runtime(settings, consumer_group=consumer_group)
    identities = IntakeIdentities.from_settings(settings)
    triage = TriageReads.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        runtime.start(workers=workers, sweep=sweep)
        try:
            yield
        finally:
            runtime.stop()
            identities.close()
            triage.close()

    app = base_app("infosocial", settings, title="Fiches Info-social", description=DESCRIPTION, lifespan=lifespan,
                   extra_checks={"workers": runtime.workers_ok},
                   consumers=runtime.consumers_health)
    app.state.runtime = runtime
    app.state.identities = identities
    app.state.triage = triage

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem):
        return JSONResponse({"detail": exc.message}, status_code=exc.status)

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError):  # last line of defence: the database refused a value
        return JSONResponse({"detail": "donnée refusée par la base de données (caractère ou valeur invalide)"},
                            status_code=422)

    app.include_router(api.router)
    app.include_router(pages.router)
    return app
