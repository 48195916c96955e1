"""The register of communications: each time Dyade lets information about a person out to someone — a frame's
view to an officer or a dyad, an identity or a narrative to a social worker, an alert's content to a dyad's
device or to a CAD terminal's webhook, a person's whole file — the service that did it records what (type),
to whom, for what purpose, on what legal basis, with what justification and when, in the same transaction as
the communication's own audit row. The Loi sur les renseignements de santé et de services sociaux (RLRQ,
c. R-22.1, arts. 74–76) asks that a communication to a police force for an adapted intervention in a mixed
practice be recorded in such a register. Info-social keeps it (`infosocial_communications`).

An entry names the person by their pseudonymous key only: never a name, a birth date, a narrative or a
frame's content — what was communicated is its type and its reference (call, frame and version, alert).
"""
from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from dyade.contracts.envelope import Event, Payload
from dyade.contracts.text import Line, OptLine, OptText
from dyade.contracts.vocabulary import InformationType, LegalBasis, Role, Sector

__all__ = ["Channel", "Recipient", "Reference", "CommunicationPayload", "CommunicationRecorded",
           "INFORMATION_LABELS", "ACCESS_RIGHT_LABEL", "ROLE_LABELS", "CHANNEL_LABELS", "SOURCE_LABELS",
           "organisation_of", "PERSON_KEY_PATTERN"]

PERSON_KEY_PATTERN = r"^p_[0-9A-Za-z]{4,64}$"  # a pseudonymous key, so that no name can travel in its place

# How it left: shown to an authenticated reader (API, page, field app), or sent to a machine.
Channel = Literal["lecture", "webhook", "web_push"]


class Recipient(Payload):
    """Who received it. A webhook is named by its host (never its URL's path nor its signing secret)."""
    subject: OptLine = Field(None, max_length=200, description="The reader's token subject; none for a device.")
    role: Role | None = Field(None, description="The reader's role; none for a device or a webhook.")
    organisation: OptLine = Field(None, max_length=200,
                                  description="The organisation or service that received it, in words.")
    channel: Channel = "lecture"
    dyad_id: OptLine = Field(None, max_length=64, description="The dyad, when it went to one.")
    sector: Sector = Field(None, description="The patrol sector of the dyad or of the reader, when relevant.")
    webhook: OptLine = Field(None, max_length=200, description="The webhook's name: the host of the CAD terminal.")


class Reference(Payload):
    """What the communication was about, by reference (ids only)."""
    call_id: OptLine = Field(None, max_length=100)
    call_revision: int | None = Field(None, ge=0)
    referral_id: OptLine = Field(None, max_length=80)
    frame_id: OptLine = Field(None, max_length=100)
    frame_version: int | None = Field(None, ge=1)
    alert_id: OptLine = Field(None, max_length=64)


class CommunicationPayload(Payload):
    person_key: str | None = Field(None, pattern=PERSON_KEY_PATTERN,
                                   description="Pseudonymous key of the person; none when the communication "
                                               "concerns no keyed person (a call's narrative without one).")
    information: InformationType
    recipient: Recipient
    purpose: Line = Field(min_length=1, max_length=200, description="Why, as the reader stated it or the product "
                                                                      "does it.")
    legal_basis: LegalBasis | None = Field(description="On what basis; none only for the export of the person's "
                                                        "file, made under their right of access.")
    justification: OptText = Field(None, max_length=2000,
                                   description="The justification recorded with the legal basis, when one was given.")
    reference: Reference = Field(default_factory=Reference)

    @model_validator(mode="after")
    def _basis_given(self) -> "CommunicationPayload":
        export = self.information == InformationType.DOSSIER_EXPORTE
        if export and self.legal_basis is not None:
            raise ValueError("legal_basis: un export de dossier relève du droit d'accès (aucune base légale)")
        if not export and self.legal_basis is None:
            raise ValueError("legal_basis: obligatoire pour toute communication autre qu'un export de dossier")
        return self


