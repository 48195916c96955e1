"""What a fiche Info-social holds, as the social worker writes it.

Every free-text element carries its *source*:

- ``police``: drawn from the analysis of earlier police interventions (calls, reports, what officers
  saw). It may always reach officers, with or without the person's consent.
- ``sante`` (the default): learned from the person, the family or the health and social-services
  network. It reaches officers only under a legal basis: the person's consent, LRSSS arts. 74–76
  (adapted intervention in a mixed practice) or imminent danger.

The API accepts a plain string where an element is expected; a plain string counts as ``sante``, so
that nothing reaches officers without a basis unless the social worker says it is police-derived:
``{"text": "...", "source": "police"}``.

Every string is a `Line` (names, roles, phones, links, ids: no control character at all) or a `Text`
(elements, reasons, notes, justifications: tab and newlines allowed) of dyade.contracts.text: NUL, other
control characters, lone surrogates and U+FFFE/U+FFFF are a 422 naming the field (the form's page says it
too), never a database error.
"""
from __future__ import annotations

import datetime as dt
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from dyade.contracts import ConsentStatus, LegalBasis
from dyade.contracts.text import Line, OptLine, OptText, Text
from services.infosocial.domain.review import today_in_montreal

Source = Literal["police", "sante"]
PERSON_KEY = r"^p_[0-9A-Za-z]{4,64}$"
MAX_ITEMS = 30


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _text_to_item(value: Any) -> Any:
    return {"text": value} if isinstance(value, str) else value


class Item(Model):
    text: Text = Field(min_length=1, max_length=1000)
    source: Source = Field("sante", description="police: tiré des interventions policières; sante: tout le reste.")


ItemIn = Annotated[Item, BeforeValidator(_text_to_item)]


class ContactIn(Model):
    name: Line = Field(min_length=1, max_length=200)
    role: Line = Field(min_length=1, max_length=100, description="proche, intervenante CISSS, médecin...")
    phone: OptLine = Field(None, max_length=60, description="Numéro, poste ou précision (« cell. »).")
    when_to_call: OptLine = Field(None, max_length=500)
    source: Source = "sante"


class ConsentIn(Model):
    status: ConsentStatus
    date: dt.date | None = Field(None, description="Date du consentement ou du refus (défaut: aujourd'hui).")
    scope: list[Annotated[Line, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=20,
        description="Partenaires externes à qui la personne permet de communiquer la fiche (CISSS, organisme...).")
    legal_basis: Literal["lrsss_74_76", "danger_imminent"] | None = Field(
        None, description="Sans consentement: base légale permettant de communiquer les éléments de santé.")
    justification: OptText = Field(None, max_length=2000)

    @model_validator(mode="after")
    def _coherent(self) -> "ConsentIn":
        if self.date and self.date > today_in_montreal():
            raise ValueError("consent.date ne peut pas être dans le futur")
        if self.legal_basis and self.status == ConsentStatus.OBTENU:
            raise ValueError("consent.legal_basis: inutile quand le consentement est obtenu")
        if self.legal_basis and len(self.justification or "") < 10:
            raise ValueError("consent.justification: obligatoire (10 caractères ou plus) avec une base légale "
                             "sans consentement (LRSSS 74–76 ou danger imminent)")
        return self


class FrameContent(Model):
    """The body of one version of a frame."""
    particularites: ItemIn | None = None
    interventions_a_privilegier: list[ItemIn] = Field(default_factory=list, max_length=MAX_ITEMS)
    interventions_a_eviter: list[ItemIn] = Field(default_factory=list, max_length=MAX_ITEMS)
    contacts: list[ContactIn] = Field(default_factory=list, max_length=MAX_ITEMS)
    niveau_tolerance: ItemIn | None = None
    mode_liberation: ItemIn | None = None
    risques: list[ItemIn] = Field(default_factory=list, max_length=MAX_ITEMS)
    pii_link: OptLine = Field(None, max_length=500, description="Référence au plan d'intervention interdisciplinaire.")

    def is_empty(self) -> bool:
        return not (self.particularites or self.interventions_a_privilegier or self.interventions_a_eviter
                    or self.contacts or self.niveau_tolerance or self.mode_liberation or self.risques)


class FrameSubmission(FrameContent):
    """POST /v1/frames and PUT /v1/frames/{id}: a new version, waiting for a second person's approval."""
    person_key: str = Field(pattern=PERSON_KEY, description="Clé pseudonyme de la personne (faite par intake).")
    display_name: OptLine = Field(None, max_length=200, description="Nom affiché (intervenantes seulement).")
    consent: ConsentIn = Field(default_factory=lambda: ConsentIn(status=ConsentStatus.NON_DEMANDE))
    review_due: date | None = Field(None, description="Date de révision (défaut: 12 mois après l'approbation).")
    reason: OptText = Field(None, max_length=500, description="Pourquoi cette version (création, révision annuelle...).")
    owner: OptLine = Field(None, max_length=100, description="Intervenante responsable (défaut: l'autrice).")

    @model_validator(mode="after")
    def _content(self) -> "FrameSubmission":
        if self.is_empty():
            raise ValueError("une fiche doit contenir au moins une particularité, une intervention, un contact, "
                             "un risque, un niveau de tolérance ou un mode de libération")
        if self.review_due and self.review_due <= today_in_montreal():
            raise ValueError("review_due doit être dans le futur")
        return self

    def content(self) -> FrameContent:
        return FrameContent.model_validate(self.model_dump(include=set(FrameContent.model_fields)))


class ConsentRecord(ConsentIn):
    """POST /v1/frames/{id}/consent: takes effect at once (a withdrawal must not wait for an approval)."""
    note: OptText = Field(None, max_length=2000)


DANGER_IMMINENT_DAYS = 3  # an imminent-danger disclosure lapses: the day it is recorded and the next two


def legal_basis_of(status: ConsentStatus | str, override: str | None, recorded_on: date | None = None,
                   today: date | None = None) -> LegalBasis:
    """The basis on which health-derived elements may reach officers. Imminent danger lapses after
    DANGER_IMMINENT_DAYS days: then only police-derived elements remain, until a new basis is recorded."""
    if ConsentStatus(status) == ConsentStatus.OBTENU:
        return LegalBasis.CONSENTEMENT
    if override == LegalBasis.DANGER_IMMINENT.value and danger_lapsed(recorded_on, today):
        return LegalBasis.AUCUNE
    if override:
        return LegalBasis(override)
    return LegalBasis.AUCUNE


def danger_lapsed(recorded_on: date | None, today: date | None) -> bool:
    if recorded_on is None or today is None:
        return False
    return (today - recorded_on).days >= DANGER_IMMINENT_DAYS


class Approval(Model):
    version: int | None = Field(None, ge=1, description="Version approuvée (défaut: la dernière en attente).")
    note: OptText = Field(None, max_length=1000)


class Archive(Model):
    reason: Text = Field(min_length=3, max_length=1000)
