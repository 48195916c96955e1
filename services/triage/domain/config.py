"""The rule set's tunable thresholds. Its version is derived from the values, so a decision always names
the exact thresholds that produced it, and changing one changes every decision id."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace
from functools import cached_property

WINDOWS_DAYS: tuple[int, ...] = (7, 30, 90, 180, 365)
RULESET_BASE = "triage-r1"


@dataclass(frozen=True)
class RulesetConfig:
    grande_utilisatrice_calls: int = 7          # crisis calls about the person in 365 days
    recurrence_calls_30d: int = 2               # calls about the person in 30 days (current one included)
    recurrence_calls_90d: int = 3               # calls about the person in 90 days
    location_calls_30d: int = 3                 # crisis calls at the location in 30 days
    decay_half_life_days: float = 30.0          # decayed score: each call weighs 0.5 ** (age / half-life)
    complexity_categories_365d: int = 2         # distinct crisis categories in 365 days
    high_risk_lookback_days: int = 365          # how far back a high-risk intervention counts
    history_max_calls: int = 100                # bound of a person's (or a location's) kept history
    history_max_days: int = 400                 # entries older than this (event time) are dropped

    @cached_property
    def version(self) -> str:
        digest = hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:8]
        return f"{RULESET_BASE}-{digest}"

    @classmethod
    def from_mapping(cls, values: dict | None) -> "RulesetConfig":
        """Build from a YAML/env mapping; unknown keys are an error (a typo must not pass silently)."""
        values = dict(values or {})
        known = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"paramètres de triage inconnus: {', '.join(unknown)} "
                             f"(connus: {', '.join(sorted(known))})")
        base = cls()
        converted = {}
        for name, raw in values.items():
            current = getattr(base, name)
            try:
                value = type(current)(raw)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"paramètre de triage {name}: valeur invalide {raw!r}") from exc
            if value <= 0:
                raise ValueError(f"paramètre de triage {name}: doit être positif (reçu {raw!r})")
            converted[name] = value
        return replace(base, **converted)
