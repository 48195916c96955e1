"""The notifier's FastAPI app: API, live stream, field app; the runtime starts and stops with it."""
from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from dyade.service import create_app as create_service_app
from dyade.settings import Settings

from services.notifier.entrypoints.api import router
from services.notifier.config import NotifierConfig
from services.notifier.runtime import Notifier
from services.notifier.entrypoints.stream import stream_router
from services.notifier.entrypoints.pages import HERE, web_router

DESCRIPTION = """Transforme les décisions du triage en alertes sur l'appareil de la dyade et s'assure que
quelqu'un agit sur chacune: routage par secteur et quart, escalade, suivis (type 2), flux en direct (SSE),
Web Push (VAPID) et webhook signé pour les terminaux véhiculaires. L'application de la dyade est à `/`."""


def create_app(settings: Settings, config: NotifierConfig | None = None, notifier: Notifier | None = None) -> FastAPI:
    runtime = notifier or Notifier(settings, config)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if notifier is None:
            runtime.start()
        try:
            yield
        finally:
            if notifier is None:
                runtime.stop()

    app = create_service_app("notifier", settings, title="Alertes aux dyades", description=DESCRIPTION,
                             lifespan=lifespan, extra_checks={"workers": runtime.ready},
                             consumers=lambda: [c.health() for c in runtime.consumers]
                             + [r.health() for r in (runtime.relay, runtime.event_relay) if r])
    app.state.notifier = runtime
    app.include_router(router)
    app.include_router(stream_router)
    app.include_router(web_router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    return app
