"""`python -m services.triage`: the faust worker, with its HTTP API on settings.triage_port."""
from __future__ import annotations

import logging

import faust

from dyade.contracts.topics import TRIAGE_BY_SUBJECT
from dyade.kafka import admin
from dyade.observability import configure_logging
from dyade.settings import Settings, SettingsError
from services.triage.bootstrap import build_app, probe_lag
from services.triage.config import TriageOptions, load_ruleset
from services.triage.entrypoints.api import WebService, create_web

log = logging.getLogger("dyade.triage")


class TriageWorker(faust.Worker):
    async def on_startup_finished(self) -> None:
        await super().on_startup_finished()
        self.app.startup_finished = True
        log.info("worker ready", extra={"app_id": self.app.conf.id})
        await probe_lag()


def ensure_internal_topics(settings: Settings, app_id: str) -> None:
    """Create the internal topic with the input topics' partition count (co-partitioning)."""
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError
    topic = TRIAGE_BY_SUBJECT.of(app_id)
    client = admin(settings.kafka_bootstrap_servers)
    try:
        if topic.name not in set(client.list_topics()):
            try:
                client.create_topics([NewTopic(topic.name, settings.dyade_topic_partitions,
                                               settings.dyade_topic_replication,
                                               topic_configs=topic.config_for(settings.dyade_topic_replication))])
            except TopicAlreadyExistsError:
                pass
    finally:
        client.close()


def main() -> None:
    settings = Settings()
    try:
        settings.check_secrets()
    except SettingsError as exc:
        raise SystemExit(f"erreur : {exc}") from None
    options = TriageOptions()
    configure_logging("triage", settings.dyade_log_level)
    if options.faust_log_level:  # faust/aiokafka internals (rebalances, recovery) for diagnosis
        for name in ("faust", "mode", "aiokafka"):
            logging.getLogger(name).setLevel(options.faust_log_level.upper())
    if not settings.kafka_bootstrap_servers:
        raise SystemExit("KAFKA_BOOTSTRAP_SERVERS est requis (dyade up le fournit)")
    ruleset = load_ruleset(options)
    ensure_internal_topics(settings, options.app_id)
    app = build_app(settings, options, ruleset)
    web = WebService(create_web(app, settings), settings.dyade_host, settings.triage_port)
    worker = TriageWorker(app, web, loglevel=settings.dyade_log_level, override_logging=False,
                          redirect_stdouts=False)
    log.info("starting triage worker", extra={"app_id": options.app_id, "ruleset": ruleset.version,
                                              "port": settings.triage_port})
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
