"""French labels of the codes triage explains (the read API shows these next to the codes)."""
from __future__ import annotations

LEVELS = {
    "routine": "Routine: patrouille habituelle",
    "dyade_suggeree": "Dyade suggérée",
    "dyade_prioritaire": "Dyade prioritaire",
    "securite_policiers": "Sécurité des policiers: danger pour autrui, approche sécuritaire d'abord",
}
DANGER = {"aucun": "Aucun danger observé", "previsible": "Dangerosité prévisible", "imminent": "Dangerosité imminente"}
CRITERIA = {
    "recurrence": "Récurrence",
    "complexite_intervention": "Complexité d'intervention",
    "dangerosite_previsible": "Dangerosité prévisible",
    "dangerosite_imminente": "Dangerosité imminente",
    "intervention_haut_risque": "Possibilité d'intervention policière à haut risque",
    "implication_partenaires": "Intervention nécessitant l'implication de partenaires",
}
CATEGORIES = {
    "etat_mental_perturbe": "État mental perturbé", "suicidaire": "Personne suicidaire",
    "violence_conjugale_familiale": "Violence conjugale ou familiale", "detresse": "Détresse",
    "desordre_public": "Désordre public", "bien_etre": "Vérification du bien-être", "autre": "Autre",
}
FLAGS = {
    "arme": "Arme", "menaces": "Menaces", "menaces_de_mort": "Menaces de mort", "violence": "Violence",
    "idees_suicidaires": "Idées suicidaires", "plan_suicidaire": "Plan suicidaire",
    "gestes_suicidaires": "Gestes suicidaires", "automutilation": "Automutilation", "intoxication": "Intoxication",
    "demande_p38": "Demande P-38",
}
DISPOSITIONS = {
    "regle_sur_place": "Réglé sur place", "transport_volontaire": "Transport volontaire",
    "transport_p38": "Transport P-38", "arrestation": "Arrestation", "refere": "Référé",
    "refus_aide": "Refus d'aide", "aucune_intervention": "Aucune intervention", "autre": "Autre",
}
REFERRAL_STATUS = {
    "recue": "Reçue", "admissible": "Admissible", "premier_contact": "Premier contact", "en_suivi": "En suivi",
    "refusee": "Refusée", "fermee": "Fermée",
}


def label(table: dict[str, str], code: str | None) -> str | None:
    return None if code is None else table.get(code, code)
