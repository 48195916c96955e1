"""Configuration from the environment (or a `.env` file). Every service reads the same settings."""
from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    kafka_bootstrap_servers: str | None = Field(
        None, description="Kafka bootstrap servers (host:port,...). Unset: `dyade up` starts the embedded Tansu broker.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL. Unset: SQLite file under DYADE_HOME.")
    dyade_home: Path = Field(Path("var"), description="Where the embedded defaults keep files (SQLite, secrets, logs).")
    dyade_pseudonym_key: str | None = Field(
        None, description="Secret key of the pseudonymous person keys (HMAC). Unset: generated once under DYADE_HOME.")
    dyade_token_secret: str | None = Field(
        None, description="Secret that signs API bearer tokens (HS256). Unset: generated once under DYADE_HOME.")
    dyade_log_level: str = Field("INFO", description="Log level of every service.")
    dyade_language: str = Field("fr", description="Default language of user-facing text (fr or en).")
    dyade_host: str = Field("127.0.0.1", description="Interface the services listen on.")
    intake_port: int = Field(8001, description="HTTP port of intake.")
    triage_port: int = Field(8002, description="HTTP port of triage.")
    infosocial_port: int = Field(8003, description="HTTP port of info-social.")
    notifier_port: int = Field(8004, description="HTTP port of the notifier and field app.")
    analytics_port: int = Field(8005, description="HTTP port of analytics and the admin dashboard.")
    dyade_topic_partitions: int = Field(3, description="Partitions for topics Dyade creates.")
    dyade_topic_replication: int = Field(1, description="Replication factor for topics Dyade creates (3 in production).")

    @property
    def embedded_broker(self) -> bool:
        return not self.kafka_bootstrap_servers

    @property
    def db_url(self) -> str:
        if self.database_url:
            return normalise_db_url(self.database_url)
        self.dyade_home.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.dyade_home / 'dyade.db').resolve()}"

    def secret(self, name: str) -> str:
        """A configured secret, or one generated once and kept under DYADE_HOME (embedded default)."""
        value = getattr(self, name)
        if value:
            return value
        path = self.dyade_home / "secrets" / name
        if path.exists():
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(32)
        path.write_text(value)
        path.chmod(0o600)
        return value

    def port_of(self, service: str) -> int:
        return getattr(self, f"{service}_port")

    def url_of(self, service: str) -> str:
        return f"http://{self.dyade_host}:{self.port_of(service)}"


def normalise_db_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


@lru_cache
def get_settings() -> Settings:
    """The settings of a command. KAFKA_BOOTSTRAP_SERVERS unset: the embedded broker of the `dyade up`
    running for this DYADE_HOME, if any (DYADE_HOME/run.json, see dyade/runfile.py)."""
    settings = Settings()
    if not settings.kafka_bootstrap_servers:
        from dyade.runfile import bootstrap_servers
        running = bootstrap_servers(settings.dyade_home)
        if running:
            settings = settings.model_copy(update={"kafka_bootstrap_servers": running})
    return settings
