"""Triage decisions: recurrence and danger, with the reasons for every score."""
from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from dyade.contracts.envelope import Event, Payload, registry
from dyade.contracts.vocabulary import (
    NATURE_CODE_MAX_LENGTH, CallCategory, Criterion, DangerLevel, Sector, TriageLevel,
)

__all__ = ["Reason", "Recurrence", "Danger", "FrameStatus", "DecisionPayload", "TriageDecided",
           "OverridePayload", "RecurrenceOverridden"]


class Reason(Payload):
    factor: str = Field(description="Rule id, e.g. `danger.arme` or `recurrence.30j`.")
    label: str = Field(description="What the rule means, in French.")
    observed: str = Field(description="The value that triggered it.")
    weight: float
    contribution: float
    source: str = Field("", description="Where the rule comes from (practice, study, policy).")


class Recurrence(Payload):
    person_calls: dict[str, int] = Field(default_factory=dict, description="Calls about the person per window ('7j', '30j'...).")
    location_calls: dict[str, int] = Field(default_factory=dict, description="Calls at the location per window.")
    decayed_score: float = 0.0
    grande_utilisatrice: bool = False
    overridden: bool = False


class Danger(Payload):
    level: DangerLevel
    score: float


# The reason a decision gives when it saw an active Info-social frame (what the alert's reader looks for).
FRAME_REASON = "fiche.active"


class FrameStatus(Payload):
    exists: bool = False
    stale: bool = False
    version: int | None = None


class DecisionPayload(Payload):
    decision_id: str = Field(description="Deterministic: the same call revision and rule set give the same id.")
    call_id: str
    call_revision: int = 1
    person_keys: tuple[str, ...] = ()
    location_key: str
    sector: Sector = None
    address: str | None = Field(None, description="Block-level address of the call (where the dyad goes).")
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    nature_code: str | None = Field(None, max_length=NATURE_CODE_MAX_LENGTH, description="The CAD's own call-type code.")
    category: CallCategory
    level: TriageLevel
    danger: Danger
    recurrence: Recurrence
    criteria_met: tuple[Criterion, ...] = ()
    frame: FrameStatus = FrameStatus()
    reasons: tuple[Reason, ...] = ()
    ruleset_version: str
    call_received_at: datetime
    summary: str | None = None


class TriageDecided(Event[DecisionPayload]):
    """occurred_at is the call's received time; produced_at minus it is the triage delay."""
    TYPE: ClassVar[str] = "triage.decided"
    VERSION: ClassVar[int] = 1
    payload: DecisionPayload


class OverridePayload(Payload):
    person_key: str
    recurrent: bool = Field(description="False: the person is no longer to be treated as recurrent.")
    # The social worker's reasons stay in Info-social (infosocial_recurrence_overrides): free text about a
    # person must not travel. Kept optional so that overrides already in the topic still read.
    note: str | None = Field(None, max_length=2000, description="Obsolète: jamais rempli (le motif reste dans "
                                                                "Info-social).")
    author_key: str
    until: datetime | None = None


class RecurrenceOverridden(Event[OverridePayload]):
    """A social worker's manual decision on a person's recurrence; triage honours it."""
    TYPE: ClassVar[str] = "triage.overridden"  # "triage.recurrence_overridden" before it agreed with its topic
    VERSION: ClassVar[int] = 1
    payload: OverridePayload


registry.rename("triage.recurrence_overridden", RecurrenceOverridden.TYPE)
