"""From decoded contract events to the plain facts and records the triage stages pass along."""
from __future__ import annotations

from datetime import datetime

from dyade.contracts.calls import CallReceived, CallUpdated
from services.triage.domain.routing import choose_subject
from services.triage.domain.state import CallFacts


def epoch(ts: datetime) -> float:
    return ts.timestamp()


def call_record(event: CallReceived) -> dict:
    """The JSON record of a call that travels between the triage stages (internal topics)."""
    p = event.payload
    return {
        "kind": "call", "call_id": p.call_id, "rev": p.revision, "t": epoch(event.occurred_at),
        "received_at": event.occurred_at.isoformat(), "cat": p.category.value, "flags": [f.value for f in p.flags],
        "prio": p.priority, "lk": p.location.location_key, "sector": p.location.sector,
        "persons": [r.person_key for r in p.persons], "subject": choose_subject(p.persons),
        "caller": p.caller_relation.value, "summary": p.summary, "corr": event.correlation_id,
        # where the dyad goes and what the CAD called it: only for the decision (not kept in the history)
        "addr": p.location.address, "lat": p.location.lat, "lon": p.location.lon, "nature": p.nature_code,
    }


def update_record(event: CallUpdated) -> dict:
    p = event.payload
    return {"kind": "update", "call_id": p.call_id, "t": epoch(event.occurred_at),
            "disp": p.disposition.value if p.disposition else None, "dyad": p.dyad_id,
            "status": p.status.value, "persons": list(p.person_keys)}


def call_facts(r: dict) -> CallFacts:
    return CallFacts(call_id=r["call_id"], revision=r["rev"], t=r["t"], category=r["cat"], flags=tuple(r["flags"]),
                     priority=r["prio"], location_key=r["lk"], sector=r["sector"], person_keys=tuple(r["persons"]),
                     subject=r["subject"], caller_relation=r["caller"], received_at=r["received_at"],
                     summary=r["summary"], address=r.get("addr"), lat=r.get("lat"), lon=r.get("lon"),
                     nature_code=r.get("nature"))  # .get: records of an older worker still in flight