class CommunicationRecorded(Event[CommunicationPayload]):
    """A communication of a person's information, for the register of communications.

    occurred_at: when it was communicated; source: the service that communicated it."""
    TYPE: ClassVar[str] = "communication.recorded"
    VERSION: ClassVar[int] = 1
    payload: CommunicationPayload


# --- the register in words (fr, en) ---------------------------------------------------------------------------
INFORMATION_LABELS: dict[InformationType, tuple[str, str]] = {
    InformationType.FICHE_VUE_POLICIERE: ("Vue policière de la fiche Info-social", "Info-social frame, police view"),
    InformationType.FICHE_COMPLETE: ("Fiche Info-social complète", "Complete Info-social frame"),
    InformationType.FICHE_VUE_REPARTITION: ("Fiche Info-social, vue de la répartition (existence et notes de "
                                            "sécurité)", "Info-social frame, dispatch view"),
    InformationType.FICHE_VUE_ANALYSTE: ("Fiche Info-social, vue de l'analyste (sans contenu)",
                                         "Info-social frame, analyst view"),
    InformationType.IDENTITE: ("Identité de la personne", "Identity of the person"),
    InformationType.RECIT: ("Récit de l'appel ou de la référence tel que reçu", "Narrative as received"),
    InformationType.ALERTE_APPAREIL: ("Contenu d'une alerte envoyé aux appareils de la dyade",
                                      "Alert content pushed to the dyad's devices"),
    InformationType.ALERTE_WEBHOOK: ("Contenu d'une alerte envoyé au terminal du RAO (webhook)",
                                     "Alert content sent to the CAD terminal (webhook)"),
    InformationType.DOSSIER_EXPORTE: ("Dossier complet de la personne (droit d'accès)",
                                      "The person's whole file (access right)"),
}

# The legal bases are worded in dyade.contracts.vocabulary.LEGAL_BASIS_LABELS; an export has none of them.
ACCESS_RIGHT_LABEL = ("Droit d'accès de la personne à son dossier", "The person's right of access to their file")

ROLE_LABELS: dict[Role, tuple[str, str]] = {
    Role.DISPATCH: ("répartition (RAO)", "dispatch (CAD)"),
    Role.OFFICER: ("policier ou policière", "police officer"),
    Role.CALLTAKER: ("préposé·e 9-1-1", "9-1-1 call-taker"),
    Role.PARTNER: ("partenaire", "partner"),
    Role.SOCIAL_WORKER: ("intervenante sociale", "social worker"),
    Role.DYAD: ("dyade", "dyad"),
    Role.SUPERVISOR: ("superviseur·e", "supervisor"),
    Role.ANALYST: ("analyste", "analyst"),
    Role.ADMIN: ("administrateur·trice", "administrator"),
}

CHANNEL_LABELS: dict[str, tuple[str, str]] = {
    "lecture": ("lecture à l'écran", "read on screen"),
    "webhook": ("envoi par webhook", "sent by webhook"),
    "web_push": ("envoi par Web Push", "sent by Web Push"),
}

SOURCE_LABELS: dict[str, tuple[str, str]] = {
    "intake": ("Réception des appels (intake)", "Call intake"),
    "infosocial": ("Info-social", "Info-social"),
    "notifier": ("Application terrain et alertes (notifier)", "Field app and alerts (notifier)"),
}

_ORGANISATION_OF_ROLE: dict[Role, str] = {
    Role.DISPATCH: "Centre de répartition (RAO)",
    Role.OFFICER: "Service de police",
    Role.CALLTAKER: "Centre d'appels 9-1-1",
    Role.PARTNER: "Organisme partenaire",
    Role.SOCIAL_WORKER: "Intervention sociale de la pratique mixte",
    Role.DYAD: "Équipe mixte police – intervention sociale (dyade)",
    Role.SUPERVISOR: "Service de police (supervision)",
    Role.ANALYST: "Analyse et évaluation",
    Role.ADMIN: "Administration de Dyade",
}


def organisation_of(role: Role | str) -> str:
    """The organisation a reader of `role` belongs to, in words (tokens carry no organisation claim)."""
    return _ORGANISATION_OF_ROLE[Role(role)]
