"""From decoded contract events to the records the triage stages pass along, and the facts a decision reads."""
from __future__ import annotations

from datetime import datetime

from dyade.contracts.calls import CallReceived, CallUpdated
from services.triage.domain.records import CallRecord, UpdateRecord
from services.triage.domain.routing import choose_subject
from services.triage.domain.state import CallFacts


def epoch(ts: datetime) -> float:
    return ts.timestamp()


def call_record(event: CallReceived) -> CallRecord:
    p = event.payload
    return CallRecord(
        call_id=p.call_id, revision=p.revision, time=epoch(event.occurred_at),
        received_at=event.occurred_at.isoformat(), category=p.category.value, flags=[f.value for f in p.flags],
        priority=p.priority, location_key=p.location.location_key, sector=p.location.sector,
        person_keys=[r.person_key for r in p.persons], subject=choose_subject(p.persons),
        caller_relation=p.caller_relation.value, summary=p.summary, correlation_id=event.correlation_id,
        address=p.location.address, lat=p.location.lat, lon=p.location.lon, nature_code=p.nature_code)


def update_record(event: CallUpdated) -> UpdateRecord:
    p = event.payload
    return UpdateRecord(call_id=p.call_id, time=epoch(event.occurred_at),
                        disposition=p.disposition.value if p.disposition else None, dyad_id=p.dyad_id,
                        status=p.status.value, person_keys=list(p.person_keys))


def call_facts(r: CallRecord) -> CallFacts:
    return CallFacts(call_id=r.call_id, revision=r.revision, t=r.time, category=r.category, flags=tuple(r.flags),
                     priority=r.priority, location_key=r.location_key, sector=r.sector,
                     person_keys=tuple(r.person_keys), subject=r.subject, caller_relation=r.caller_relation,
                     received_at=r.received_at, summary=r.summary, address=r.address, lat=r.lat, lon=r.lon,
                     nature_code=r.nature_code)
