"""Info-social frames as other services see them: the police view, kept current."""
from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import Field

from dyade.contracts.envelope import Event, Payload
from dyade.contracts.vocabulary import ConsentStatus, LegalBasis

__all__ = ["Contact", "PoliceView", "FrameCurrentPayload", "FrameCurrent", "FrameChangePayload", "FrameChanged"]


class Contact(Payload):
    name: str
    role: str = Field(description="proche, intervenant, médecin...")
    phone: str | None = None
    when_to_call: str | None = None


class PoliceView(Payload):
    """What an officer or a dyad may see. Health details only with consent or a legal basis; without consent, a
    suicide-related one only when the social worker recorded that the disclosure test is met for it — otherwise
    the note « Renseignement lié au suicide retenu : critère de divulgation non consigné » heads `risques` in
    its place (dispatch's safety notes carry it too), so the dyad knows to ask the social worker."""
    interventions_a_privilegier: tuple[str, ...] = ()
    interventions_a_eviter: tuple[str, ...] = ()
    contacts: tuple[Contact, ...] = ()
    niveau_tolerance: str | None = None
    mode_liberation: str | None = None
    risques: tuple[str, ...] = Field(
        (), description="Risques connus; en tête, la note d'un renseignement lié au suicide retenu, s'il y en a un.")
    particularites: str | None = None
    legal_basis: LegalBasis = LegalBasis.AUCUNE


class FrameCurrentPayload(Payload):
    person_key: str
    frame_id: str
    version: int
    stale: bool
    review_due: date
    consent: ConsentStatus
    police_view: PoliceView


class FrameCurrent(Event[FrameCurrentPayload]):
    """The current police view of a person's frame (compacted topic keyed by person; tombstone on archive)."""
    TYPE: ClassVar[str] = "frame.current"
    VERSION: ClassVar[int] = 1
    payload: FrameCurrentPayload


class FrameChangePayload(Payload):
    frame_id: str
    person_key: str
    change: Literal["approved", "review_due", "stale", "archived", "consent_recorded"]
    version: int
    first_activation: bool = False
    review_due: date | None = None


class FrameChanged(Event[FrameChangePayload]):
    TYPE: ClassVar[str] = "frame.changed"
    VERSION: ClassVar[int] = 1
    payload: FrameChangePayload
