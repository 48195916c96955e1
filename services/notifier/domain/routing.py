"""Who gets an alert: the on-duty dyad of the call's sector, else the nearest available one (the
sector's neighbours, nearest first: a dyad is not sent across the territory); busy dyads are skipped. Nobody on duty → the level's after-hours
policy (a fallback such as the on-call social worker, or the next shift's list). On duty but all
busy → missed for capacity, which the program counts; a call that must reach someone then goes to the
supervisor at once."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from dyade.contracts.vocabulary import TriageLevel

from services.notifier.domain.roster import Adjacency, Dyad
from services.notifier.domain.severity import LEVEL_ORDER, level_rank  # noqa: F401 (re-exported)

SUPERVISOR = "superviseur"
ON_CALL = "garde_sociale"


def alerts_dyad(level: TriageLevel) -> bool:
    """A call alerts a dyad when its triage level is `dyade_suggeree` or higher (cross-service agreement)."""
    return level_rank(level) >= level_rank(TriageLevel.DYADE_SUGGEREE)


class Outcome(StrEnum):
    DYAD = "dyad"                  # assigned to an on-duty, free dyad
    FALLBACK = "fallback"          # outside hours: the level's fallback (garde sociale, superviseur...)
    DEFERRED = "deferred"          # outside hours: next morning's follow-up list
    MISSED = "missed_for_capacity"  # dyads on duty, none free
    SUPERVISOR = "supervisor"      # escalation found no other dyad


class NotDeferrable(ValueError):
    pass


@dataclass(frozen=True)
class AfterHours:
    """The deferral policy, per level, outside team hours (nobody on duty in reach).

    `deferrable`: the levels whose calls may wait for the next shift's list. Only `dyade_suggeree` can be
    deferrable: a level from `dyade_prioritaire` up must reach someone at once (ValueError otherwise).
    `by_level`: the fallback target of a level when its call does not wait (None/'' = `on_call`).
    `on_call`: the on-call fallback, for a call that must not wait (suicidal or imminent danger) although
    its level is deferrable, and for a level without a target of its own."""
    by_level: dict[str, str | None] = field(default_factory=lambda: {
        TriageLevel.DYADE_SUGGEREE.value: None,
        TriageLevel.DYADE_PRIORITAIRE.value: ON_CALL,
        TriageLevel.SECURITE_POLICIERS.value: "superviseur_patrouille",
    })
    deferrable: frozenset[str] = frozenset({TriageLevel.DYADE_SUGGEREE.value})
    on_call: str = ON_CALL

    def __post_init__(self) -> None:
        too_serious = sorted(l for l in self.deferrable if level_rank(l) >= level_rank(TriageLevel.DYADE_PRIORITAIRE))
        if too_serious:
            raise NotDeferrable(f"niveau(x) jamais reportable(s): {', '.join(too_serious)} (appel à joindre sans délai)")
        if not self.on_call:
            raise NotDeferrable("une cible de garde (on_call) est requise")

    def defers(self, level: TriageLevel | str, *, must_not_wait: bool = False) -> bool:
        return TriageLevel(level).value in self.deferrable and not must_not_wait

    def target(self, level: TriageLevel | str, *, must_not_wait: bool = False) -> str | None:
        """The fallback outside hours, or None: the call waits for the next shift's list."""
        if self.defers(level, must_not_wait=must_not_wait):
            return None
        return self.by_level.get(TriageLevel(level).value) or self.on_call


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
          escalating: bool = False, must_not_wait: bool = False, must_reach: bool = False) -> Route:
    """`must_not_wait`: never deferred (suicidal, imminent danger). `must_reach`: all dyads busy sends it
    to the supervisor at once (the outcome stays `missed_for_capacity`, which the program counts)."""
    on_duty = [d for d in candidates(sector, dyads, adjacency) if d.on_duty(at)]
    for d in on_duty:
        if d.dyad_id in exclude or d.dyad_id in busy:
            continue
        where = "du secteur" if d.sector == sector else f"la plus proche (secteur {d.sector})"
        return Route(Outcome.DYAD, dyad_id=d.dyad_id, reason=f"dyade {where} en service")
    if escalating:
        return Route(Outcome.SUPERVISOR, target=SUPERVISOR, reason="aucune autre dyade disponible")
    if on_duty:
        busy_all = f"{len(on_duty)} dyade(s) en service, toutes occupées"
        if must_reach or must_not_wait:
            return Route(Outcome.MISSED, target=SUPERVISOR, reason=f"{busy_all}; appel urgent: superviseur·e")
        return Route(Outcome.MISSED, reason=busy_all)
    if not sector:
        return Route(Outcome.FALLBACK, target=SUPERVISOR, reason="secteur de l'appel inconnu")
    target = after_hours.target(level, must_not_wait=must_not_wait)
    if target:
        why = "appel urgent, " if must_not_wait and after_hours.defers(level) else ""
        return Route(Outcome.FALLBACK, target=target, reason=f"hors des heures de l'équipe: {why}{target}")
    return Route(Outcome.DEFERRED, reason="hors des heures de l'équipe: liste de suivi du prochain quart")
