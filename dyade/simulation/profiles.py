"""Scale knobs of a simulated city, the CAD code table and the daily and weekly profile of calls.

Figures, each with its source (the table is in dyade/simulation/README.md, « Calibrage »):
- Mix of calls: crisis calls (état mental perturbé, suicidaire, détresse, bien-être) ≈ 5 % of police calls,
  mental health and suicide ≈ 4.3 %. Berkeley's public call log shipped with Dyade
  (dyade/data/berkeley-2014, 3 240 lines in 15 days): 5150 Mental Health 47 + 1056 Suicide 10 + 1042
  Welfare Check 103 = 160 lines, 4.9 % of all lines (6.7 % of the calls left once the administrative codes
  the mapping skips are out); the Montréal figures the simulator was first built on give the same order
  (≈ 36 000 EMP calls out of ≈ 1 000 000 a year, 3.6 %). The domain documents give no share of calls.
- Terrebonne: about 140 000 inhabitants and about 200 police officers (interview with Nathalie
  L'Heureux, T.S., coordonnatrice aux interventions psychosociales, Service de police de Terrebonne,
  by Audrey-Anne Dumais-Michaud, UQO); 0.5 call per inhabitant gives about 70 000 calls a year. One
  citizen generated more than 65 police calls in 6 months (same interview): the extreme utiliser, and
  the cap no simulated person goes beyond (`max_calls_per_6_months`).
- The demo city: about 25 followed persons, as the ÉMIPIC of Val-d'Or follows « ~25 personnes connues »
  (fiche synthèse de pratique, CISSS de l'Abitibi-Témiscamingue, 2020): one extreme utiliser and 24
  persons at 7.5 to 30 crisis calls a year.
- High utilisers: a cohort calling at 7 crisis calls a year or more (the triage's threshold); most
  persons call once.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

from dyade.contracts.vocabulary import CallCategory, CallerRelation, Disposition, ObservedFlag

CALLS_PER_INHABITANT = 0.5  # Montréal: ~1 M calls for ~2 M inhabitants


@dataclass(frozen=True)
class Nature:
    """A family of CAD call types: its Dyade category, its share of all calls, the CAD codes that carry
    it (weighted) and how such calls look."""
    key: str
    label: str
    category: CallCategory
    share: float
    codes: tuple[tuple[str, float], ...]
    priority: tuple[int, ...]
    flags: tuple[tuple[ObservedFlag, float], ...] = ()
    callers: tuple[tuple[CallerRelation, float], ...] = ((CallerRelation.INCONNU, 1.0),)
    person_share: float = 1.0  # share of calls that name at least one person

    @cached_property
    def is_crisis(self) -> bool:
        return self.category.is_crisis and self.category != CallCategory.VIOLENCE_CONJUGALE_FAMILIALE

    # Plain strings and cumulative weights, computed once: a million calls draw from them.
    @cached_property
    def code_draw(self) -> tuple[tuple[str, ...], tuple[float, ...]]:
        return _cumulative(self.codes)

    @cached_property
    def caller_draw(self) -> tuple[tuple[str, ...], tuple[float, ...]]:
        return _cumulative(tuple((c.value, w) for c, w in self.callers))

    @cached_property
    def flag_draw(self) -> tuple[tuple[str, float], ...]:
        return tuple((f.value, p) for f, p in self.flags)


def _cumulative(weighted: tuple[tuple[str, float], ...]) -> tuple[tuple[str, ...], tuple[float, ...]]:
    values, total, cum = [], 0.0, []
    for value, w in weighted:
        total += w
        values.append(value)
        cum.append(total)
    return tuple(values), tuple(cum)


F, C = ObservedFlag, CallerRelation
# The simulator's CAD codes are those of intake's default code table (services/intake/mappings/
# default.yaml, `unknown_code: reject`); a test checks that each gives the same category there.
NATURES: tuple[Nature, ...] = (
    Nature("EMP", "État mental perturbé", CallCategory.ETAT_MENTAL_PERTURBE, 0.036,
           (("EMP", .80), ("PERS-DESORG", .12), ("P38", .08)), (2, 3, 3),
           ((F.INTOXICATION, .25), (F.MENACES, .12), (F.VIOLENCE, .10), (F.ARME, .04),
            (F.IDEES_SUICIDAIRES, .10), (F.DEMANDE_P38, .08)),
           ((C.FAMILLE, .35), (C.SOI, .12), (C.VOISIN, .15), (C.COMMERCANT, .12), (C.PASSANT, .10),
            (C.PARTENAIRE, .11), (C.AUTRE, .05))),
    Nature("SUI", "Personne suicidaire", CallCategory.SUICIDAIRE, 0.007,
           (("SUIC", .75), ("TENT-SUIC", .15), ("MENACE-SUIC", .10)), (1, 2, 2),
           ((F.IDEES_SUICIDAIRES, .70), (F.PLAN_SUICIDAIRE, .25), (F.GESTES_SUICIDAIRES, .12),
            (F.AUTOMUTILATION, .10), (F.ARME, .08), (F.INTOXICATION, .30)),
           ((C.SOI, .35), (C.FAMILLE, .35), (C.PARTENAIRE, .12), (C.VOISIN, .06), (C.AUTRE, .12))),
    Nature("DET", "Personne en détresse", CallCategory.DETRESSE, 0.004,
           (("DETR", .70), ("APPEL-AIDE", .30)), (3,),
           ((F.INTOXICATION, .15), (F.IDEES_SUICIDAIRES, .08)),
           ((C.SOI, .30), (C.FAMILLE, .25), (C.PASSANT, .20), (C.COMMERCANT, .10), (C.PARTENAIRE, .15))),
    Nature("BE", "Vérification du bien-être", CallCategory.BIEN_ETRE, 0.004,
           (("BIEN-ETRE", .60), ("PERS-VULN", .20), ("DISP", .20)), (3, 4),
           ((F.INTOXICATION, .10),),
           ((C.FAMILLE, .45), (C.VOISIN, .25), (C.PARTENAIRE, .20), (C.AUTRE, .10))),
    Nature("VCF", "Violence conjugale ou familiale", CallCategory.VIOLENCE_CONJUGALE_FAMILIALE, 0.020,
           (("VC", .70), ("VF", .30)), (1, 2, 2),
           ((F.VIOLENCE, .50), (F.MENACES, .30), (F.MENACES_DE_MORT, .08), (F.ARME, .06), (F.INTOXICATION, .30)),
           ((C.SOI, .45), (C.FAMILLE, .20), (C.VOISIN, .30), (C.AUTRE, .05))),
    Nature("DES", "Désordre, bruit, trouble la paix", CallCategory.DESORDRE_PUBLIC, 0.150,
           (("BRUIT", .45), ("DESORDRE", .30), ("TROUBLE-PAIX", .15), ("BAGARRE", .10)), (3, 4, 4),
           ((F.INTOXICATION, .35), (F.VIOLENCE, .10), (F.MENACES, .08)),
           ((C.VOISIN, .40), (C.COMMERCANT, .25), (C.PASSANT, .25), (C.AUTRE, .10)), person_share=0.35),
    Nature("AUT", "Autres appels (vol, accident, alarme, circulation...)", CallCategory.AUTRE, 0.779,
           (("VOL", .30), ("CIRCULATION", .20), ("ACCIDENT", .15), ("ALARME", .15), ("SUSPECT", .10),
            ("INTOX", .04), ("AUTRE", .06)), (2, 3, 4, 4, 5),
           ((F.ARME, .01), (F.INTOXICATION, .03)),
           ((C.SOI, .30), (C.PASSANT, .25), (C.COMMERCANT, .20), (C.VOISIN, .15), (C.AUTRE, .10)),
           person_share=0.25),
)
NATURE_BY_KEY = {n.key: n for n in NATURES}
NATURE_OF_CODE = {code: n for n in NATURES for code, _ in n.codes}
CODE_TABLE: dict[str, CallCategory] = {code: n.category for code, n in NATURE_OF_CODE.items()}
CRISIS_KEYS = tuple(n.key for n in NATURES if n.is_crisis)

DISPOSITIONS_CRISIS = (
    (Disposition.REGLE_SUR_PLACE, .38), (Disposition.TRANSPORT_VOLONTAIRE, .20), (Disposition.TRANSPORT_P38, .12),
    (Disposition.REFERE, .12), (Disposition.REFUS_AIDE, .09), (Disposition.ARRESTATION, .04),
    (Disposition.AUCUNE_INTERVENTION, .05),
)
DISPOSITIONS_AFTER_FOLLOW_UP = (  # a person followed by a dyad: fewer P-38, more referrals
    (Disposition.REGLE_SUR_PLACE, .45), (Disposition.TRANSPORT_VOLONTAIRE, .18), (Disposition.TRANSPORT_P38, .05),
    (Disposition.REFERE, .22), (Disposition.REFUS_AIDE, .05), (Disposition.ARRESTATION, .02),
    (Disposition.AUCUNE_INTERVENTION, .03),
)
DISPOSITIONS_OTHER = (
    (Disposition.REGLE_SUR_PLACE, .55), (Disposition.AUCUNE_INTERVENTION, .25), (Disposition.ARRESTATION, .08),
    (Disposition.REFERE, .04), (Disposition.AUTRE, .08),
)

# Share of calls by hour (local time), police calls overall and crisis calls: low at dawn, rising through
# the day, peaking late afternoon and evening; crisis calls stay higher late at night.
HOURLY_ALL = (2.6, 2.0, 1.6, 1.2, 1.0, 1.1, 1.8, 2.9, 3.9, 4.4, 4.7, 5.0,
              5.2, 5.3, 5.5, 5.9, 6.2, 6.2, 6.0, 5.6, 5.1, 4.6, 3.8, 3.2)
HOURLY_CRISIS = (3.4, 2.8, 2.3, 1.8, 1.4, 1.3, 1.7, 2.5, 3.4, 4.1, 4.6, 4.9,
                 5.0, 5.1, 5.2, 5.4, 5.6, 5.7, 5.7, 5.6, 5.3, 4.9, 4.4, 3.9)
# Monday = 0: Fridays and Saturdays are busier.
WEEKDAY = (0.96, 0.94, 0.96, 0.99, 1.08, 1.10, 0.97)


@dataclass(frozen=True)
class CityProfile:
    """How big the city is and how its people call. Every figure is per year."""
    name: str
    inhabitants: int
    sectors: int
    centre: tuple[float, float]
    radius_km: float
    calls_per_year: int
    extreme_utilisers: int = 1  # the person at 65 calls in 6 months
    extreme_rate: float = 130.0  # crisis calls a year
    cohort_share: float = 0.004  # persons with >= 7 crisis calls a year, per crisis call of the year
    cohort_rate: tuple[float, float] = (7.5, 30.0)
    cohort_count: int | None = None  # the cohort's size, when set (the demo: 24, ÉMIPIC's ~25 with the extreme)
    max_calls_per_6_months: int = 65  # nobody calls more (Terrebonne's extreme case: 65 in 6 months)
    repeater_share: float = 0.02  # persons at 2 to 6 crisis calls a year, per crisis call of the year
    repeater_rate: tuple[float, float] = (2.0, 6.0)
    natures: tuple[Nature, ...] = field(default=NATURES)

    @property
    def crisis_calls_per_year(self) -> float:
        return self.calls_per_year * sum(n.share for n in self.natures if n.is_crisis)

    @property
    def cohort_size(self) -> int:
        if self.cohort_count is not None:
            return self.cohort_count
        return max(3, round(self.crisis_calls_per_year * self.cohort_share))

    @property
    def followed_persons(self) -> int:
        """The persons a team like the ÉMIPIC follows: the extreme utilisers and the cohort."""
        return self.extreme_utilisers + self.cohort_size

    @property
    def repeater_count(self) -> int:
        return max(5, round(self.crisis_calls_per_year * self.repeater_share))

    def scaled(self, calls_per_year: int) -> "CityProfile":
        return replace(self, calls_per_year=calls_per_year)


PROFILES: dict[str, CityProfile] = {
    # 40 000 inhabitants at 0.5 call each; 25 followed persons (ÉMIPIC); the extreme one at 120 a year
    # (60 in 6 months on average, never more than 65)
    "demo": CityProfile("Ville-Démo", 40_000, 4, (45.6995, -73.6470), 4.0, 20_000, extreme_rate=120.0,
                        cohort_count=24),
    "terrebonne": CityProfile("Terrebonne", 140_000, 4, (45.6995, -73.6470), 7.0,
                              round(140_000 * CALLS_PER_INHABITANT)),
    "montreal": CityProfile("Montréal", 2_000_000, 12, (45.5017, -73.5673), 12.0, 1_000_000),
}
