"""Dashboard and report labels, French first, English where cheap."""
from __future__ import annotations

FR = {
    "title": "Dyade — Indicateurs du programme",
    "subtitle": "Équipes mixtes police–intervention sociale",
    "login": "Connexion", "token": "Jeton d'accès", "sign_in": "Se connecter", "sign_out": "Se déconnecter",
    "login_help": "Collez le jeton reçu (rôles: analyste, superviseur, administrateur). "
                  "Pour le développement: `dyade token analyst`.",
    "bad_token": "Jeton invalide ou expiré.",
    "bad_role": "Le rôle {role} n'a pas accès au tableau de bord (rôles admis: analyst, supervisor, admin).",
    "filters": "Filtres", "from": "Du", "to": "Au (exclu)", "sector": "Secteur", "window": "Fenêtre avant/après (jours)",
    "apply": "Appliquer", "all": "tous",
    "calls": "Appels", "alerts": "Alertes", "referrals": "Références", "decisions": "Décisions de triage",
    "cohort": "Personnes suivies (cohorte)", "excluded": "exclues: suivi trop court",
    "median_reduction": "Réduction médiane", "mean_reduction": "Réduction moyenne",
    "per_30d": "appels / 30 jours", "median_pct": "Réduction médiane (%)",
    "repeat_trend": "Appels répétés par mois", "repeat_share": "Part des appels répétés",
    "before_after": "Appels par 30 jours, avant vs après l'intervention (personnes)",
    "before": "Avant", "after": "Après", "persons": "Personnes",
    "gu": "Grandes utilisatrices par mois", "gu_share": "Part de leurs appels",
    "latency": "Délais (secondes)", "dyad_workload": "Charge des dyades",
    "acknowledged": "Prises en charge", "escalated": "Escaladées", "missed": "Manquées (capacité)",
    "follow_ups": "Suivis faits / dus", "time_to_ack": "Délai médian de prise en charge (s)",
    "per_shift": "Prises en charge par quart (moy.)", "dyad": "Dyade",
    "mh_weeks": "Appels santé mentale et suicide par semaine",
    "top_locations": "Lieux les plus récurrents", "address": "Adresse", "location": "Lieu",
    "dispositions": "Issues des appels", "voluntary_share": "Part volontaire des transports",
    "frames": "Fiches Info-social", "current": "À jour", "review_due": "Révision due", "stale": "Périmées",
    "by_source": "Références par source", "by_criterion": "Références par critère",
    "first_contact": "Délai médian jusqu'au premier contact (jours)",
    "exports": "Exports CSV", "monthly_report": "Rapport mensuel", "open": "Ouvrir",
    "definitions": "Définitions de chaque indicateur: docs/figures.md",
    "no_data": "Aucune donnée pour cette période.",
    "stage.received_to_triage": "Réception → triage", "stage.received_to_delivered": "Réception → alerte livrée",
    "stage.delivered_to_ack": "Alerte livrée → prise en charge", "stage.received_to_ack": "Réception → prise en charge",
    "report_title": "Rapport mensuel du programme", "period": "Période", "generated": "Produit le",
    "print": "Imprimer", "month": "Mois", "count": "Nombre", "share": "Part",
}

