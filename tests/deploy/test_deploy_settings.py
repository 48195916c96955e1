"""`.env.example` names every variable Dyade reads and nothing else; the same Settings parse for the
embedded default and for Apache Kafka + PostgreSQL: only configuration differs."""
from __future__ import annotations

import pytest

from dyade.service import SERVICES
from dyade.settings import Settings

from deploy_files import (SECRETS, compose_text, env_example, interpolated, k8s, known_app_vars,
                          service_option_vars, settings_vars)


def test_every_settings_field_is_documented_in_env_example():
    missing = settings_vars() - set(env_example())
    assert not missing, f".env.example must document {sorted(missing)} (dyade/settings.py)"


def test_every_service_option_is_documented_in_env_example():
    options = service_option_vars()
    missing = {name: options[name] for name in set(options) - set(env_example())}
    assert not missing, f".env.example must document these variables the services read: {missing}"


def test_env_example_names_nothing_the_code_or_compose_does_not_read():
    used_by_compose = set(interpolated(compose_text()))
    unknown = set(env_example()) - known_app_vars() - used_by_compose
    assert not unknown, f".env.example documents {sorted(unknown)}, which nothing reads"
    undocumented = used_by_compose - set(env_example())
    assert not undocumented, f"docker-compose.yml reads {sorted(undocumented)}: document them in .env.example"


def test_env_example_commits_no_secret_and_leaves_the_required_ones_to_fill():
    doc = env_example()
    for name in SECRETS:
        value, commented = doc[name]
        assert not commented and value == "", f"{name} must be an empty, uncommented line to fill in"


def test_commented_defaults_in_env_example_are_the_settings_defaults():
    defaults = Settings(_env_file=None)
    for name, (value, commented) in env_example().items():
        field = name.lower()
        if commented and field in Settings.model_fields and value and field not in (
                "kafka_bootstrap_servers", "database_url", "dyade_topic_partitions", "dyade_topic_replication"):
            assert str(getattr(defaults, field)) == value, f"{name}: .env.example says {value}"


EMBEDDED: dict[str, str] = {}
PRODUCTION = {
    "KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9092,kafka-2:9092,kafka-3:9092",
    "DATABASE_URL": "postgres://dyade:s3cret@postgres:5432/dyade",
    "DYADE_PSEUDONYM_KEY": "k" * 32, "DYADE_TOKEN_SECRET": "t" * 32,
    "DYADE_HOST": "0.0.0.0", "DYADE_HOME": "/var/lib/dyade",
    "DYADE_TOPIC_PARTITIONS": "6", "DYADE_TOPIC_REPLICATION": "3",
}


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in settings_vars():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env file
    return monkeypatch


@pytest.mark.parametrize("mode", ["embedded", "production"])
def test_the_same_settings_serve_the_embedded_and_the_production_mode(clean_env, tmp_path, mode):
    env = PRODUCTION if mode == "production" else {"DYADE_HOME": str(tmp_path / "home")}
    for key, value in env.items():
        clean_env.setenv(key, value)
    settings = Settings()
    if mode == "embedded":
        assert settings.embedded_broker and settings.db_url.startswith("sqlite:///")
        assert settings.dyade_topic_replication == 1
        assert settings.secret("dyade_token_secret") == settings.secret("dyade_token_secret")  # kept once
    else:
        assert not settings.embedded_broker
        assert settings.db_url == "postgresql+psycopg://dyade:s3cret@postgres:5432/dyade"
        assert settings.dyade_topic_replication == 3
        assert settings.secret("dyade_token_secret") == "t" * 32
    # What does not depend on the mode: each service's port and the services themselves.
    assert [settings.port_of(s.name) for s in SERVICES] == [8001, 8002, 8003, 8004, 8005]


def test_the_kubernetes_configmap_parses_as_settings(clean_env):
    (configmap,) = [d for d in k8s("ConfigMap") if d["metadata"]["name"] == "dyade-config"]
    assert set(configmap["data"]) <= known_app_vars(), "dyade-config holds only variables Dyade reads"
    for key, value in configmap["data"].items():
        clean_env.setenv(key, value)
    clean_env.setenv("DATABASE_URL", "postgresql://dyade:x@db:5432/dyade")
    settings = Settings()
    assert not settings.embedded_broker
    assert settings.dyade_host == "0.0.0.0"
    assert settings.dyade_topic_replication == 3
    assert not any(name in configmap["data"] for name in SECRETS + ("DATABASE_URL",)), \
        "secrets belong in the Secret dyade-secrets, not in the ConfigMap"
