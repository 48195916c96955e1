"""How serious a call is for the notifier: its triage level (ordered as in TriageLevel) and what its
reasons say. The reason `factor` ids are triage's danger rules (services/triage/domain/rules.py); the
notifier keeps its own copy of the few ids it acts on (a test checks they still exist in triage).

- **critical**: a present danger that must page anew even through a snooze or an open alert: officer
  safety, imminent danger, a weapon, a suicidal plan or act.
- **must not wait**: never deferred to the next shift: critical, or any suicidal sign (ideation too, or a
  call categorised `suicidaire`), or a decision whose danger level is imminent.
- **must reach** a human within the escalation delay: level `dyade_prioritaire` or higher, or must not wait.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from dyade.contracts.vocabulary import TriageLevel

LEVEL_ORDER = (TriageLevel.ROUTINE, TriageLevel.DYADE_SUGGEREE, TriageLevel.DYADE_PRIORITAIRE,
               TriageLevel.SECURITE_POLICIERS)

WEAPON = frozenset({"danger.arme"})
OFFICER_SAFETY = frozenset({"danger.arme", "danger.menaces_de_mort", "danger.violence", "danger.homicide_conjugal"})
IMMINENT = frozenset({"danger.arme", "danger.menaces_de_mort", "danger.gestes_suicidaires", "danger.plan_suicidaire",
                      "danger.demande_p38"})
SUICIDAL_PLAN_OR_ACT = frozenset({"danger.plan_suicidaire", "danger.gestes_suicidaires"})
SUICIDAL = SUICIDAL_PLAN_OR_ACT | {"danger.idees_suicidaires"}
# Officer-safety rules about the past (an earlier high-risk intervention) or the frame: context, not a
# present danger; they do not page anew (a person's every call would otherwise break through a snooze).
HISTORICAL = frozenset({"danger.haut_risque_anterieur", "danger.fiche"})
CRITICAL = OFFICER_SAFETY | IMMINENT | WEAPON | SUICIDAL_PLAN_OR_ACT
IMMINENT_MARK = "(danger imminent)"  # triage's label suffix when a rule fired as imminent (e.g. homicide risk + weapon)
SUICIDAL_CATEGORY = "suicidaire"


def level_rank(level: TriageLevel | str | None) -> int:
    return LEVEL_ORDER.index(TriageLevel(level)) if level else -1


def higher(a: TriageLevel | str | None, b: TriageLevel | str | None) -> bool:
    """Is level `a` strictly more serious than level `b`?"""
    return level_rank(a) > level_rank(b)


def max_level(a: TriageLevel | str | None, b: TriageLevel | str | None) -> TriageLevel | None:
    if a is None and b is None:
        return None
    return TriageLevel(a if level_rank(a) >= level_rank(b) else b)


@dataclass(frozen=True)
class Severity:
    level: TriageLevel
    factors: frozenset[str] = frozenset()
    imminent: bool = False     # the decision's danger level is imminent, or a rule fired as imminent
    suicidal: bool = False

    @property
    def critical(self) -> frozenset[str]:
        """The factors that page anew (officer safety, imminent danger, weapon, suicidal plan or act)."""
        return self.factors & CRITICAL

    @property
    def must_not_wait(self) -> bool:
        """Never deferred to the next shift's list."""
        return bool(self.critical) or self.suicidal or self.imminent

    @property
    def must_reach(self) -> bool:
        """Must reach a human within the escalation delay: never deferred, never absorbed by a snooze."""
        return level_rank(self.level) >= level_rank(TriageLevel.DYADE_PRIORITAIRE) or self.must_not_wait


def assess(level: TriageLevel | str, reasons: Iterable[tuple[str, str]] = (), *, danger_level: str | None = None,
           category: str | None = None) -> Severity:
    """`reasons`: (factor, label) pairs as triage sent them."""
    pairs = list(reasons)
    factors = frozenset(f for f, _ in pairs)
    imminent = danger_level == "imminent" or bool(factors & IMMINENT) or any(IMMINENT_MARK in (l or "") for _, l in pairs)
    suicidal = bool(factors & SUICIDAL) or category == SUICIDAL_CATEGORY
    return Severity(TriageLevel(level), factors, imminent, suicidal)


def why_page_anew(*, alert_level: TriageLevel | str | None, alert_factors: frozenset[str], alert_calls: frozenset[str],
                  alert_waiting: bool, call_id: str, call: Severity) -> str | None:
    """Why a call joining an open alert must page again (French, for the alert's history), or None when it
    may update the alert silently. `alert_waiting`: the alert is snoozed or deferred (nobody is on it now)."""
    if higher(call.level, alert_level):
        return f"appel plus grave ({call.level.value})"
    new_critical = call.critical - alert_factors if call_id in alert_calls else call.critical
    if new_critical:
        return "danger: " + ", ".join(sorted(f.removeprefix("danger.") for f in new_critical))
    if alert_waiting and call.must_reach and call_id not in alert_calls:
        return "appel urgent pendant la mise en veille"
    return None
