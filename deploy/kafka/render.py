"""Render deploy/kafka/topics.yaml: the production topic configuration, from the code.

    python deploy/kafka/render.py > deploy/kafka/topics.yaml

Every topic of `dyade.contracts.topics.TOPICS` and its dead-letter topic, exactly as `dyade topics
--create` creates them (`dyade.kafka.topic_specs`) with DYADE_TOPIC_PARTITIONS and
DYADE_TOPIC_REPLICATION at their production values, plus the triage worker's own topics (faust
changelogs and repartition topics), which the worker creates itself. tests/deploy keeps the file equal
to this rendering, and these values equal to docker-compose.yml and deploy/k8s."""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script: make `dyade` and `services` importable
    sys.path.insert(0, str(ROOT))

PRODUCTION_PARTITIONS = 6
PRODUCTION_REPLICATION = 3
HEADER = """\
# Production topic configuration of Dyade. GENERATED from dyade/contracts/topics.py by
# deploy/kafka/render.py: do not edit by hand (tests/deploy compares it with the code).
#
# Applied by the `topics` job (`dyade topics --create` with DYADE_TOPIC_PARTITIONS and
# DYADE_TOPIC_REPLICATION below), or by your own tooling (Strimzi KafkaTopic, Terraform) from this file.
# `internal` topics are created by the triage worker itself (faust): grant it CreateTopics on them.
"""


def _triage_internal_topics(partitions: int, replication: int) -> list[dict]:
    from dyade.contracts.topics import min_insync_replicas
    from dyade.settings import Settings
    from services.triage.app import build_app, internal_topics
    from services.triage.options import TriageOptions, load_ruleset
    options = TriageOptions(_env_file=None, app_id="dyade-triage")
    settings = Settings(_env_file=None, kafka_bootstrap_servers="kafka:9092", dyade_home="/nonexistent",
                        dyade_topic_partitions=partitions, dyade_topic_replication=replication)
    app = build_app(settings, options, load_ruleset(options, {}))
    isr = {"min.insync.replicas": str(min_insync_replicas(replication))} if replication > 1 else {}
    out = []
    for name in internal_topics(options.app_id):
        out.append({"name": name, "partitions": partitions, "replication_factor": replication,
                    "config": {"cleanup.policy": "delete", "retention.ms": str(7 * 86_400_000), **isr},
                    "created_by": "triage", "purpose": "repartition (group_by)"})
    for table_name, table in sorted(app.tables.items()):
        out.append({"name": table.changelog_topic.get_topic_name(), "partitions": partitions,
                    "replication_factor": replication, "config": {"cleanup.policy": "compact", **isr},
                    "created_by": "triage", "purpose": f"changelog of the faust table `{table_name}`"})
    return out


def topic_document(partitions: int = PRODUCTION_PARTITIONS, replication: int = PRODUCTION_REPLICATION) -> dict:
    from dyade.contracts.topics import TOPICS
    from dyade.kafka import topic_specs
    declared = {t.name: t for t in TOPICS}
    topics = []
    for spec in topic_specs(partitions=partitions, replication=replication):
        entry = {"name": spec.name, "partitions": spec.partitions, "replication_factor": spec.replication,
                 "config": dict(sorted(spec.config.items()))}
        t = declared.get(spec.name)
        if t is not None:
            entry.update(key=t.key, produced_by=t.produced_by, consumed_by=list(t.consumed_by),
                         description=t.description)
        else:
            entry.update(description="Dead letters: original bytes, reason in header dlq.reason.")
        topics.append(entry)
    return {"partitions": partitions, "replication_factor": replication, "topics": topics,
            "internal": _triage_internal_topics(partitions, replication)}


def render(partitions: int = PRODUCTION_PARTITIONS, replication: int = PRODUCTION_REPLICATION) -> str:
    body = yaml.safe_dump(topic_document(partitions, replication), sort_keys=False, allow_unicode=True, width=110)
    return HEADER + body


if __name__ == "__main__":
    sys.stdout.write(render())
