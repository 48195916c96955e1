"""The domain's words, as the practice uses them (chiefly in "Entretien avec Nathalie L'Heureux, T.S.,
coordonnatrice aux interventions psychosociales au Service de police de la Ville de Terrebonne", by
Audrey-Anne Dumais-Michaud, Université du Québec en Outaouais, and in the Consortium InterS4 practice
summary "Collaboration entre le corps policier et le réseau de la santé - CISSS Abitibi-Témiscamingue",
2020, on ÉMIPIC's dyads). Values are stable codes."""
from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Optional

from pydantic import StringConstraints

__all__ = [
    "CallCategory", "ObservedFlag", "PersonRole", "CallerRelation", "CallStatus", "Disposition",
    "ReferrerType", "Clientele", "Criterion", "CRITERION_LABELS", "TriageLevel", "DangerLevel", "ConsentStatus",
    "LegalBasis", "LEGAL_BASIS_LABELS", "ReferralStatus", "AlertState", "AlertKind", "Role", "MatchKind",
    "SECTOR_MAX_LENGTH", "Sector", "NATURE_CODE_MAX_LENGTH", "SECTOR_CODE", "InformationType",
]

# A sector code (patrol sector, PDQ, district) is at most this long everywhere: intake refuses a longer one
# (422 naming the field), every event says so, and every table stores this many characters — so a sector
# intake accepted can never be refused further down, where it would cost an alert or a figure.
SECTOR_MAX_LENGTH = 40
NATURE_CODE_MAX_LENGTH = 40  # the dispatch system's own call-type code, the same way
# A sector as a roster or a filter names it (letters, digits, - and _).
SECTOR_CODE = rf"^[A-Za-z0-9_-]{{1,{SECTOR_MAX_LENGTH}}}$"
Sector = Annotated[Optional[Annotated[str, StringConstraints(max_length=SECTOR_MAX_LENGTH)]], "sector"]


class CallCategory(StrEnum):
    ETAT_MENTAL_PERTURBE = "etat_mental_perturbe"
    SUICIDAIRE = "suicidaire"
    VIOLENCE_CONJUGALE_FAMILIALE = "violence_conjugale_familiale"
    DETRESSE = "detresse"
    DESORDRE_PUBLIC = "desordre_public"
    BIEN_ETRE = "bien_etre"
    AUTRE = "autre"

    @property
    def is_crisis(self) -> bool:
        """Calls that count toward a person's crisis-call recurrence."""
        return self in {CallCategory.ETAT_MENTAL_PERTURBE, CallCategory.SUICIDAIRE, CallCategory.DETRESSE,
                        CallCategory.BIEN_ETRE, CallCategory.VIOLENCE_CONJUGALE_FAMILIALE}


class ObservedFlag(StrEnum):
    ARME = "arme"
    MENACES = "menaces"
    MENACES_DE_MORT = "menaces_de_mort"
    VIOLENCE = "violence"
    IDEES_SUICIDAIRES = "idees_suicidaires"
    PLAN_SUICIDAIRE = "plan_suicidaire"
    GESTES_SUICIDAIRES = "gestes_suicidaires"
    AUTOMUTILATION = "automutilation"
    INTOXICATION = "intoxication"
    DEMANDE_P38 = "demande_p38"


class PersonRole(StrEnum):
    SUJET = "sujet"
    APPELANT = "appelant"
    VICTIME = "victime"
    PROCHE = "proche"


class CallerRelation(StrEnum):
    SOI = "soi"
    FAMILLE = "famille"
    VOISIN = "voisin"
    COMMERCANT = "commercant"
    PARTENAIRE = "partenaire"
    PASSANT = "passant"
    AUTRE = "autre"
    INCONNU = "inconnu"


class CallStatus(StrEnum):
    DISPATCHED = "dispatched"
    ON_SCENE = "on_scene"
    CLEARED = "cleared"


