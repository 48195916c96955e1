"""Dashboard and report labels, French first, English where cheap."""
from __future__ import annotations

from dyade.contracts.labels import labels
from dyade.contracts.vocabulary import CallCategory, Criterion, Disposition, ReferrerType

FR = {
    "title": "Dyade — Indicateurs du programme",
    "subtitle": "Équipes mixtes police–intervention sociale",
    "login": "Connexion", "token": "Jeton d'accès", "sign_in": "Se connecter", "sign_out": "Se déconnecter",
    "login_help": "Collez le jeton reçu (rôles: analyste, superviseur, administrateur). "
                  "Pour le développement: `dyade token analyst --subject analyste-1`.",
    "bad_token": "Jeton invalide ou expiré.",
    "bad_role": "Le rôle {role} n'a pas accès au tableau de bord (rôles admis: analyst, supervisor, admin).",
    "filters": "Filtres", "from": "Du", "to": "Au (exclu)", "sector": "Secteur", "window": "Fenêtre avant/après max. (jours)",
    "apply": "Appliquer", "all": "tous",
    "calls": "Appels", "alerts": "Alertes", "referrals": "Références", "decisions": "Décisions de triage",
    "cohort": "Personnes suivies (cohorte)", "excluded": "exclues: suivi trop court",
    "median_reduction": "Réduction médiane", "mean_reduction": "Réduction moyenne",
    "per_30d": "appels / 30 jours", "median_pct": "Réduction médiane (%)",
    "repeat_trend": "Appels répétés par mois", "repeat_share": "Part des appels répétés",
    "before_after": "Appels par 30 jours, avant vs après l'intervention (personnes)",
    "before": "Avant", "after": "Après", "persons": "Personnes",
    "gu": "Grandes utilisatrices par mois", "gu_share": "Part de leurs appels",
    "latency": "Délais de traitement (secondes)", "dyad_workload": "Charge des dyades",
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

# the vocabulary's words, from the catalogue; "inconnu" is the dashboard's own (a referrer not given)
CODED = (CallCategory, Disposition, ReferrerType, Criterion)
CODES_FR = {**{code: word for v in CODED for code, word in labels(v, "fr").items()}, "inconnu": "Inconnu"}
CODES_EN = {**{code: word for v in CODED for code, word in labels(v, "en").items()}, "inconnu": "Unknown"}

EN = {**FR, **{
    "title": "Dyade — Program figures", "subtitle": "Mixed police–social work teams",
    "login": "Sign in", "token": "Access token", "sign_in": "Sign in", "sign_out": "Sign out",
    "login_help": "Paste your token (roles: analyst, supervisor, admin). For development: `dyade token analyst --subject analyste-1`.",
    "bad_token": "Invalid or expired token.",
    "bad_role": "Role {role} may not open the dashboard (allowed: analyst, supervisor, admin).",
    "filters": "Filters", "from": "From", "to": "To (excluded)", "sector": "Sector", "window": "Longest before/after window (days)",
    "apply": "Apply", "all": "all", "calls": "Calls", "alerts": "Alerts", "referrals": "Referrals",
    "decisions": "Triage decisions", "cohort": "Persons followed (cohort)", "excluded": "excluded: follow-up too short",
    "median_reduction": "Median reduction", "mean_reduction": "Mean reduction", "per_30d": "calls / 30 days",
    "median_pct": "Median reduction (%)", "repeat_trend": "Repeat calls by month", "repeat_share": "Repeat-call share",
    "before_after": "Calls per 30 days, before vs after the intervention (persons)", "before": "Before",
    "after": "After", "persons": "Persons", "gu": "High utilisers by month", "gu_share": "Share of their calls",
    "latency": "Processing latency (seconds)", "dyad_workload": "Dyad workload", "acknowledged": "Acknowledged",
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

FR.update({
    "min_followup": "Suivi minimal (jours)", "date_hint": "AAAA-MM-JJ",
    "data_until": "Données jusqu'au", "shown_at": "affiché le", "period_shown": "Période",
    "whole_history": "tout l'historique", "period_to": "au",
    "cohort_n": "personnes", "median_followup": "suivi médian", "days": "jours", "day_abbr": "j",
    "excluded_followup": "exclues: suivi de moins de {n} j", "excluded_history": "exclues: historique de moins de {n} j avant le début",
    "key_figure": "Appels répétés avant et après l'intervention",
    "definition": "Définition",
    "def_cohort": "Cohorte: les personnes dont l'intervention a commencé{period} — le plus tôt de: fiche Info-social "
                  "approuvée, référence acceptée, dyade présente sur un de ses appels, alerte la concernant prise en charge.",
    "def_windows": "Fenêtres égales: pour chaque personne, ses appels dans les w jours avant le début et les w jours "
                   "après; w = le plus court de {W} jours, de son suivi jusqu'au {as_of} et de l'historique depuis le "
                   "{start}. Ici w médian = {median} jours (de {min} à {max}). Taux = appels × 30 / w.",
    "def_excluded": "Exclues: {f} personne(s) suivie(s) moins de {n} jours, {h} personne(s) dont l'historique avant le "
                    "début fait moins de {n} jours — trop peu pour comparer. Minimum réglable: « Suivi minimal » "
                    "ci-dessus, ou ANALYTICS_MIN_FOLLOWUP_DAYS.",
    "def_counted": "Appels comptés: ceux où la personne est le sujet, ou l'appelante qui appelle pour elle-même.",
    "def_none": "Aucune personne dans la cohorte pour l'instant.",
    "in_period": " dans la période choisie",
    "latency_basis": "Horloges de Dyade (publication par intake, décision du triage, états de l'alerte), appels en "
                     "direct seulement: {n} appel(s) rejoué(s) ou rattrapé(s) exclu(s) — arrivé(s) plus de {m} min "
                     "après leur réception par le répartiteur, ou marqué(s) comme rejeu.",
    "latency_unmeasured": "{n} mesure(s) impossible(s): appel inconnu ou enregistré avant la version actuelle.",
    "stage": "Étape", "median_s": "Médiane (s)", "p90_s": "p90 (s)",
    "confirmed_referrals": "Références confirmées", "referrals_confirmed_help": "déposées par une personne, ou suggérées "
                           "par le triage et confirmées par l'intervenante",
    "suggestions": "Suggestions du triage", "suggested_total": "Suggérées", "suggested_confirmed": "Confirmées",
    "suggested_pending": "En attente de l'intervenante", "suggested_not_retained": "Non retenues",
    "pending_suggestions": "suggestion(s) du triage en attente",
    "rebuild_needed": "{n} appel(s) enregistré(s) par une version précédente (heures sans fuseau ou sans heure de "
                      "traitement): lancez « dyade analytics rebuild » pour les réécrire en UTC.",
})
EN.update({
    "min_followup": "Minimum follow-up (days)", "date_hint": "YYYY-MM-DD",
    "data_until": "Data up to", "shown_at": "shown", "period_shown": "Period",
    "whole_history": "whole history", "period_to": "to",
    "cohort_n": "persons", "median_followup": "median follow-up", "days": "days", "day_abbr": "d",
    "excluded_followup": "excluded: follow-up under {n} d", "excluded_history": "excluded: history under {n} d before the start",
    "key_figure": "Repeat calls before and after the intervention",
    "definition": "Definition",
    "def_cohort": "Cohort: the persons whose intervention started{period} — the earliest of: Info-social frame approved, "
                  "referral accepted, a dyad on one of their calls, an alert about them acknowledged.",
    "def_windows": "Equal windows: for each person, their calls in the w days before the start and the w days after; "
                   "w = the shortest of {W} days, their follow-up up to {as_of} and the history since {start}. "
                   "Here the median w = {median} days ({min} to {max}). Rate = calls × 30 / w.",
    "def_excluded": "Excluded: {f} person(s) followed for less than {n} days, {h} person(s) with less than {n} days of "
                    "history before the start — too little to compare. The minimum is a setting: \"Minimum follow-up\" "
                    "above, or ANALYTICS_MIN_FOLLOWUP_DAYS.",
    "def_counted": "Calls counted: those where the person is the subject, or the caller calling about themself.",
    "def_none": "No person in the cohort yet.",
    "in_period": " in the chosen period",
    "latency_basis": "Dyade's clocks (intake publishing, triage deciding, the alert's states), live calls only: {n} "
                     "replayed or caught-up call(s) left out — reached Dyade more than {m} min after the dispatch "
                     "system received them, or marked as a replay.",
    "latency_unmeasured": "{n} measurement(s) impossible: call unknown or stored by an earlier version.",
    "stage": "Stage", "median_s": "Median (s)", "p90_s": "p90 (s)",
    "confirmed_referrals": "Confirmed referrals", "referrals_confirmed_help": "filed by a person, or suggested by triage "
                           "and confirmed by the social worker",
    "suggestions": "Triage suggestions", "suggested_total": "Suggested", "suggested_confirmed": "Confirmed",
    "suggested_pending": "Awaiting the social worker", "suggested_not_retained": "Not retained",
    "pending_suggestions": "triage suggestion(s) pending",
    "rebuild_needed": "{n} call(s) stored by an earlier version (times without their zone or without a processing "
                      "time): run \"dyade analytics rebuild\" to rewrite them in UTC.",
})

FR = {**FR, **{f"code.{k}": v for k, v in CODES_FR.items()}}
EN = {**EN, **{f"code.{k}": v for k, v in CODES_EN.items()}}


def labels_for(lang: str) -> dict[str, str]:
    return EN if lang == "en" else FR
