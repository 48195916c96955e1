"""Configuration from the environment (or a `.env` file). Every service reads the same settings."""
from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from dyade.files import create_secret, private_dir

# Outside the embedded default, a configured secret (HMAC and HS256 keys) has at least this many bytes.
MIN_SECRET_BYTES = 32
SECRETS = ("dyade_token_secret", "dyade_pseudonym_key")


class SettingsError(ValueError):
    """A setting Dyade refuses to start with; the message (French) says which and what to do."""


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
    dyade_timezone: str = Field(
        "America/Montreal", description="The organisation's time zone (IANA name): the times, days, weeks, "
                                        "months and shifts people read. Instants are stored in UTC.")
    dyade_host: str = Field("127.0.0.1", description="Interface the services listen on.")
    dyade_forwarded_allow_ips: str = Field(
        "127.0.0.1", description="Addresses or networks (comma-separated, e.g. 10.0.0.0/8) of the TLS proxies in "
                                 "front of the services: their X-Forwarded-Proto and X-Forwarded-For are believed "
                                 "(the sign-in cookie is then Secure), nobody else's. `*` believes any peer.")
    intake_port: int = Field(8001, description="HTTP port of intake.")
    triage_port: int = Field(8002, description="HTTP port of triage.")
    infosocial_port: int = Field(8003, description="HTTP port of info-social.")
    notifier_port: int = Field(8004, description="HTTP port of the notifier and field app.")
    analytics_port: int = Field(8005, description="HTTP port of analytics and the admin dashboard.")
    dyade_topic_partitions: int = Field(3, description="Partitions for topics Dyade creates.")
    dyade_topic_replication: int = Field(1, description="Replication factor for topics Dyade creates (3 in production).")
    dyade_token_max_hours: int = Field(
        12, ge=1, description="Longest life of a person's token (one shift), in hours.")
    dyade_token_max_hours_system: int = Field(
        720, ge=1, description="Longest life of a system's token (role dispatch: the CAD), in hours.")
    dyade_webhook_allow_http: bool = Field(
        False, description="Accept http:// webhooks outside the embedded default (https:// otherwise).")
    dyade_embedded: bool = Field(
        False, description="Set by `dyade up` for the services it starts on the embedded default (no Kafka, no "
                           "database configured); not to be set by hand.")

    @property
    def embedded_broker(self) -> bool:
        return not self.kafka_bootstrap_servers

    @property
    def embedded(self) -> bool:
        """The embedded default: neither KAFKA_BOOTSTRAP_SERVERS nor DATABASE_URL configured (the services
        `dyade up` starts on it are told by DYADE_EMBEDDED, their broker and database being given to them)."""
        return self.dyade_embedded or (not self.kafka_bootstrap_servers and not self.database_url)

    def check_secrets(self) -> None:
        """At a service's start: outside the embedded default, a configured secret of fewer than 32 bytes is
        refused (a short HS256 secret lets anyone forge tokens; a short pseudonym key lets anyone recompute
        person keys from names)."""
        if self.embedded:
            return
        for name in SECRETS:
            value = getattr(self, name)
            if value and len(value.encode()) < MIN_SECRET_BYTES:
                raise SettingsError(
                    f"{name.upper()} est trop court ({len(value.encode())} octets) : il en faut au moins "
                    f"{MIN_SECRET_BYTES} hors du mode embarqué. Générez-en un avec "
                    f"python3 -c \"import secrets; print(secrets.token_urlsafe(48))\"")

    def home(self) -> Path:
        """DYADE_HOME, created readable by its owner only (0700)."""
        return private_dir(self.dyade_home)

    @property
    def db_url(self) -> str:
        if self.database_url:
            return normalise_db_url(self.database_url)
        return f"sqlite:///{(self.home() / 'dyade.db').resolve()}"  # the file is made 0600 by dyade.db

    def secret(self, name: str) -> str:
        """A configured secret, or one generated once and kept under DYADE_HOME (embedded default)."""
        value = getattr(self, name)
        if value:
            return value
        path = self.home() / "secrets" / name
        if not path.exists():
            create_secret(path, secrets.token_urlsafe(32).encode())  # 0600 from the start; first process wins
        return path.read_text().strip()

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
