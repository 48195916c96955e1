"""The rule set's tunable thresholds. Its version is derived from them *and* from the weights, rules and
level logic (version.py), so a decision always names exactly what produced it, and changing any of them
changes every decision id."""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from functools import cached_property

from dyade.contracts.program import GRANDE_UTILISATRICE_CALLS

WINDOWS_DAYS: tuple[int, ...] = (7, 30, 90, 180, 365)  # civil days, Québec time (recurrence.py)


@dataclass(frozen=True)
class RulesetConfig:
    grande_utilisatrice_calls: int = GRANDE_UTILISATRICE_CALLS  # crisis calls about the person in 365 days
    recurrence_calls_30d: int = 2               # calls about the person in 30 days (current one included)
    recurrence_calls_90d: int = 3               # calls about the person in 90 days
    location_calls_30d: int = 3                 # crisis calls at the location in 30 days
    decay_half_life_days: float = 30.0          # decayed score: each call weighs 0.5 ** (age / half-life)
    complexity_categories_365d: int = 2         # distinct crisis categories in 365 days
    high_risk_lookback_days: int = 365          # how far back a high-risk intervention counts
    history_max_calls: int = 100                # calls kept in detail per subject (older: counts per day)
    history_max_days: int = 400                 # entries older than this (event time) are dropped

    @cached_property
    def version(self) -> str:
        """`triage-r2-<hash>` of the thresholds, weights and deciding code (see version.py)."""
        from services.triage.domain.version import ruleset_version  # imports the deciding modules
        return ruleset_version(self)

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
