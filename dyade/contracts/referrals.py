"""Social referrals (références sociales) and their life in the social worker's queue."""
from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from dyade.contracts.envelope import Event, Payload, registry
from dyade.contracts.vocabulary import Clientele, Criterion, ReferralStatus, ReferrerType

__all__ = ["ReferralPayload", "ReferralFiled", "ReferralSuggestedPayload", "ReferralSuggested",
           "ReferralStatusPayload", "ReferralStatusChanged"]


class ReferralPayload(Payload):
    referral_id: str
    referrer_type: ReferrerType
    referrer_key: str = Field(description="Pseudonymous key of the referring officer or partner.")
    person_key: str
    clientele: tuple[Clientele, ...] = ()
    criteria: tuple[Criterion, ...] = Field(min_length=1)
    linked_call_ids: tuple[str, ...] = ()
    summary: str | None = Field(None, max_length=2000)


class ReferralFiled(Event[ReferralPayload]):
    TYPE: ClassVar[str] = "referral.filed"
    VERSION: ClassVar[int] = 1
    payload: ReferralPayload


class ReferralSuggestedPayload(Payload):
    suggestion_id: str
    person_key: str
    call_id: str
    criteria: tuple[Criterion, ...]
    reasons: tuple[str, ...] = ()
    ruleset_version: str


class ReferralSuggested(Event[ReferralSuggestedPayload]):
    """Triage found a person who meets admissibility criteria and has no open file."""
    TYPE: ClassVar[str] = "referral.suggested"
    VERSION: ClassVar[int] = 1
    payload: ReferralSuggestedPayload


class ReferralStatusPayload(Payload):
    referral_id: str
    person_key: str
    status: ReferralStatus
    previous: ReferralStatus | None = None
    first_contact_at: datetime | None = None
    referrer_type: ReferrerType | None = None
    criteria: tuple[Criterion, ...] = ()
    received_at: datetime | None = None


class ReferralStatusChanged(Event[ReferralStatusPayload]):
    TYPE: ClassVar[str] = "referral.status"  # "referral.status_changed" before it agreed with its topic
    VERSION: ClassVar[int] = 1
    payload: ReferralStatusPayload


registry.rename("referral.status_changed", ReferralStatusChanged.TYPE)
