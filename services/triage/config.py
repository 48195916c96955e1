"""Triage's own settings (env `TRIAGE_*`) and the rule set's thresholds (YAML file and/or env)."""
from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.triage.domain.config import RulesetConfig


class TriageOptions(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRIAGE_", extra="ignore")

    app_id: str = Field("dyade-triage", description="faust application id: consumer group, changelog and "
                                                    "internal topic prefix. A new id replays from the beginning.")
    rules_file: Path | None = Field(None, description="YAML file of rule-set thresholds (see RulesetConfig).")
    commit_interval: float = Field(1.0, description="Seconds between offset commits.")
    faust_log_level: str | None = Field(None, description="Log level of faust/mode/aiokafka (default: WARNING).")
    advertised_url: str | None = Field(None, description="URL other triage workers use to reach this one's API "
                                                         "(read requests are forwarded to the worker holding the "
                                                         "key). Default: http://DYADE_HOST:TRIAGE_PORT.")
    batch_max: int = Field(500, ge=1, description="Records an agent takes from its stream at once (faust's "
                                                  "take_events): states are written back once per key and batch.")
    batch_within: float = Field(0.01, gt=0, le=0.5, description="Seconds a batch waits for more records after "
                                                            "its first, once traffic is more than a trickle "
                                                            "(adapters/batching.py: a lone call waits 2 ms).")
    producer_linger: float = Field(0.01, description="Seconds the producer waits to fill a batch, under load (a "
                                                     "batch of calls that sends many records); what a lone call "
                                                     "sends goes after 1 ms (adapters/edge.py).")


def load_ruleset(options: TriageOptions, environ: dict[str, str] | None = None) -> RulesetConfig:
    """Thresholds from the YAML file, then `TRIAGE_RULE_<NAME>` env variables (e.g.
    TRIAGE_RULE_GRANDE_UTILISATRICE_CALLS=5). Unknown names or bad values raise a clear error."""
    values: dict = {}
    if options.rules_file:
        loaded = yaml.safe_load(Path(options.rules_file).read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{options.rules_file}: un objet YAML (clé: valeur) est attendu")
        values.update(loaded)
    env = os.environ if environ is None else environ
    for name, raw in env.items():
        if name.startswith("TRIAGE_RULE_"):
            values[name[len("TRIAGE_RULE_"):].lower()] = raw
    return RulesetConfig.from_mapping(values)
