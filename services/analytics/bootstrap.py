"""The analytics service: consumer of the event streams, figure book, JSON API, dashboard and /metrics."""
from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from dyade.db import make_engine, make_sessionmaker
from dyade.service import create_app as create_service_app
from dyade.settings import Settings
from services.analytics.entrypoints import api, pages
from services.analytics.config import AnalyticsConfig, organisation_tz
from services.analytics.entrypoints.consumers import GROUP, TOPICS, start_consumer
from services.analytics.adapters.figures import FigureBook
from services.analytics.entrypoints.metrics import LagProbe, register

STATIC = Path(__file__).parent / "static"


def create_app(settings: Settings, *, group_id: str = GROUP, consume: bool = True,
               config: AnalyticsConfig | None = None) -> FastAPI:
    """`group_id` lets a test run its own consumer group; `consume=False` serves the stored figures only;
    `config` replaces the ANALYTICS_* settings read from the environment."""
    tz = organisation_tz(settings)
    config = config or AnalyticsConfig()
    engine = make_engine(settings.db_url)
    sessions = make_sessionmaker(engine)
    book = FigureBook(sessions, tz=tz, config=config)
    collector = register()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        loop = None
        lag = None
        if consume and settings.kafka_bootstrap_servers:
            loop = start_consumer(settings.kafka_bootstrap_servers, sessions, group_id=group_id,
                                  on_stored=book.invalidate)
            lag = LagProbe(settings.kafka_bootstrap_servers, group_id, tuple(t.name for t in TOPICS))
        app.state.consumer = loop
        collector.attach(book, lag)
        try:
            yield
        finally:
            if loop:
                loop.stop()
            engine.dispose()

    app = create_service_app("analytics", settings, title="Indicateurs du programme",
                             description="Indicateurs calculés en continu à partir des flux d'événements: "
                                         "réduction des appels répétés, grandes utilisatrices, activité des dyades, "
                                         "délais, issues, fiches et références. Définitions: docs/figures.md.",
                             lifespan=lifespan,
                             consumers=lambda: [app.state.consumer.health()] if app.state.consumer else [])
    app.state.book = book
    app.state.consumer = None
    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