class Disposition(StrEnum):
    REGLE_SUR_PLACE = "regle_sur_place"
    TRANSPORT_VOLONTAIRE = "transport_volontaire"
    TRANSPORT_P38 = "transport_p38"
    ARRESTATION = "arrestation"
    REFERE = "refere"
    REFUS_AIDE = "refus_aide"
    AUCUNE_INTERVENTION = "aucune_intervention"
    AUTRE = "autre"


class ReferrerType(StrEnum):
    POLICIER = "policier"
    PREPOSE_911 = "prepose_911"
    PARTENAIRE_PUBLIC = "partenaire_public"
    PARTENAIRE_COMMUNAUTAIRE = "partenaire_communautaire"
    PARTENAIRE_MUNICIPAL = "partenaire_municipal"
    TRIAGE = "triage"  # suggested by Dyade's triage, confirmed by a person


class Clientele(StrEnum):
    ETAT_MENTAL_PERTURBE = "etat_mental_perturbe"
    TROUBLE_SANTE_MENTALE = "trouble_sante_mentale"
    RISQUE_HOMICIDE_CONJUGAL_FAMILIAL = "risque_homicide_conjugal_familial"
    EVENEMENT_TRAUMATIQUE = "evenement_traumatique"


class Criterion(StrEnum):
    """Admissibility criteria of the Terrebonne référence sociale."""
    RECURRENCE = "recurrence"
    COMPLEXITE_INTERVENTION = "complexite_intervention"
    DANGEROSITE_PREVISIBLE = "dangerosite_previsible"
    DANGEROSITE_IMMINENTE = "dangerosite_imminente"
    INTERVENTION_HAUT_RISQUE = "intervention_haut_risque"
    IMPLICATION_PARTENAIRES = "implication_partenaires"


CRITERION_LABELS: dict[Criterion, tuple[str, str]] = {  # (fr, en), worded as on the référence sociale form
    Criterion.RECURRENCE: ("Récurrence", "Recurrence"),
    Criterion.COMPLEXITE_INTERVENTION: ("Complexité d'intervention", "Complex intervention"),
    Criterion.DANGEROSITE_PREVISIBLE: ("Dangerosité prévisible", "Foreseeable danger"),
    Criterion.DANGEROSITE_IMMINENTE: ("Dangerosité imminente", "Imminent danger"),
    Criterion.INTERVENTION_HAUT_RISQUE: ("Intervention policière à haut risque possible",
                                         "Possible high-risk police intervention"),
    Criterion.IMPLICATION_PARTENAIRES: ("Implication de partenaires nécessaire", "Partners need to be involved"),
}


class TriageLevel(StrEnum):
    ROUTINE = "routine"
    DYADE_SUGGEREE = "dyade_suggeree"
    DYADE_PRIORITAIRE = "dyade_prioritaire"
    SECURITE_POLICIERS = "securite_policiers"


class DangerLevel(StrEnum):
    AUCUN = "aucun"
    PREVISIBLE = "previsible"
    IMMINENT = "imminent"


class ConsentStatus(StrEnum):
    OBTENU = "obtenu"
    REFUSE = "refuse"
    NON_DEMANDE = "non_demande"


class LegalBasis(StrEnum):
    """On what basis health-derived elements of a frame reach officers. The Loi sur les renseignements de santé
    et de services sociaux (LRSSS), arts. 74 to 76, as the « Politique ministérielle pour une police de
    proximité au service de la population » (Ministère de la Sécurité publique) describes them: a body may
    communicate to a police force what an adapted intervention needs when they act together in a mixed
    psychosocial and police practice. In October 2024 the « Loi visant à renforcer le suivi des personnes
    faisant l'objet d'un verdict de non-responsabilité criminelle pour cause de troubles mentaux ou d'inaptitude
    à subir leur procès » (projet de loi n° 66) extended that authorisation to situations about a person under
    such a verdict: LRSSS_74_76_VERDICT_NCR, recorded only with the verdict (its kind, date and court
    reference, which stay in Info-social: never in an event)."""
    CONSENTEMENT = "consentement"
    LRSSS_74_76 = "lrsss_74_76"  # adapted intervention in a mixed practice
    LRSSS_74_76_VERDICT_NCR = "lrsss_74_76_verdict_ncr"  # the same, about a person under an NCR / unfitness verdict
    DANGER_IMMINENT = "danger_imminent"
    AUCUNE = "aucune"  # police-derived recommendations only


