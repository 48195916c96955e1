"""When a new call joins an open alert (alert fatigue) and when it must page anew.

A call joins an open alert only when
- the alert is an open call alert (`appel`) about the same call or the same person,
- in the **same sector** (an unknown sector only matches the same call with no sector either), and
- at the **same holder**: the dyad holding it is still on duty; a fallback or supervisor holds it while
  no dyad is free for the new call; a deferred alert while the new call would be deferred too.

Joining is then silent (the alert is updated, the app shows the new call, nobody is paged) unless the
call is more serious (severity.why_page_anew): higher level, a new critical factor, or an urgent call
while the alert is snoozed or deferred. Then the same alert **pages anew** at the same holder (un-snoozed,
`escalated`, the escalation clock running again). So a silent merge never raises an alert's level, an
alert never moves across sectors or holders by merging, and its level never goes down.

Otherwise the call gets a new alert, routed on its own.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dyade.contracts.vocabulary import AlertKind, AlertState as S, TriageLevel

from services.notifier.domain.lifecycle import OPEN
from services.notifier.domain.routing import ON_CALL, SUPERVISOR, Outcome, Route
from services.notifier.domain.severity import Severity, why_page_anew


class Action(StrEnum):
    NEW = "new"          # a new alert, routed on its own
    MERGE = "merged"     # the open alert is updated silently
    REPAGE = "repaged"   # the open alert is updated and pages anew at the same holder


@dataclass(frozen=True)
class OpenAlert:
    state: S
    sector: str | None
    level: TriageLevel | None
    dyad_id: str | None
    target: str | None
    call_ids: frozenset[str]
    factors: frozenset[str]
    kind: str = AlertKind.APPEL.value


@dataclass(frozen=True)
class Incoming:
    call_id: str
    sector: str | None
    severity: Severity


@dataclass(frozen=True)
class Plan:
    action: Action
    why: str = ""


def same_sector(alert_sector: str | None, call_sector: str | None, *, same_call: bool) -> bool:
    if alert_sector is None or call_sector is None:
        return same_call and alert_sector is None and call_sector is None
    return alert_sector == call_sector


def eligible(alert: OpenAlert, call: Incoming) -> bool:
    return (alert.kind == AlertKind.APPEL.value and S(alert.state) in OPEN
            and same_sector(alert.sector, call.sector, same_call=call.call_id in alert.call_ids))


def same_holder(alert: OpenAlert, *, holder_on_duty: bool, fresh: Route) -> bool:
    """Would the new call reach the human who holds the alert? `fresh`: the new call's own route."""
    if alert.dyad_id:
        return holder_on_duty
    if S(alert.state) == S.DEFERRED:
        return fresh.outcome == Outcome.DEFERRED
    if alert.target:   # a fallback holder: the same one, or the supervisor the on-call worker escalated to —
        # never another (a weapon call at night is the patrol supervisor's, whoever holds the person's alert)
        same = fresh.target in (None, alert.target) or (alert.target == SUPERVISOR and fresh.target == ON_CALL)
        return fresh.dyad_id is None and fresh.outcome != Outcome.DEFERRED and same
    return False


def plan(alert: OpenAlert | None, call: Incoming, *, holder_on_duty: bool, fresh: Route) -> Plan:
    if alert is None or not eligible(alert, call):
        return Plan(Action.NEW, "aucune alerte ouverte de ce secteur pour cet appel ou cette personne")
    if not same_holder(alert, holder_on_duty=holder_on_duty, fresh=fresh):
        return Plan(Action.NEW, "l'alerte ouverte est chez une autre personne que celle qui doit recevoir l'appel")
    why = why_page_anew(alert_level=alert.level, alert_factors=alert.factors, alert_calls=alert.call_ids,
                        alert_waiting=S(alert.state) in (S.SNOOZED, S.DEFERRED), call_id=call.call_id,
                        call=call.severity)
    if why:
        return Plan(Action.REPAGE, why)
    return Plan(Action.MERGE, "même appel" if call.call_id in alert.call_ids else "appel lié (même personne)")
