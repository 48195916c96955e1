"""The records the place stage hands to the person stage on the internal topic (key: the person), as typed
structs: their JSON is what travels. Records of a worker older than these types are read by `upcast.py`."""
from __future__ import annotations

import msgspec


class CallRecord(msgspec.Struct, tag_field="kind", tag="call", kw_only=True, omit_defaults=True):
    """A call as the stages pass it along (built from CallReceived at the edge, `facts.call_record`)."""
    call_id: str
    revision: int
    time: float                           # event time, epoch seconds
    received_at: str                      # ISO time as intake gave it
    category: str
    flags: list[str]
    priority: int
    location_key: str
    sector: str | None
    person_keys: list[str]
    subject: str | None                   # the person the decision is about (routing.choose_subject)
    caller_relation: str
    correlation_id: str
    summary: str | None = None
    # where the dyad goes and what the CAD called it: only for the decision (not kept in the history)
    address: str | None = None
    lat: float | None = None
    lon: float | None = None
    nature_code: str | None = None
    # set by the place stage on a call it sends on to its person: the place's recurrence as of the call
    location_counts: dict[str, int] | None = None
    location_crisis_30d: int | None = None


class UpdateRecord(msgspec.Struct, tag_field="kind", tag="update", kw_only=True, gc=False):
    """A call's status change: its outcome (`disposition`) and whether a dyad attended."""
    call_id: str
    time: float                           # event time, epoch seconds
    disposition: str | None
    dyad_id: str | None
    status: str
    person_keys: list[str]


HandOff = CallRecord | UpdateRecord
