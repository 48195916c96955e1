"""Intake's wiring: the database, the code tables, the outbox relay, the group-commit writer and the raw-topic
consumer, started and stopped with the HTTP app (entrypoints/api.py holds the routes)."""
from __future__ import annotations

import logging
import os
from contextlib import asynccontextmanager

from fastapi import FastAPI

from dyade.db import make_engine, make_sessionmaker
from dyade.service import create_app as create_service_app
from dyade.settings import Settings
from services.intake.adapters.acceptance import Intake
from services.intake.adapters.code_tables import CodeTables
from services.intake.adapters.group_commit import GroupWriter
from services.intake.adapters.outbox import Relay
from services.intake.config import IntakeConfig
from services.intake.entrypoints.api import install_error_handlers, intake_router
from services.intake.entrypoints.bodyguard import Utf8BodyGuard
from services.intake.entrypoints.limits import PerReaderLimit
from services.intake.entrypoints.raw_topic import RawConsumer

log = logging.getLogger("intake.api")
# The group-commit writer waits on PostgreSQL many times per group; with the default 5 ms GIL switch
# interval it queues behind the event loop after each wait. 0.5 ms keeps it flowing (measured: bench.intake).
GIL_SWITCH_INTERVAL_S = 0.0005


def create_app(settings: Settings, *, raw_group: str | None = None, background: bool = True,
               config: IntakeConfig | None = None) -> FastAPI:
    config = config or IntakeConfig()
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

    app = create_service_app("intake", settings, title="Réception des appels et références", lifespan=lifespan,
                             description="Reçoit les appels du RAO (JSON, EIDO NENA, lots, topic brut) et les "
                                         "références sociales; publie des événements versionnés, sans perte ni "
                                         "doublon (outbox transactionnelle).",
                             extra_checks={"background": background_check},
                             consumers=lambda: ([raw.health()] if background and raw else [])
                             + ([relay.health()] if background and relay else []))
    app.add_middleware(Utf8BodyGuard)
    app.state.intake, app.state.relay, app.state.raw, app.state.writer = intake, relay, raw, writer
    install_error_handlers(app)
    app.state.lookups = PerReaderLimit(config.lookups_per_minute)
    app.include_router(intake_router(intake, writer, tables, sessions, relay, raw, app.state.lookups))
    return app
