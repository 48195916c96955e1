"""French labels the field app shows (English where cheap)."""
from __future__ import annotations

from dyade.contracts.vocabulary import CallCategory, Disposition, TriageLevel

LEVELS = {
    TriageLevel.ROUTINE: ("Routine", "Routine"),
    TriageLevel.DYADE_SUGGEREE: ("Dyade suggérée", "Dyad suggested"),
    TriageLevel.DYADE_PRIORITAIRE: ("Dyade prioritaire", "Dyad priority"),
    TriageLevel.SECURITE_POLICIERS: ("Sécurité des policiers", "Officer safety"),
}

CATEGORIES = {
    CallCategory.ETAT_MENTAL_PERTURBE: "État mental perturbé",
    CallCategory.SUICIDAIRE: "Personne suicidaire",
    CallCategory.VIOLENCE_CONJUGALE_FAMILIALE: "Violence conjugale ou familiale",
    CallCategory.DETRESSE: "Détresse",
    CallCategory.DESORDRE_PUBLIC: "Désordre public",
    CallCategory.BIEN_ETRE: "Vérification de bien-être",
    CallCategory.AUTRE: "Autre",
}

DISPOSITIONS = {
    Disposition.REGLE_SUR_PLACE: "Réglé sur place",
    Disposition.TRANSPORT_VOLONTAIRE: "Transport volontaire",
    Disposition.TRANSPORT_P38: "Transport P-38",
    Disposition.ARRESTATION: "Arrestation",
    Disposition.REFERE: "Référé",
    Disposition.REFUS_AIDE: "Refus d'aide",
    Disposition.AUCUNE_INTERVENTION: "Aucune intervention",
    Disposition.AUTRE: "Autre",
}

TARGETS = {
    "garde_sociale": "Intervenant·e social·e de garde",
    "superviseur_patrouille": "Superviseur·e de patrouille",
    "superviseur": "Superviseur·e",
}


def level_label(level: str | None, lang: str = "fr") -> str:
    if not level:
        return ""
    fr, en = LEVELS[TriageLevel(level)]
    return en if lang == "en" else fr
