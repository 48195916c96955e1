"""docker-compose.yml against the code: the five services and only them, their real commands and ports,
the one-shot jobs, Kafka in KRaft mode with production durability, secrets only from the environment."""
from __future__ import annotations

import base64
import copy
import json

import pytest
import yaml
from compose_spec import PyCompose
from typer.testing import CliRunner

from dyade.cli.main import app as cli
from dyade.service import SERVICES
from dyade.settings import Settings, normalise_db_url

from deploy_files import (DEPLOY, ROOT, SECRETS, SERVICE_NAMES, compose, compose_service_of, compose_text,
                          dyade_containers, interpolate, interpolated, known_app_vars, resolve)

DEFAULTS = Settings(_env_file=None)
KAFKA_NODES = ("kafka-1", "kafka-2", "kafka-3")
# Secrets as long as the services demand outside the embedded default (32 bytes at least).
FAKE_ENV = {name: f"test-{name.lower()}" + ("-0123456789abcdef" if name.startswith("DYADE_") else "")
            for name in SECRETS}


def test_the_compose_services_are_exactly_the_code_services_plus_the_platform():
    services = compose()["services"]
    runs = {compose_service_of(s): name for name, s in services.items() if compose_service_of(s)}
    assert set(runs) == SERVICE_NAMES, "docker-compose.yml must run each service of dyade.service.SERVICES"
    assert all(runs[n] == n for n in runs), "each compose service is named after the Dyade service it runs"
    platform = {*KAFKA_NODES, "postgres", "migrate", "topics", "kafka-exporter", "prometheus", "grafana"}
    assert set(services) == SERVICE_NAMES | platform


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_each_service_runs_its_module_on_its_settings_port_with_a_healthcheck(spec):
    svc = compose()["services"][spec.name]
    port = DEFAULTS.port_of(spec.name)
    assert svc["command"] == ["python", "-m", spec.module]
    assert svc["ports"] == [f"{port}:{port}"], f"{spec.name} listens on {spec.name.upper()}_PORT={port}"
    assert svc["healthcheck"]["test"] == ["CMD", "dyade-healthcheck", spec.name, "healthz", "--restart-after", "3"]
    assert svc["restart"] == "unless-stopped", "a service that exits (or that its healthcheck stops) comes back"
    assert svc["depends_on"] == {"migrate": {"condition": "service_completed_successfully"},
                                 "topics": {"condition": "service_completed_successfully"}}
    assert svc["environment"]["DYADE_HOST"] == "0.0.0.0", "in a container the service must listen beyond loopback"
    assert any(v.endswith(":/var/lib/dyade") for v in svc["volumes"]), "DYADE_HOME must be a volume (read-only root)"
    assert svc["read_only"] is True and svc["cap_drop"] == ["ALL"]


def test_the_one_shot_jobs_retry_on_failure_and_everything_else_restarts():
    services = compose()["services"]
    for job in ("migrate", "topics"):
        assert str(services[job]["restart"]).startswith("on-failure"), job
    for name, svc in services.items():
        if name not in ("migrate", "topics"):
            assert svc.get("restart") == "unless-stopped", name


