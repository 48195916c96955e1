"""Intake settings (environment, prefix INTAKE_), beside the shared `dyade.settings.Settings`."""
from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class IntakeConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", env_file=".env", extra="ignore")

    lookups_per_minute: int = Field(
        30, ge=1, le=10_000,
        description="Look-ups of a person by name and birth date (POST /v1/persons/resolve) one reader (the token's "
                    "subject) may make in any minute; beyond, 429 with Retry-After. Each intake process counts "
                    "its own.")
