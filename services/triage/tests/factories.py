"""Small builders for triage tests."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from services.triage.domain.records import UpdateRecord
from services.triage.domain.state import CallFacts

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc).timestamp()
DAY = 86_400.0


def call(call_id: str = "c1", *, days: float = 0, category: str = "etat_mental_perturbe", flags=(), subject="p_1",
         location="l_1", revision: int = 1, caller: str = "famille", persons=None) -> CallFacts:
    t = T0 + days * DAY
    return CallFacts(call_id=call_id, revision=revision, t=t, category=category, flags=tuple(flags), priority=3,
                     location_key=location, sector="S1",
                     person_keys=tuple(persons if persons is not None else ([subject] if subject else [])),
                     subject=subject, caller_relation=caller,
                     received_at=datetime.fromtimestamp(t, timezone.utc).isoformat())


def at(days: float) -> float:
    return T0 + days * DAY


def iso(days: float) -> datetime:
    return datetime.fromtimestamp(T0, timezone.utc) + timedelta(days=days)


def update(call_id: str, t: float, *, disposition: str | None = None, dyad: str | None = None) -> UpdateRecord:
    return UpdateRecord(call_id=call_id, time=t, disposition=disposition, dyad_id=dyad, status="cleared",
                        person_keys=[])
