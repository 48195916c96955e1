"""Calls from the dispatch system (CAD / 911), as Dyade publishes them after validation."""
from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from dyade.contracts.envelope import Event, Payload, registry
from dyade.contracts.vocabulary import (
    CallCategory, CallerRelation, CallStatus, Disposition, MatchKind, ObservedFlag, PersonRole, Sector,
    NATURE_CODE_MAX_LENGTH,
)

__all__ = ["PersonRef", "Location", "CallPayload", "CallReceived", "CallUpdatePayload", "CallUpdated"]


class PersonRef(Payload):
    """A person as events know them: a pseudonymous key, never the identity."""
    person_key: str = Field(description="Keyed HMAC of the normalised identity (or CAD person id).")
    role: PersonRole
    match: MatchKind = MatchKind.NEW
    match_confidence: float = Field(1.0, ge=0, le=1)


class Location(Payload):
    location_key: str = Field(description="Stable key of the normalised address (block or intersection).")
    address: str | None = Field(None, description="Block-level address as the source gave it.")
    sector: Sector = None
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)


class CallPayload(Payload):
    call_id: str
    revision: int = Field(1, ge=1)
    nature_code: str = Field(max_length=NATURE_CODE_MAX_LENGTH, description="The CAD's own call-type code.")
    category: CallCategory
    priority: int = Field(3, ge=1, le=5, description="1 = most urgent.")
    location: Location
    persons: tuple[PersonRef, ...] = ()
    caller_relation: CallerRelation = CallerRelation.INCONNU
    flags: tuple[ObservedFlag, ...] = ()
    summary: str | None = Field(None, max_length=500, description="Short narrative for the responding dyad.")
    source_system: str = "cad"

    @property
    def location_key(self) -> str:
        """The topic's partitioning key."""
        return self.location.location_key


class CallReceived(Event[CallPayload]):
    """A call accepted by intake. occurred_at is the CAD's received time."""
    TYPE: ClassVar[str] = "call.received"
    VERSION: ClassVar[int] = 2
    payload: CallPayload


@registry.upcaster("call.received", 1)
def _call_received_v1_to_v2(data: dict) -> dict:
    """v1 carried the address and sector flat on the payload and had no caller relation."""
    payload = dict(data["payload"])
    payload["location"] = {
        "location_key": payload.pop("location_key"),
        "address": payload.pop("address", None),
        "sector": payload.pop("sector", None),
    }
    payload.setdefault("caller_relation", CallerRelation.INCONNU.value)
    return {**data, "payload": payload}


class CallUpdatePayload(Payload):
    call_id: str
    status: CallStatus
    disposition: Disposition | None = None
    dyad_id: str | None = Field(None, description="Set when a dyad attended the call.")
    person_keys: tuple[str, ...] = ()
    sector: Sector = None
    location_key: str | None = Field(None, description="The call's location key (set by intake; the topic's "
                                                        "partitioning key, so an update follows its call).")


class CallUpdated(Event[CallUpdatePayload]):
    """Dispatched, on scene, cleared (with a disposition). occurred_at is the CAD's status time."""
    TYPE: ClassVar[str] = "call.updated"
    VERSION: ClassVar[int] = 2
    payload: CallUpdatePayload


@registry.upcaster("call.updated", 1)
def _call_updated_v1_to_v2(data: dict) -> dict:
    """v2 is the version of calls.updated.v2, keyed by the call's location: the payload is the same, an
    update written before intake set its `location_key` keeps None (partitioned by call id, as then)."""
    return data
