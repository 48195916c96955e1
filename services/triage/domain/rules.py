"""Danger rules: what was observed on the call (or noted in the person's frame) and what it means.

Each rule has an id, a French label, a weight, whether it signals *imminent* or *foreseeable* danger,
whether it concerns the officers' own safety, and the source it comes from. The rules only read
observations the call-taker or officer recorded (flags, category, earlier outcomes); no clinical
instrument that needs a professional's judgment is turned into a score here — C-SSRS and the
lethality-assessment literature are cited for *which observations* mean imminence, not scored.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from dyade.contracts.vocabulary import DangerLevel

TERREBONNE = ("Service de police de Terrebonne, entrevue avec la coordonnatrice aux interventions "
              "psychosociales (UQO, « Entretien avec Nathalie L'Heureux, T.S. »): critères de la référence sociale")
CSSRS = ("Columbia Suicide Severity Rating Scale (C-SSRS), version dépistage: idéation avec plan ou "
         "intention, ou comportement suicidaire récent ⇒ risque élevé, intervention immédiate")
LETHALITY = ("Indicateurs de létalité en violence conjugale (Campbell, Danger Assessment 2003; "
             "Lethality Assessment Program, Maryland): arme, menaces de mort, escalade de la violence")
P38 = ("Loi sur la protection des personnes dont l'état mental présente un danger pour elles-mêmes ou "
       "pour autrui (RLRQ c. P-38.001), art. 8: danger grave et immédiat")
FRAME = "Fiche Info-social de la personne (risques notés par l'intervenante sociale)"


@dataclass(frozen=True)
class Context:
    """What a danger rule may look at."""
    flags: frozenset[str]
    category: str
    earlier_high_risk: tuple[str, ...]     # earlier calls marking a high-risk intervention
    earlier_vcf_calls: int                 # earlier domestic-violence calls about the person, 365 days
    frame_risks: int                       # risks noted in the active frame


@dataclass(frozen=True)
class DangerRule:
    id: str
    label: str
    weight: float
    imminent: bool
    officer_safety: bool
    source: str
    test: Callable[[Context], str | None]  # what was observed, or None when the rule does not apply
    aggravating_only: bool = False         # adds to the score but never sets a danger level by itself


def _flag(name: str, observed: str) -> Callable[[Context], str | None]:
    return lambda c: observed if name in c.flags else None


def _homicide_risk(c: Context) -> str | None:
    if c.category != "violence_conjugale_familiale":
        return None
    signs = sorted(c.flags & {"arme", "menaces_de_mort", "violence"})
    if signs:
        return "violence conjugale/familiale avec " + ", ".join(signs)
    if c.earlier_vcf_calls >= 1:
        return f"violence conjugale/familiale répétée ({c.earlier_vcf_calls + 1} appels en 365 jours)"
    return None


def _homicide_imminent(c: Context) -> bool:
    return bool(c.flags & {"arme", "menaces_de_mort"})


def _earlier_high_risk(c: Context) -> str | None:
    n = len(c.earlier_high_risk)
    return f"{n} intervention(s) antérieure(s) à haut risque" if n else None


def _frame_risk(c: Context) -> str | None:
    return f"{c.frame_risks} risque(s) noté(s) dans la fiche" if c.frame_risks else None


RULES: tuple[DangerRule, ...] = (
    DangerRule("danger.arme", "Arme mentionnée ou vue", 1.0, True, True, LETHALITY + "; " + TERREBONNE,
               _flag("arme", "arme signalée")),
    DangerRule("danger.menaces_de_mort", "Menaces de mort", 0.9, True, True, LETHALITY,
               _flag("menaces_de_mort", "menaces de mort signalées")),
    DangerRule("danger.violence", "Violence envers autrui", 0.6, False, True, TERREBONNE,
               _flag("violence", "violence signalée")),
    DangerRule("danger.menaces", "Menaces", 0.4, False, False, TERREBONNE, _flag("menaces", "menaces signalées")),
    DangerRule("danger.gestes_suicidaires", "Gestes suicidaires (comportement)", 1.0, True, False, CSSRS,
               _flag("gestes_suicidaires", "gestes suicidaires signalés")),
    DangerRule("danger.plan_suicidaire", "Idées suicidaires avec plan", 0.9, True, False, CSSRS,
               _flag("plan_suicidaire", "plan suicidaire signalé")),
    DangerRule("danger.idees_suicidaires", "Idées suicidaires sans plan", 0.5, False, False, CSSRS,
               _flag("idees_suicidaires", "idées suicidaires signalées")),
    DangerRule("danger.automutilation", "Automutilation", 0.5, False, False, CSSRS,
               _flag("automutilation", "automutilation signalée")),
    DangerRule("danger.demande_p38", "Demande d'application de la loi P-38", 0.8, True, False, P38,
               _flag("demande_p38", "demande P-38")),
    DangerRule("danger.homicide_conjugal", "Risque d'homicide conjugal ou familial", 0.9, False, True,
               LETHALITY + "; " + TERREBONNE, _homicide_risk),
    DangerRule("danger.haut_risque_anterieur", "Intervention policière antérieure à haut risque", 0.4, False, True,
               TERREBONNE, _earlier_high_risk),
    DangerRule("danger.intoxication", "Intoxication", 0.3, False, False, TERREBONNE,
               _flag("intoxication", "intoxication signalée"), aggravating_only=True),
    DangerRule("danger.fiche", "Risque noté dans la fiche Info-social", 0.4, False, False, FRAME, _frame_risk),
)


@dataclass(frozen=True)
class Fired:
    rule: DangerRule
    observed: str
    imminent: bool


def evaluate(ctx: Context) -> list[Fired]:
    fired = []
    for rule in RULES:
        observed = rule.test(ctx)
        if observed is None:
            continue
        imminent = rule.imminent or (rule.id == "danger.homicide_conjugal" and _homicide_imminent(ctx))
        fired.append(Fired(rule, observed, imminent))
    return fired


def danger_level(fired: list[Fired]) -> DangerLevel:
    if any(f.imminent for f in fired):
        return DangerLevel.IMMINENT
    if any(not f.rule.aggravating_only for f in fired):
        return DangerLevel.PREVISIBLE
    return DangerLevel.AUCUN


def danger_score(fired: list[Fired]) -> float:
    return round(min(1.0, sum(f.rule.weight for f in fired)), 4)
