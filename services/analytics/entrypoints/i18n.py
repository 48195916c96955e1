"""Dashboard and report labels: each key once, with its French and its English."""
from __future__ import annotations

from dyade.contracts.labels import labels
from dyade.contracts.vocabulary import CallCategory, Criterion, Disposition, ReferrerType

LABELS: dict[str, tuple[str, str]] = {  # key: (French, English)
    "title": ("Dyade — Indicateurs du programme", "Dyade — Program figures"),
    "subtitle": ("Équipes mixtes police–intervention sociale", "Mixed police–social work teams"),
    "login": ("Connexion", "Sign in"),
    "token": ("Jeton d'accès", "Access token"),
    "sign_in": ("Se connecter", "Sign in"),
    "sign_out": ("Se déconnecter", "Sign out"),
    "login_help": ("Collez le jeton reçu (rôles: analyste, superviseur, administrateur). Pour le développement: "
                   "`dyade token analyst --subject analyste-1`.",
                   "Paste your token (roles: analyst, supervisor, admin). For development: `dyade token analyst "
                   "--subject analyste-1`."),
    "bad_token": ("Jeton invalide ou expiré.", "Invalid or expired token."),
    "bad_role": ("Le rôle {role} n'a pas accès au tableau de bord (rôles admis: analyst, supervisor, admin).",
                 "Role {role} may not open the dashboard (allowed: analyst, supervisor, admin)."),
    "filters": ("Filtres", "Filters"),
    "from": ("Du", "From"),
    "to": ("Au (exclu)", "To (excluded)"),
    "sector": ("Secteur", "Sector"),
    "window": ("Fenêtre avant/après max. (jours)", "Longest before/after window (days)"),
    "apply": ("Appliquer", "Apply"),
    "all": ("tous", "all"),
    "calls": ("Appels", "Calls"),
    "alerts": ("Alertes", "Alerts"),
    "referrals": ("Références", "Referrals"),
    "decisions": ("Décisions de triage", "Triage decisions"),
    "cohort": ("Personnes suivies (cohorte)", "Persons followed (cohort)"),
    "excluded": ("exclues: suivi trop court", "excluded: follow-up too short"),
    "median_reduction": ("Réduction médiane", "Median reduction"),
    "mean_reduction": ("Réduction moyenne", "Mean reduction"),
    "per_30d": ("appels / 30 jours", "calls / 30 days"),
    "median_pct": ("Réduction médiane (%)", "Median reduction (%)"),
    "repeat_trend": ("Appels répétés par mois", "Repeat calls by month"),
    "repeat_share": ("Part des appels répétés", "Repeat-call share"),
    "before_after": ("Appels par 30 jours, avant vs après l'intervention (personnes)",
                     "Calls per 30 days, before vs after the intervention (persons)"),
    "before": ("Avant", "Before"),
    "after": ("Après", "After"),
    "persons": ("Personnes", "Persons"),
    "gu": ("Grandes utilisatrices par mois", "High utilisers by month"),
    "gu_share": ("Part de leurs appels", "Share of their calls"),
    "latency": ("Délais de traitement (secondes)", "Processing latency (seconds)"),
    "dyad_workload": ("Charge des dyades", "Dyad workload"),
    "acknowledged": ("Prises en charge", "Acknowledged"),
    "escalated": ("Escaladées", "Escalated"),
    "missed": ("Manquées (capacité)", "Missed (capacity)"),
    "follow_ups": ("Suivis faits / dus", "Follow-ups done / due"),
    "time_to_ack": ("Délai médian de prise en charge (s)", "Median time to acknowledge (s)"),
    "per_shift": ("Prises en charge par quart (moy.)", "Acknowledged per shift (mean)"),
    "dyad": ("Dyade", "Dyad"),
    "mh_weeks": ("Appels santé mentale et suicide par semaine", "Mental-health and suicide calls by week"),
    "top_locations": ("Lieux les plus récurrents", "Most recurrent locations"),
    "address": ("Adresse", "Address"),
    "location": ("Lieu", "Location"),
    "dispositions": ("Issues des appels", "Call dispositions"),
    "voluntary_share": ("Part volontaire des transports", "Voluntary share of transports"),
    "frames": ("Fiches Info-social", "Info-social frames"),
    "current": ("À jour", "Current"),
    "review_due": ("Révision due", "Review due"),
    "stale": ("Périmées", "Stale"),
    "by_source": ("Références par source", "Referrals by source"),
    "by_criterion": ("Références par critère", "Referrals by criterion"),
    "first_contact": ("Délai médian jusqu'au premier contact (jours)", "Median days to first contact"),
    "exports": ("Exports CSV", "CSV exports"),
    "monthly_report": ("Rapport mensuel", "Monthly report"),
    "open": ("Ouvrir", "Open"),
    "definitions": ("Définitions de chaque indicateur: docs/figures.md",
                    "Definition of every figure: docs/figures.md"),
    "no_data": ("Aucune donnée pour cette période.", "No data for this period."),
    "stage.received_to_triage": ("Réception → triage", "Received → triage"),
    "stage.received_to_delivered": ("Réception → alerte livrée", "Received → alert delivered"),
    "stage.delivered_to_ack": ("Alerte livrée → prise en charge", "Delivered → acknowledged"),
    "stage.received_to_ack": ("Réception → prise en charge", "Received → acknowledged"),
    "report_title": ("Rapport mensuel du programme", "Program monthly report"),
    "period": ("Période", "Period"),
    "generated": ("Produit le", "Generated"),
    "print": ("Imprimer", "Print"),
    "month": ("Mois", "Month"),
    "count": ("Nombre", "Count"),
    "share": ("Part", "Share"),
    "min_followup": ("Suivi minimal (jours)", "Minimum follow-up (days)"),
    "date_hint": ("AAAA-MM-JJ", "YYYY-MM-DD"),
    "data_until": ("Données jusqu'au", "Data up to"),
    "shown_at": ("affiché le", "shown"),
    "period_shown": ("Période", "Period"),
    "whole_history": ("tout l'historique", "whole history"),
    "period_to": ("au", "to"),
    "cohort_n": ("personnes", "persons"),
    "median_followup": ("suivi médian", "median follow-up"),
    "days": ("jours", "days"),
    "day_abbr": ("j", "d"),
    "excluded_followup": ("exclues: suivi de moins de {n} j", "excluded: follow-up under {n} d"),
    "excluded_history": ("exclues: historique de moins de {n} j avant le début",
                         "excluded: history under {n} d before the start"),
    "key_figure": ("Appels répétés avant et après l'intervention", "Repeat calls before and after the intervention"),
    "definition": ("Définition", "Definition"),
    "def_cohort": ("Cohorte: les personnes dont l'intervention a commencé{period} — le plus tôt de: fiche "
                   "Info-social approuvée, référence acceptée, dyade présente sur un de ses appels, alerte la "
                   "concernant prise en charge.",
                   "Cohort: the persons whose intervention started{period} — the earliest of: Info-social frame "
                   "approved, referral accepted, a dyad on one of their calls, an alert about them acknowledged."),
    "def_windows": ("Fenêtres égales: pour chaque personne, ses appels dans les w jours avant le début et les w "
                    "jours après; w = le plus court de {W} jours, de son suivi jusqu'au {as_of} et de l'historique "
                    "depuis le {start}. Ici w médian = {median} jours (de {min} à {max}). Taux = appels × 30 / w.",
                    "Equal windows: for each person, their calls in the w days before the start and the w days "
                    "after; w = the shortest of {W} days, their follow-up up to {as_of} and the history since "
                    "{start}. Here the median w = {median} days ({min} to {max}). Rate = calls × 30 / w."),
    "def_excluded": ("Exclues: {f} personne(s) suivie(s) moins de {n} jours, {h} personne(s) dont l'historique "
                     "avant le début fait moins de {n} jours — trop peu pour comparer. Minimum réglable: « Suivi "
                     "minimal » ci-dessus, ou ANALYTICS_MIN_FOLLOWUP_DAYS.",
                     "Excluded: {f} person(s) followed for less than {n} days, {h} person(s) with less than {n} "
                     "days of history before the start — too little to compare. The minimum is a setting: "
                     "\"Minimum follow-up\" above, or ANALYTICS_MIN_FOLLOWUP_DAYS."),
    "def_counted": ("Appels comptés: ceux où la personne est le sujet, ou l'appelante qui appelle pour elle-même.",
                    "Calls counted: those where the person is the subject, or the caller calling about themself."),
    "def_none": ("Aucune personne dans la cohorte pour l'instant.", "No person in the cohort yet."),
    "in_period": (" dans la période choisie", " in the chosen period"),
    "latency_basis": ("Horloges de Dyade (publication par intake, décision du triage, états de l'alerte), appels "
                      "en direct seulement: {n} appel(s) rejoué(s) ou rattrapé(s) exclu(s) — arrivé(s) plus de {m} "
                      "min après leur réception par le répartiteur, ou marqué(s) comme rejeu.",
                      "Dyade's clocks (intake publishing, triage deciding, the alert's states), live calls only: "
                      "{n} replayed or caught-up call(s) left out — reached Dyade more than {m} min after the "
                      "dispatch system received them, or marked as a replay."),
    "latency_unmeasured": ("{n} mesure(s) impossible(s): appel inconnu ou enregistré avant la version actuelle.",
                           "{n} measurement(s) impossible: call unknown or stored by an earlier version."),
    "stage": ("Étape", "Stage"),
    "median_s": ("Médiane (s)", "Median (s)"),
    "p90_s": ("p90 (s)", "p90 (s)"),
    "confirmed_referrals": ("Références confirmées", "Confirmed referrals"),
    "referrals_confirmed_help": ("déposées par une personne, ou suggérées par le triage et confirmées par "
                                 "l'intervenante",
                                 "filed by a person, or suggested by triage and confirmed by the social worker"),
    "suggestions": ("Suggestions du triage", "Triage suggestions"),
    "suggested_total": ("Suggérées", "Suggested"),
    "suggested_confirmed": ("Confirmées", "Confirmed"),
    "suggested_pending": ("En attente de l'intervenante", "Awaiting the social worker"),
    "suggested_not_retained": ("Non retenues", "Not retained"),
    "pending_suggestions": ("suggestion(s) du triage en attente", "triage suggestion(s) pending"),
    "rebuild_needed": ("{n} appel(s) enregistré(s) par une version précédente (heures sans fuseau ou sans heure de "
                       "traitement): lancez « dyade analytics rebuild » pour les réécrire en UTC.",
                       "{n} call(s) stored by an earlier version (times without their zone or without a processing "
                       "time): run \"dyade analytics rebuild\" to rewrite them in UTC."),
}

# the vocabulary's words, from the catalogue; "inconnu" is the dashboard's own (a referrer not given)
CODED = (CallCategory, Disposition, ReferrerType, Criterion)


def _codes(lang: str, unknown: str) -> dict[str, str]:
    return {**{code: word for v in CODED for code, word in labels(v, lang).items()}, "inconnu": unknown}


def _catalogue(column: int, codes: dict[str, str]) -> dict[str, str]:
    return {**{key: words[column] for key, words in LABELS.items()}, **{f"code.{k}": v for k, v in codes.items()}}


CODES_FR, CODES_EN = _codes("fr", "Inconnu"), _codes("en", "Unknown")
FR, EN = _catalogue(0, CODES_FR), _catalogue(1, CODES_EN)


def labels_for(lang: str) -> dict[str, str]:
    return EN if lang == "en" else FR