LEGAL_BASIS_LABELS: dict[LegalBasis, tuple[str, str]] = {  # (fr, en)
    LegalBasis.CONSENTEMENT: ("Consentement de la personne", "The person's consent"),
    LegalBasis.LRSSS_74_76: ("LRSSS, art. 74 à 76 — intervention adaptée en pratique mixte",
                             "LRSSS ss. 74–76 — adapted intervention in a mixed practice"),
    LegalBasis.LRSSS_74_76_VERDICT_NCR: (
        "LRSSS, art. 74 à 76 (loi de 2024) — personne visée par un verdict de non-responsabilité criminelle ou "
        "d'inaptitude à subir son procès",
        "LRSSS ss. 74–76 (2024 act) — person under a verdict of not criminally responsible or unfit to stand "
        "trial"),
    LegalBasis.DANGER_IMMINENT: ("Danger imminent — risque sérieux de mort ou de blessures graves",
                                 "Imminent danger — serious risk of death or serious injury"),
    LegalBasis.AUCUNE: ("Aucune — éléments tirés des interventions policières seulement",
                        "None — elements drawn from police interventions only"),
}


class InformationType(StrEnum):
    """What a communication recorded in the register let out about a person (dyade.contracts.communications)."""
    FICHE_VUE_POLICIERE = "fiche_vue_policiere"        # a frame's police view (officer, dyad, field app)
    FICHE_COMPLETE = "fiche_complete"                  # a frame as the social worker sees it, or one of its versions
    FICHE_VUE_REPARTITION = "fiche_vue_repartition"    # dispatch: that a frame exists, and its safety notes
    FICHE_VUE_ANALYSTE = "fiche_vue_analyste"          # status, dates, consent and counts; no content
    IDENTITE = "identite"                              # who a person key is (intake)
    RECIT = "recit"                                    # a call's or a referral's narrative as received (intake)
    ALERTE_APPAREIL = "alerte_appareil"                # an alert's content pushed to a dyad's device (Web Push)
    ALERTE_WEBHOOK = "alerte_webhook"                  # an alert's content sent to a CAD terminal's webhook
    DOSSIER_EXPORTE = "dossier_exporte"                # the person's whole file (access right)


class ReferralStatus(StrEnum):
    RECUE = "recue"
    ADMISSIBLE = "admissible"
    PREMIER_CONTACT = "premier_contact"
    EN_SUIVI = "en_suivi"
    REFUSEE = "refusee"
    FERMEE = "fermee"


class AlertState(StrEnum):
    CREATED = "created"
    DELIVERED = "delivered"
    SEEN = "seen"
    ACKNOWLEDGED = "acknowledged"
    DECLINED = "declined"
    ESCALATED = "escalated"
    EXPIRED = "expired"
    CLOSED = "closed"
    SNOOZED = "snoozed"
    MISSED_FOR_CAPACITY = "missed_for_capacity"
    DEFERRED = "deferred"  # outside team hours: goes to the next morning's follow-up list


class AlertKind(StrEnum):
    APPEL = "appel"  # type 1: a live call
    SUIVI = "suivi"  # type 2: follow-up of a known person


class MatchKind(StrEnum):
    CAD_ID = "cad_id"
    EXACT = "exact"
    FUZZY = "fuzzy"
    NEW = "new"


class Role(StrEnum):
    """Who is calling an API; carried in the bearer token."""
    DISPATCH = "dispatch"
    OFFICER = "officer"
    CALLTAKER = "calltaker"
    PARTNER = "partner"
    SOCIAL_WORKER = "social_worker"
    DYAD = "dyad"
    SUPERVISOR = "supervisor"
    ANALYST = "analyst"
    ADMIN = "admin"
