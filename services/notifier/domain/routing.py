"""Who gets an alert: the on-duty dyad of the call's sector, else the nearest available one (the
sector's neighbours, nearest first: a dyad is not sent across the territory); busy dyads are skipped. Nobody on duty → the level's after-hours
policy (a fallback such as the on-call social worker, or the next morning's list). On duty but all
busy → missed for capacity, which the program counts."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from dyade.contracts.vocabulary import TriageLevel

from services.notifier.domain.roster import Adjacency, Dyad

LEVEL_ORDER = (TriageLevel.ROUTINE, TriageLevel.DYADE_SUGGEREE, TriageLevel.DYADE_PRIORITAIRE,
               TriageLevel.SECURITE_POLICIERS)


def level_rank(level: TriageLevel | str | None) -> int:
    return LEVEL_ORDER.index(TriageLevel(level)) if level else -1


def alerts_dyad(level: TriageLevel) -> bool:
    """A call alerts a dyad when its triage level is `dyade_suggeree` or higher (cross-service agreement)."""
    return level_rank(level) >= level_rank(TriageLevel.DYADE_SUGGEREE)


class Outcome(StrEnum):
    DYAD = "dyad"                  # assigned to an on-duty, free dyad
    FALLBACK = "fallback"          # outside hours: the level's fallback (garde sociale, superviseur...)
    DEFERRED = "deferred"          # outside hours: next morning's follow-up list
    MISSED = "missed_for_capacity"  # dyads on duty, none free
    SUPERVISOR = "supervisor"      # escalation found no other dyad


@dataclass(frozen=True)
class AfterHours:
    """Per level: a fallback target name, or None for the next morning's list."""
    by_level: dict[str, str | None] = field(default_factory=lambda: {
        TriageLevel.DYADE_SUGGEREE.value: None,
        TriageLevel.DYADE_PRIORITAIRE.value: "garde_sociale",
        TriageLevel.SECURITE_POLICIERS.value: "superviseur_patrouille",
    })

    def target(self, level: TriageLevel) -> str | None:
        return self.by_level.get(TriageLevel(level).value)


@dataclass(frozen=True)
class Route:
    outcome: Outcome
    dyad_id: str | None = None
    target: str | None = None
    reason: str = ""


def reachable_sectors(sector: str | None, adjacency: Adjacency) -> list[str]:
    """The call's sector then its neighbours, nearest first."""
    out = [sector] if sector else []
    for s in adjacency.of(sector):
        if s not in out:
            out.append(s)
    return out


def candidates(sector: str | None, dyads: list[Dyad], adjacency: Adjacency) -> list[Dyad]:
    """Dyads of the call's sector and its neighbours, ordered by nearness."""
    rank = {s: i for i, s in enumerate(reachable_sectors(sector, adjacency))}
    return sorted((d for d in dyads if d.sector in rank), key=lambda d: (rank[d.sector], d.dyad_id))


def route(*, sector: str | None, level: TriageLevel, at: datetime, dyads: list[Dyad], busy: set[str],
          adjacency: Adjacency, after_hours: AfterHours, exclude: frozenset[str] = frozenset(),
          escalating: bool = False) -> Route:
    on_duty = [d for d in candidates(sector, dyads, adjacency) if d.on_duty(at)]
    for d in on_duty:
        if d.dyad_id in exclude or d.dyad_id in busy:
            continue
        where = "du secteur" if d.sector == sector else f"la plus proche (secteur {d.sector})"
        return Route(Outcome.DYAD, dyad_id=d.dyad_id, reason=f"dyade {where} en service")
    if escalating:
        return Route(Outcome.SUPERVISOR, target="superviseur", reason="aucune autre dyade disponible")
    if on_duty:
        return Route(Outcome.MISSED, reason=f"{len(on_duty)} dyade(s) en service, toutes occupées")
    if not sector:
        return Route(Outcome.FALLBACK, target="superviseur", reason="secteur de l'appel inconnu")
    target = after_hours.target(level)
    if target:
        return Route(Outcome.FALLBACK, target=target, reason=f"hors des heures de l'équipe: {target}")
    return Route(Outcome.DEFERRED, reason="hors des heures de l'équipe: liste de suivi du matin")
