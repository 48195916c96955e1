"""What the outside world sends to intake: the dispatch system's call JSON (HTTP or the raw topic),
call updates and social referrals. These carry identities; only intake ever reads them.

Every string is a `Line` or a `Text` (dyade.contracts.text): a control character, a lone surrogate or
U+FFFE/U+FFFF is a 422 naming the field, before anything reaches the database. Every time is an `InboundTime`:
with a UTC offset and not before EARLIEST_TIME (a time in the future is refused by intake against its own
clock: services/intake/domain/calls.py, check_not_future)."""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from dyade.contracts.text import Line, OptLine, OptText
from dyade.contracts.vocabulary import (
    NATURE_CODE_MAX_LENGTH, SECTOR_MAX_LENGTH, CallerRelation, CallStatus, Clientele, Criterion, Disposition,
    ObservedFlag, PersonRole, ReferrerType,
)

__all__ = ["PersonIdentity", "CallLocation", "CallSubmission", "CallUpdateSubmission", "ReferralSubmission"]

# Before this a time is a wrong clock or a default value, not a call. It also keeps every inbound time
# convertible to UTC: 0001-01-01T00:00:00+14:00 is before 0001-01-01 UTC, past datetime's range.
EARLIEST_TIME = datetime(1970, 1, 1, tzinfo=timezone.utc)


def time_problem(at: datetime) -> str | None:
    """Why an aware time cannot be accepted, or None (EIDO times are checked with it too)."""
    if at < EARLIEST_TIME:  # compared as instants: no conversion, so no overflow
        return f"date trop ancienne ({at.isoformat()}), antérieure au {EARLIEST_TIME.isoformat()}"
    return None


def _check_time(at: datetime) -> datetime:
    if (problem := time_problem(at)) is not None:
        raise PydanticCustomError("date_hors_limites", "{problem}", {"problem": problem})
    return at


InboundTime = Annotated[AwareDatetime, AfterValidator(_check_time)]


class Inbound(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PersonIdentity(Inbound):
    """A person as the CAD or a referrer names them. Either a name with a birth date, or a CAD person id."""
    first_name: OptLine = Field(None, max_length=100)
    last_name: OptLine = Field(None, max_length=100)
    birth_date: date | None = None
    cad_person_id: OptLine = Field(None, max_length=64)
    role: PersonRole = PersonRole.SUJET

    @model_validator(mode="after")
    def _identifiable(self) -> "PersonIdentity":
        if not self.cad_person_id and not (self.last_name and (self.first_name or self.birth_date)):
            raise ValueError("une personne doit avoir un cad_person_id, ou un nom avec un prénom ou une date de naissance")
        if self.birth_date and not (date(1900, 1, 1) <= self.birth_date <= date.today()):
            raise ValueError("birth_date hors limites")
        return self


class CallLocation(Inbound):
    address: Line = Field(min_length=1, max_length=200, description="Civic address, block or intersection.")
    sector: OptLine = Field(None, max_length=SECTOR_MAX_LENGTH)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)


class CallSubmission(Inbound):
    call_id: Line = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$")
    revision: int = Field(1, ge=1, le=10_000)
    received_at: InboundTime
    nature_code: Line = Field(min_length=1, max_length=NATURE_CODE_MAX_LENGTH)
    priority: int = Field(3, ge=1, le=5)
    location: CallLocation
    persons: list[PersonIdentity] = Field(default_factory=list, max_length=20)
    caller_relation: CallerRelation = CallerRelation.INCONNU
    flags: list[ObservedFlag] = Field(default_factory=list, max_length=20)
    narrative: OptText = Field(None, max_length=4000)


class CallUpdateSubmission(Inbound):
    status: CallStatus
    at: InboundTime
    disposition: Disposition | None = None
    dyad_id: OptLine = Field(None, max_length=64)

    @model_validator(mode="after")
    def _disposition_when_cleared(self) -> "CallUpdateSubmission":
        if self.disposition and self.status != CallStatus.CLEARED:
            raise ValueError("une disposition n'est donnée qu'avec le statut cleared")
        return self


class ReferralSubmission(Inbound):
    referral_id: OptLine = Field(None, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$")
    referrer_type: ReferrerType
    referrer_id: Line = Field(min_length=1, max_length=100, description="Badge number or partner identifier.")
    person: PersonIdentity
    clientele: list[Clientele] = Field(default_factory=list)
    criteria: list[Criterion] = Field(default_factory=list)
    linked_call_ids: list[Line] = Field(default_factory=list, max_length=100)
    narrative: OptText = Field(None, max_length=8000)
    filed_at: InboundTime | None = None

    @model_validator(mode="after")
    def _has_criterion(self) -> "ReferralSubmission":
        if not self.criteria:
            raise ValueError("une référence sociale doit cocher au moins un critère d'admissibilité "
                             "(recurrence, complexite_intervention, dangerosite_previsible, dangerosite_imminente, "
                             "intervention_haut_risque, implication_partenaires)")
        return self