CODES_FR = {
    "etat_mental_perturbe": "État mental perturbé", "suicidaire": "Suicidaire", "detresse": "Détresse",
    "violence_conjugale_familiale": "Violence conjugale ou familiale", "desordre_public": "Désordre public",
    "bien_etre": "Vérification du bien-être", "autre": "Autre",
    "regle_sur_place": "Réglé sur place", "transport_volontaire": "Transport volontaire",
    "transport_p38": "Transport P-38 (non volontaire)", "arrestation": "Arrestation", "refere": "Référé",
    "refus_aide": "Refus d'aide", "aucune_intervention": "Aucune intervention",
    "policier": "Policier", "prepose_911": "Préposé 9-1-1", "partenaire_public": "Partenaire public",
    "partenaire_communautaire": "Partenaire communautaire", "partenaire_municipal": "Partenaire municipal",
    "triage": "Triage Dyade (confirmé)", "inconnu": "Inconnu",
    "recurrence": "Récurrence", "complexite_intervention": "Complexité de l'intervention",
    "dangerosite_previsible": "Dangerosité prévisible", "dangerosite_imminente": "Dangerosité imminente",
    "intervention_haut_risque": "Intervention policière à haut risque",
    "implication_partenaires": "Implication de partenaires",
}
CODES_EN = {
    "etat_mental_perturbe": "Disturbed mental state", "suicidaire": "Suicidal", "detresse": "Distress",
    "violence_conjugale_familiale": "Domestic or family violence", "desordre_public": "Public disorder",
    "bien_etre": "Welfare check", "autre": "Other", "regle_sur_place": "Resolved on site",
    "transport_volontaire": "Voluntary transport", "transport_p38": "P-38 transport (involuntary)",
    "arrestation": "Arrest", "refere": "Referred", "refus_aide": "Help refused", "aucune_intervention": "No intervention",
    "policier": "Police officer", "prepose_911": "9-1-1 call-taker", "partenaire_public": "Public partner",
    "partenaire_communautaire": "Community partner", "partenaire_municipal": "Municipal partner",
    "triage": "Dyade triage (confirmed)", "inconnu": "Unknown", "recurrence": "Recurrence",
    "complexite_intervention": "Complex intervention", "dangerosite_previsible": "Foreseeable danger",
    "dangerosite_imminente": "Imminent danger", "intervention_haut_risque": "High-risk police intervention",
    "implication_partenaires": "Partners involved",
}

EN = {**FR, **{
    "title": "Dyade — Program figures", "subtitle": "Mixed police–social work teams",
    "login": "Sign in", "token": "Access token", "sign_in": "Sign in", "sign_out": "Sign out",
    "login_help": "Paste your token (roles: analyst, supervisor, admin). For development: `dyade token analyst`.",
    "bad_token": "Invalid or expired token.",
    "bad_role": "Role {role} may not open the dashboard (allowed: analyst, supervisor, admin).",
    "filters": "Filters", "from": "From", "to": "To (excluded)", "sector": "Sector", "window": "Before/after window (days)",
    "apply": "Apply", "all": "all", "calls": "Calls", "alerts": "Alerts", "referrals": "Referrals",
    "decisions": "Triage decisions", "cohort": "Persons followed (cohort)", "excluded": "excluded: follow-up too short",
    "median_reduction": "Median reduction", "mean_reduction": "Mean reduction", "per_30d": "calls / 30 days",
    "median_pct": "Median reduction (%)", "repeat_trend": "Repeat calls by month", "repeat_share": "Repeat-call share",
    "before_after": "Calls per 30 days, before vs after the intervention (persons)", "before": "Before",
    "after": "After", "persons": "Persons", "gu": "High utilisers by month", "gu_share": "Share of their calls",
    "latency": "Latency (seconds)", "dyad_workload": "Dyad workload", "acknowledged": "Acknowledged",
    "escalated": "Escalated", "missed": "Missed (capacity)", "follow_ups": "Follow-ups done / due",
    "time_to_ack": "Median time to acknowledge (s)", "per_shift": "Acknowledged per shift (mean)", "dyad": "Dyad",
    "mh_weeks": "Mental-health and suicide calls by week", "top_locations": "Most recurrent locations",
    "address": "Address", "location": "Location", "dispositions": "Call dispositions",
    "voluntary_share": "Voluntary share of transports", "frames": "Info-social frames", "current": "Current",
    "review_due": "Review due", "stale": "Stale", "by_source": "Referrals by source",
    "by_criterion": "Referrals by criterion", "first_contact": "Median days to first contact",
    "exports": "CSV exports", "monthly_report": "Monthly report", "open": "Open",
    "definitions": "Definition of every figure: docs/figures.md", "no_data": "No data for this period.",
    "stage.received_to_triage": "Received → triage", "stage.received_to_delivered": "Received → alert delivered",
    "stage.delivered_to_ack": "Delivered → acknowledged", "stage.received_to_ack": "Received → acknowledged",
    "report_title": "Program monthly report", "period": "Period", "generated": "Generated",
    "print": "Print", "month": "Month", "count": "Count", "share": "Share",
}}


FR = {**FR, **{f"code.{k}": v for k, v in CODES_FR.items()}}
EN = {**EN, **{f"code.{k}": v for k, v in CODES_EN.items()}}


def labels_for(lang: str) -> dict[str, str]:
    return EN if lang == "en" else FR
