"""deploy/kafka/topics.yaml is the code's topics at production settings: every declared topic and its
dead-letter topic, replication 3, min.insync.replicas 2, compaction where it holds state, retention."""
from __future__ import annotations

import importlib.util
from functools import lru_cache

from dyade.contracts.topics import TOPICS, all_topic_names
from dyade.kafka import topic_specs

from deploy_files import DEPLOY, compose, k8s, load_all, load_yaml, resolve

TOPICS_FILE = DEPLOY / "kafka" / "topics.yaml"


@lru_cache
def renderer():
    spec = importlib.util.spec_from_file_location("dyade_deploy_render", DEPLOY / "kafka" / "render.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def production() -> dict:
    return load_yaml(TOPICS_FILE)


def test_topics_yaml_is_the_rendering_of_the_code():
    assert TOPICS_FILE.read_text(encoding="utf-8") == renderer().render(), \
        "deploy/kafka/topics.yaml is stale: python deploy/kafka/render.py > deploy/kafka/topics.yaml"


def test_the_production_topics_are_the_declared_topics_and_their_dead_letter_topics():
    assert [t["name"] for t in production()["topics"]] == all_topic_names()
    assert {t["name"] for t in production()["topics"]} == {t.name for t in TOPICS} | {t.dlq_name for t in TOPICS if t.dlq}


def test_every_topic_is_replicated_three_times_and_needs_two_in_sync_replicas():
    doc = production()
    assert doc["replication_factor"] == 3
    for t in doc["topics"] + doc["internal"]:
        assert t["replication_factor"] == 3, t["name"]
        assert t["config"]["min.insync.replicas"] == "2", t["name"]


def test_state_is_compacted_and_history_is_retained_as_declared():
    by_name = {t["name"]: t for t in production()["topics"]}
    for topic in TOPICS:
        cfg = by_name[topic.name]["config"]
        if topic.compacted:
            assert cfg["cleanup.policy"] == "compact" and "retention.ms" not in cfg, topic.name
        else:
            assert cfg["cleanup.policy"] == "delete"
            assert cfg["retention.ms"] == str(topic.retention_days * 86_400_000), topic.name
        assert by_name[topic.name]["partitions"] == production()["partitions"]
        if topic.dlq:
            assert by_name[topic.dlq_name]["partitions"] == 1
            assert int(by_name[topic.dlq_name]["config"]["retention.ms"]) >= 7 * 86_400_000
    changelogs = [t for t in production()["internal"] if t["name"].endswith("-changelog")]
    assert changelogs and all(t["config"]["cleanup.policy"] == "compact" for t in changelogs)


def test_the_topic_job_settings_of_compose_and_kubernetes_are_those_of_topics_yaml():
    doc = production()
    env = compose()["services"]["topics"]["environment"]
    assert int(resolve(env["DYADE_TOPIC_PARTITIONS"], {})) == doc["partitions"]
    assert int(resolve(env["DYADE_TOPIC_REPLICATION"], {})) == doc["replication_factor"]
    (configmap,) = [d for d in k8s("ConfigMap") if d["metadata"]["name"] == "dyade-config"]
    assert int(configmap["data"]["DYADE_TOPIC_PARTITIONS"]) == doc["partitions"]
    assert int(configmap["data"]["DYADE_TOPIC_REPLICATION"]) == doc["replication_factor"]
    assert renderer().PRODUCTION_PARTITIONS == doc["partitions"]


def test_the_embedded_broker_keeps_its_single_replica_configuration():
    for spec in topic_specs(replication=1):
        assert spec.replication == 1 and "min.insync.replicas" not in spec.config


def test_the_strimzi_topics_are_the_same_topics():
    path = DEPLOY / "kafka" / "strimzi-topics.yaml"
    assert path.read_text(encoding="utf-8") == renderer().render_strimzi(), \
        "deploy/kafka/strimzi-topics.yaml is stale: python deploy/kafka/render.py --strimzi > deploy/kafka/strimzi-topics.yaml"
    by_name = {t["name"]: t for t in production()["topics"]}
    resources = load_all(path)
    assert [r["spec"]["topicName"] for r in resources] == all_topic_names()
    for r in resources:
        t = by_name[r["spec"]["topicName"]]
        assert r["kind"] == "KafkaTopic" and r["apiVersion"] == "kafka.strimzi.io/v1beta2"
        assert (r["spec"]["partitions"], r["spec"]["replicas"], r["spec"]["config"]) == \
            (t["partitions"], t["replication_factor"], t["config"])
