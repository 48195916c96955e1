"""The label catalogue: the words people read instead of the vocabulary's codes, French first, English
available — one place, so the dyad's card, triage's explanation, the social worker's desk and the director's
dashboard say the same thing. Worded as the practice words them (the référence sociale form for criteria;
« P-38 » is the Loi sur la protection des personnes dont l'état mental présente un danger pour
elles-mêmes ou pour autrui). Pure: no I/O."""
from __future__ import annotations

from enum import StrEnum

from dyade.contracts.vocabulary import (
    CRITERION_LABELS, CallCategory, Criterion, DangerLevel, Disposition, ObservedFlag, ReferralStatus, ReferrerType,
    TriageLevel,
)

__all__ = ["CATALOGUE", "label", "labels", "choices"]

Pair = tuple[str, str]

CATALOGUE: dict[type[StrEnum], dict[StrEnum, Pair]] = {
    CallCategory: {
        CallCategory.ETAT_MENTAL_PERTURBE: ("État mental perturbé", "Disturbed mental state"),
        CallCategory.SUICIDAIRE: ("Personne suicidaire", "Suicidal person"),
        CallCategory.VIOLENCE_CONJUGALE_FAMILIALE: ("Violence conjugale ou familiale", "Domestic or family violence"),
        CallCategory.DETRESSE: ("Détresse", "Distress"),
        CallCategory.DESORDRE_PUBLIC: ("Désordre public", "Public disorder"),
        CallCategory.BIEN_ETRE: ("Vérification du bien-être", "Welfare check"),
        CallCategory.AUTRE: ("Autre", "Other"),
    },
    Disposition: {
        Disposition.REGLE_SUR_PLACE: ("Réglé sur place", "Resolved on site"),
        Disposition.TRANSPORT_VOLONTAIRE: ("Transport volontaire", "Voluntary transport"),
        Disposition.TRANSPORT_P38: ("Transport P-38 (non volontaire)", "P-38 transport (involuntary)"),
        Disposition.ARRESTATION: ("Arrestation", "Arrest"),
        Disposition.REFERE: ("Référé", "Referred"),
        Disposition.REFUS_AIDE: ("Refus d'aide", "Help refused"),
        Disposition.AUCUNE_INTERVENTION: ("Aucune intervention", "No intervention"),
        Disposition.AUTRE: ("Autre", "Other"),
    },
    TriageLevel: {
        TriageLevel.ROUTINE: ("Routine", "Routine"),
        TriageLevel.DYADE_SUGGEREE: ("Dyade suggérée", "Dyad suggested"),
        TriageLevel.DYADE_PRIORITAIRE: ("Dyade prioritaire", "Dyad priority"),
        TriageLevel.SECURITE_POLICIERS: ("Sécurité des policiers", "Officer safety"),
    },
    DangerLevel: {
        DangerLevel.AUCUN: ("Aucun danger observé", "No danger observed"),
        DangerLevel.PREVISIBLE: ("Dangerosité prévisible", "Foreseeable danger"),
        DangerLevel.IMMINENT: ("Dangerosité imminente", "Imminent danger"),
    },
    ObservedFlag: {
        ObservedFlag.ARME: ("Arme", "Weapon"),
        ObservedFlag.MENACES: ("Menaces", "Threats"),
        ObservedFlag.MENACES_DE_MORT: ("Menaces de mort", "Death threats"),
        ObservedFlag.VIOLENCE: ("Violence", "Violence"),
        ObservedFlag.IDEES_SUICIDAIRES: ("Idées suicidaires", "Suicidal ideation"),
        ObservedFlag.PLAN_SUICIDAIRE: ("Plan suicidaire", "Suicide plan"),
        ObservedFlag.GESTES_SUICIDAIRES: ("Gestes suicidaires", "Suicidal acts"),
        ObservedFlag.AUTOMUTILATION: ("Automutilation", "Self-harm"),
        ObservedFlag.INTOXICATION: ("Intoxication", "Intoxication"),
        ObservedFlag.DEMANDE_P38: ("Demande P-38", "P-38 request"),
    },
    ReferralStatus: {
        ReferralStatus.RECUE: ("Reçue", "Received"),
        ReferralStatus.ADMISSIBLE: ("Admissible", "Eligible"),
        ReferralStatus.PREMIER_CONTACT: ("Premier contact", "First contact"),
        ReferralStatus.EN_SUIVI: ("En suivi", "Followed"),
        ReferralStatus.REFUSEE: ("Refusée", "Declined"),
        ReferralStatus.FERMEE: ("Fermée", "Closed"),
    },
    ReferrerType: {
        ReferrerType.POLICIER: ("Policier", "Police officer"),
        ReferrerType.PREPOSE_911: ("Préposé 9-1-1", "9-1-1 call-taker"),
        ReferrerType.PARTENAIRE_PUBLIC: ("Partenaire public", "Public partner"),
        ReferrerType.PARTENAIRE_COMMUNAUTAIRE: ("Partenaire communautaire", "Community partner"),
        ReferrerType.PARTENAIRE_MUNICIPAL: ("Partenaire municipal", "Municipal partner"),
        ReferrerType.TRIAGE: ("Suggestion du triage confirmée", "Triage suggestion, confirmed"),
    },
    Criterion: dict(CRITERION_LABELS),
}


def label(vocabulary: type[StrEnum], code: str | None, lang: str = "fr") -> str | None:
    """The word for `code` of `vocabulary` (None stays None; a code the catalogue does not know is shown as
    it is, so a newer producer's value is never hidden)."""
    if code is None:
        return None
    try:
        fr, en = CATALOGUE[vocabulary][vocabulary(code)]
    except (ValueError, KeyError):
        return str(code)
    return en if lang == "en" else fr


def labels(vocabulary: type[StrEnum], lang: str = "fr") -> dict[str, str]:
    """Every code of `vocabulary` with its word (tables, filters, CSV headers)."""
    return {member.value: label(vocabulary, member, lang) for member in vocabulary}


def choices(vocabulary: type[StrEnum], lang: str = "fr") -> list[tuple[str, str]]:
    return list(labels(vocabulary, lang).items())