def test_the_one_shot_jobs_are_real_dyade_commands():
    services = compose()["services"]
    assert services["migrate"]["command"] == ["dyade", "migrate"]
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["topics"]["command"] == ["dyade", "topics", "--create"]
    assert set(services["topics"]["depends_on"]) == set(KAFKA_NODES)
    runner = CliRunner()
    for args in (["migrate", "--help"], ["topics", "--help"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
    assert "--create" in runner.invoke(cli, ["topics", "--help"]).output


def test_every_variable_given_to_a_dyade_container_is_read_by_the_code():
    known = known_app_vars()
    for name, svc in dyade_containers().items():
        unknown = set(svc["environment"]) - known
        assert not unknown, f"{name}: {sorted(unknown)} are not Settings fields nor service options"


def test_secrets_are_required_from_the_environment_and_never_written_in_the_file():
    refs = interpolated(compose_text())
    for name in SECRETS:
        assert name in refs, f"{name} is not used by docker-compose.yml"
        assert all(op == ":?" for op, _ in refs[name]), f"{name} must be ${{{name}:?message}} (required, no default)"
    for name, svc in compose()["services"].items():
        for key, value in (svc.get("environment") or {}).items():
            if any(word in key for word in ("SECRET", "PASSWORD", "KEY")) and key != "KAFKA_HEAP_OPTS":
                assert str(value).startswith("${") and ":?" in str(value), f"{name}.{key} must come from .env"


def test_the_services_settings_parse_from_the_compose_environment(monkeypatch):
    svc = compose()["services"]["intake"]
    for key in list(Settings.model_fields):
        monkeypatch.delenv(key.upper(), raising=False)
    for key, value in svc["environment"].items():
        monkeypatch.setenv(key, resolve(value, FAKE_ENV))
    settings = Settings(_env_file=None)
    assert not settings.embedded_broker
    assert settings.kafka_bootstrap_servers.split(",") == [f"{n}:9092" for n in KAFKA_NODES]
    assert settings.db_url == normalise_db_url(settings.db_url)
    assert settings.db_url.startswith("postgresql+psycopg://dyade:test-postgres_password@postgres:5432/")
    assert settings.secret("dyade_pseudonym_key") == FAKE_ENV["DYADE_PSEUDONYM_KEY"]
    settings.check_secrets()
    assert settings.dyade_topic_replication == 3 and settings.dyade_topic_partitions == 6
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        resolve(svc["environment"]["DATABASE_URL"], {})


def test_kafka_runs_three_kraft_nodes_with_persistent_volumes_and_production_durability():
    services = compose()["services"]
    voters = []
    for i, name in enumerate(KAFKA_NODES, start=1):
        node = services[name]
        env = node["environment"]
        assert node["image"].startswith("apache/kafka:")
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller", "KRaft mode, no ZooKeeper"
        assert env["KAFKA_NODE_ID"] == str(i)
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{name}:9092"
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3" and env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
        assert node["volumes"] == [f"{name}-data:/var/lib/kafka/data"]
        assert env["KAFKA_LOG_DIRS"] == "/var/lib/kafka/data"
        voters.append(f"{i}@{name}:9093")
        cluster_id = resolve(env["CLUSTER_ID"], {})
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16, "CLUSTER_ID: base64 of 16 bytes"
    assert services["kafka-1"]["environment"]["KAFKA_CONTROLLER_QUORUM_VOTERS"] == ",".join(voters)
    assert services["postgres"]["volumes"] == ["postgres-data:/var/lib/postgresql/data"]
    declared = set(compose()["volumes"])
    for svc in services.values():
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith("."):
                assert source in declared, f"named volume {source} is not declared"


def test_the_consoles_mount_files_that_exist():
    services = compose()["services"]
    for name in ("prometheus", "grafana"):
        for volume in services[name]["volumes"]:
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which does not exist"
    grafana_targets = {v.split(":")[1] for v in services["grafana"]["volumes"]}
    provider = (DEPLOY / "grafana/provisioning/dashboards/dyade.yml").read_text()
    path = [line.split(":", 1)[1].strip() for line in provider.splitlines() if line.strip().startswith("path:")]
    assert path and path[0] in grafana_targets, "the dashboard provider must read the mounted dashboards folder"


def spec_check(doc: dict) -> None:
    PyCompose.from_json(json.dumps(doc)).validate()


def test_the_file_follows_the_compose_specification():
    doc = interpolate(compose(), FAKE_ENV)
    spec_check(doc)  # raises ValueError naming the offending key
    broken = copy.deepcopy(doc)
    broken["services"]["intake"]["depends_on"]["migrate"]["condition"] = "service_done"
    with pytest.raises(ValueError, match="service_completed_successfully"):
        spec_check(broken)  # the checker does reject what Compose would


def test_every_yaml_file_of_the_deployment_parses():
    files = [ROOT / "docker-compose.yml", *sorted(DEPLOY.rglob("*.yml")), *sorted(DEPLOY.rglob("*.yaml"))]
    assert len(files) > 10
    for path in files:
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
        except yaml.YAMLError as exc:
            pytest.fail(f"{path.relative_to(ROOT)}: {exc}")
        assert docs and all(isinstance(d, dict) for d in docs), f"{path.relative_to(ROOT)}: not a YAML mapping"
