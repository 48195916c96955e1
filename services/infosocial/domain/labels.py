"""Info-social's one label catalogue: the words the social worker reads instead of codes, French first,
English available. Criteria come from dyade.contracts (CRITERION_LABELS, next to the Criterion enum); the
reasons of a triage suggestion arrive already in words (French, from triage's rules) and are shown as they are.
Pure: no I/O."""
from __future__ import annotations

from dyade.contracts import CRITERION_LABELS, LEGAL_BASIS_LABELS, Criterion, LegalBasis, ReferralStatus, ReferrerType
from dyade.contracts.labels import CATALOGUE

LANGS = ("fr", "en")

STATUS = CATALOGUE[ReferralStatus]      # the catalogue's words (dyade.contracts.labels)
REFERRER = CATALOGUE[ReferrerType]
SUGGESTION_STATE = {
    "a_confirmer": ("à confirmer", "to confirm"),
    "confirmee": ("confirmée: devenue une référence", "confirmed: now a referral"),
    "ecartee": ("écartée", "dismissed"),
    "jointe": ("jointe à une référence", "joined to a referral"),
}
DISMISS_REASONS = {
    "deja_suivie": ("déjà suivie par un partenaire (CISSS, organisme)", "already followed by a partner"),
    "hors_clientele": ("hors de la clientèle visée", "outside the service's clientele"),
    "situation_resolue": ("situation résolue ou ponctuelle", "situation resolved or one-off"),
    "hors_territoire": ("hors territoire", "outside the territory"),
    "autre": ("autre motif (préciser)", "other (explain)"),
}
AGE_BANDS = {
    "mineur": ("moins de 18 ans", "under 18"),
    "adulte": ("18 à 64 ans", "18 to 64"),
    "aine": ("65 ans et plus", "65 and over"),
    "inconnu": ("date de naissance inconnue", "birth date unknown"),
}
SORTS = {
    "priorite": ("priorité (danger imminent, prévisible, récurrence), puis plus récentes",
                 "priority (imminent, foreseeable danger, recurrence), then most recent"),
    "recentes": ("plus récentes d'abord", "most recent first"),
    "anciennes": ("plus anciennes d'abord", "oldest first"),
    "appels": ("plus d'appels d'abord", "most calls first"),
    "mise_a_jour": ("dernière mise à jour d'abord", "last updated first"),
}
CONSENT = {
    "obtenu": ("obtenu", "obtained"),
    "refuse": ("refusé", "declined"),
    "non_demande": ("non demandé", "not asked"),
}
ORIGINS = {"personnes": ("déposées par des personnes (policiers, 9-1-1, partenaires)",
                         "filed by people (officers, 9-1-1, partners)"),
           "triage": ("suggestions du triage confirmées", "confirmed triage suggestions")}


def pick(pair: tuple[str, str] | None, lang: str, fallback: str = "") -> str:
    if pair is None:
        return fallback
    return pair[1] if lang == "en" else pair[0]


def criterion(code: str, lang: str = "fr") -> str:
    try:
        return pick(CRITERION_LABELS[Criterion(code)], lang)
    except ValueError:
        return code


def criteria(codes, lang: str = "fr") -> list[str]:
    return [criterion(c, lang) for c in codes or ()]


RANK = {c.value: i for i, c in enumerate((Criterion.DANGEROSITE_IMMINENTE, Criterion.DANGEROSITE_PREVISIBLE,
                                          Criterion.RECURRENCE))}


def ranked(codes) -> list[str]:
    """Criteria as the desk shows them: imminent danger, foreseeable danger, recurrence, then the form's order."""
    order = {c.value: i for i, c in enumerate(Criterion)}
    return sorted(codes or (), key=lambda c: (RANK.get(c, len(RANK)), order.get(c, len(order))))


def status(code: str, lang: str = "fr") -> str:
    try:
        return pick(STATUS[ReferralStatus(code)], lang)
    except ValueError:
        return code


def referrer(code: str, lang: str = "fr") -> str:
    try:
        return pick(REFERRER[ReferrerType(code)], lang)
    except ValueError:
        return code


def of(table: dict, code: str | None, lang: str = "fr") -> str:
    return pick(table.get(code), lang, code or "") if code is not None else ""


def consent(c, lang: str = "fr") -> str:
    """A frame's recorded consent in words (visibility.Consent): status, date, partners, basis without consent."""
    words = of(CONSENT, c.status.value, lang)
    if c.date:
        words += (" on " if lang == "en" else " le ") + c.date.isoformat()
    if c.scope:
        words += (" — partners: " if lang == "en" else " — partenaires : ") + ", ".join(c.scope)
    if c.legal_basis:
        words += (" — legal basis: " if lang == "en" else " — base légale : ") + pick(
            LEGAL_BASIS_LABELS.get(LegalBasis(c.legal_basis)), lang, c.legal_basis)
    return words


def choices(table: dict, lang: str = "fr") -> list[tuple[str, str]]:
    return [(str(code), pick(pair, lang)) for code, pair in table.items()]


def criterion_choices(lang: str = "fr") -> list[tuple[str, str]]:
    return [(c.value, criterion(c.value, lang)) for c in Criterion]


def status_choices(lang: str = "fr") -> list[tuple[str, str]]:
    return [(s.value, status(s.value, lang)) for s in ReferralStatus]


# -- the pages' words ----------------------------------------------------------------------------------------
FR = {
    "app": "Dyade — Info-social", "desk": "Bureau", "suggestions": "Suggestions du triage", "referrals": "Références",
    "caseload": "Mes suivis", "new_frame": "Nouvelle fiche", "sign_out": "Se déconnecter", "other_lang": "English",
    "frames_list": "Fiches",
    "todo": "À faire d'abord", "approvals": "Fiches à approuver", "reviews": "Révisions dues (30 jours) et fiches périmées",
    "nothing": "Rien.", "see_all": "tout voir", "and_more": "et {n} autre(s)", "version": "version", "by": "par",
    "review_and_approve": "relire et approuver", "stale": "PÉRIMÉE", "to_review": "à réviser",
    "due": "révision due le",
    "to_confirm": "Suggestions à confirmer", "open_referrals": "Références ouvertes",
    "find": "Trouver une personne", "last_name": "Nom", "first_name": "Prénom", "birth_date": "Date de naissance",
    "search": "Chercher",
    "search_help": "Recherche auprès d'intake (seul service qui garde les identités) ; chaque recherche est consignée.",
    "filters": "Filtres", "state": "État", "criterion": "Critère", "sector": "Secteur", "age": "Âge",
    "origin": "Origine", "sort": "Tri", "all": "tous", "open": "ouvertes", "apply": "Appliquer", "reset": "Effacer",
    "page_of": "Page {page} sur {pages}", "previous": "« Précédente", "next": "Suivante »", "results": "{n} résultat(s)",
    "received": "Reçue", "person": "Personne", "criteria": "Critères", "why": "Pourquoi", "frame": "Fiche",
    "move": "Faire avancer", "note": "note", "apply_move": "Appliquer", "create": "créer",
    "frame_active": "active", "frame_pending": "en attente",
    "refusal_notice": "la personne est avisée que je reste disponible (refus)",
    "first_contact": "1er contact", "calls": "Appels", "first_seen": "Première suggestion", "last_seen": "Dernier appel",
    "calls_flagged": "{n} appel(s) signalé(s) par le triage",
    "latest_call": "dernier appel", "confirm": "Confirmer: en faire une référence", "dismiss": "Écarter",
    "dismiss_reason": "Motif", "no_suggestion": "Aucune suggestion à confirmer.", "no_referral": "Aucune référence.",
    "suggestions_help": "Une suggestion par personne, mise à jour à chaque nouvel appel signalé. "
                        "Elle ne devient une référence que si vous la confirmez.",
    "referrals_help": "Références déposées par des personnes (policiers, 9-1-1, partenaires) et suggestions confirmées.",
    "unknown_sector": "secteur inconnu", "sector_pending": "{n} secteur(s) pas encore lu(s) auprès du triage",
    "age_notice": "Le filtre par âge lit la date de naissance des personnes concernées auprès d'intake (consigné).",
    "caseload_help": "Personnes avec une fiche active dont vous êtes responsable, ou une référence ouverte que "
                     "vous traitez. Appels par mois d'après le triage (fenêtres de 90 jours avant le premier "
                     "contact; depuis: la plus grande fenêtre entièrement postérieure).",
    "mine": "les miens", "team": "toute l'équipe", "before": "Avant", "after": "Depuis",
    "per_month": "/ mois", "too_early": "trop tôt (< 30 j)", "no_contact": "pas encore de premier contact",
    "contact_from_frame": "fiche créée le {d}", "triage_down": "appels indisponibles (triage injoignable)",
    "no_triage_state": "aucun appel connu du triage", "no_caseload": "Aucune personne suivie.",
    "over_days": "{c} appel(s) sur {n} j", "decide": "Décision", "frame_owner": "fiche", "referral_status": "référence",
    "search_title": "Trouver une personne", "not_found": "Aucune personne connue d'intake sous ce nom et cette date de "
                                                          "naissance.",
    "match_exact": "correspondance exacte", "match_fuzzy": "correspondance approchée ({p} %)",
    "match_cad_id": "identifiant RAO", "other_names": "Autres graphies", "open_file": "Ouvrir le dossier",
    "write_frame": "Écrire la fiche", "known_here": "Dans Info-social", "nothing_here": "rien encore",
    "open_suggestion": "suggestion à confirmer", "identity_down": "identités indisponibles (intake injoignable)",
    "search_down": "recherche indisponible (intake injoignable)",
    "required": "Nom et date de naissance requis.",
    "dismissed_before": "écartée le {d}: {r}",
    "list_approvals": "Fiches en attente d'approbation", "list_reviews": "Révisions dues et fiches périmées",
    "list_frames": "Fiches ouvertes", "owner": "Responsable", "consent": "Consentement",
}
EN = {
    "app": "Dyade — Info-social", "desk": "Desk", "suggestions": "Triage suggestions", "referrals": "Referrals",
    "caseload": "My caseload", "new_frame": "New frame", "sign_out": "Sign out", "other_lang": "Français",
    "frames_list": "Frames",
    "todo": "First things", "approvals": "Frames to approve", "reviews": "Reviews due (30 days) and stale frames",
    "nothing": "Nothing.", "see_all": "see all", "and_more": "and {n} more", "version": "version", "by": "by",
    "review_and_approve": "review and approve", "stale": "STALE", "to_review": "to review", "due": "review due",
    "to_confirm": "Suggestions to confirm", "open_referrals": "Open referrals",
    "find": "Find a person", "last_name": "Last name", "first_name": "First name", "birth_date": "Birth date",
    "search": "Search",
    "search_help": "Asked of intake (the only service keeping identities); every search is audited.",
    "filters": "Filters", "state": "State", "criterion": "Criterion", "sector": "Sector", "age": "Age",
    "origin": "Origin", "sort": "Sort", "all": "all", "open": "open", "apply": "Apply", "reset": "Clear",
    "page_of": "Page {page} of {pages}", "previous": "« Previous", "next": "Next »", "results": "{n} result(s)",
    "received": "Received", "person": "Person", "criteria": "Criteria", "why": "Why", "frame": "Frame",
    "move": "Move on", "note": "note", "apply_move": "Apply", "create": "create",
    "frame_active": "active", "frame_pending": "pending",
    "refusal_notice": "the person is told I remain available (declined)",
    "first_contact": "1st contact", "calls": "Calls", "first_seen": "First suggested", "last_seen": "Last call",
    "calls_flagged": "{n} call(s) flagged by triage",
    "latest_call": "latest call", "confirm": "Confirm: make it a referral", "dismiss": "Dismiss",
    "dismiss_reason": "Reason", "no_suggestion": "No suggestion to confirm.", "no_referral": "No referral.",
    "suggestions_help": "One suggestion per person, updated with each new flagged call. It becomes a referral "
                        "only when you confirm it.",
    "referrals_help": "Referrals filed by people (officers, 9-1-1, partners) and confirmed suggestions.",
    "unknown_sector": "sector unknown", "sector_pending": "{n} sector(s) not yet read from triage",
    "age_notice": "The age filter reads the birth date of the persons concerned from intake (audited).",
    "caseload_help": "Persons with an active frame you own, or an open referral you handle. Calls per month "
                     "according to triage (90-day window before first contact; since: the widest window wholly "
                     "after it).",
    "mine": "mine", "team": "whole team", "before": "Before", "after": "Since",
    "per_month": "/ month", "too_early": "too early (< 30 d)", "no_contact": "no first contact yet",
    "contact_from_frame": "frame written {d}", "triage_down": "calls unavailable (triage unreachable)",
    "no_triage_state": "no call known to triage", "no_caseload": "Nobody followed.",
    "over_days": "{c} call(s) over {n} d", "decide": "Decision", "frame_owner": "frame", "referral_status": "referral",
    "search_title": "Find a person", "not_found": "Nobody known to intake by that name and birth date.",
    "match_exact": "exact match", "match_fuzzy": "approximate match ({p} %)", "match_cad_id": "CAD id",
    "other_names": "Other spellings", "open_file": "Open the file", "write_frame": "Write the frame",
    "known_here": "In Info-social", "nothing_here": "nothing yet", "open_suggestion": "suggestion to confirm",
    "identity_down": "identities unavailable (intake unreachable)",
    "search_down": "search unavailable (intake unreachable)", "required": "Last name and birth date required.",
    "dismissed_before": "dismissed {d}: {r}",
    "list_approvals": "Frames waiting for approval", "list_reviews": "Reviews due and stale frames",
    "list_frames": "Open frames", "owner": "Owner", "consent": "Consent",
}
assert FR.keys() == EN.keys(), set(FR) ^ set(EN)


def texts(lang: str) -> dict[str, str]:
    return EN if lang == "en" else FR
