"""What triage remembers about a place (location key): its recent calls, for location recurrence and to
know whom each call was about (so a call's updates follow it), updates that came before their call, and —
for calls about nobody, the place being their subject — the subject state of `state.py`.

    recent   {call_id: PlaceCall}              bounded like a person's history (count and age)
    overflow Overflow | None                   counts per day of the calls pushed out of `recent` (recurrence.py)
    pending  {call_id: [UpdateRecord, ...]}    updates whose call has not arrived yet (bounded)
    state    SubjectState | None               the place as the subject of calls about nobody
"""
from __future__ import annotations

import msgspec

from services.triage.domain.config import RulesetConfig
from services.triage.domain import recurrence as R
from services.triage.domain.recurrence import DAY, Overflow
from services.triage.domain.records import UpdateRecord
from services.triage.domain.state import MAX_PENDING, SubjectState


class PlaceCall(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False, array_like=True):
    time: float                           # event time, epoch seconds
    crisis: bool
    subject: str | None = None            # the person the call is about (None: nobody, the place)


class PlaceState(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    recent: dict[str, PlaceCall] = msgspec.field(default_factory=dict)
    pending: dict[str, list[UpdateRecord]] = msgspec.field(default_factory=dict)
    state: SubjectState | None = None
    overflow: Overflow | None = None


def new_place() -> PlaceState:
    return PlaceState()


def record_call(place: PlaceState, call_id: str, t: float, crisis: bool, subject: str | None,
                cfg: RulesetConfig) -> None:
    recent = place.recent
    if call_id not in recent and R.gone(place.overflow, call_id):
        return  # pushed out lately and counted in its day: a redelivery or a revision
    recent[call_id] = PlaceCall(time=t, crisis=crisis, subject=subject)
    newest = max(e.time for e in recent.values())
    for c in [c for c, e in recent.items() if newest - e.time > cfg.history_max_days * DAY]:
        del recent[c]
    if len(recent) > cfg.history_max_calls:
        overflow = place.overflow
        for c in sorted(recent, key=lambda c: (recent[c].time, c))[: len(recent) - cfg.history_max_calls]:
            gone = recent.pop(c)
            overflow = R.spill(overflow, c, gone.time, gone.crisis)
        place.overflow = overflow
    if place.overflow is not None:
        R.forget_before(place.overflow, newest - cfg.history_max_days * DAY)


def recurrence(place: PlaceState, at: float) -> tuple[dict[str, int], int]:
    """Calls at the place per window and crisis calls in 30 days, up to `at` (event time)."""
    t = R.tally(((e.time, e.crisis, "") for e in place.recent.values()), at, place.overflow)
    return t.calls, t.crisis["30j"]


def knows(place: PlaceState, call_id: str) -> bool:
    return call_id in place.recent


def subject_of(place: PlaceState, call_id: str) -> str | None:
    return place.recent[call_id].subject


def hold(place: PlaceState, update: UpdateRecord) -> None:
    """Keep an update until its call arrives (the oldest calls' updates go first past the bound)."""
    pending = place.pending.setdefault(update.call_id, [])
    if update not in pending:
        pending.append(update)
    if len(place.pending) > MAX_PENDING:
        oldest = sorted(place.pending, key=lambda c: min(u.time for u in place.pending[c]))
        for call_id in oldest[: len(place.pending) - MAX_PENDING]:
            del place.pending[call_id]


def release(place: PlaceState, call_id: str) -> list[UpdateRecord]:
    return sorted(place.pending.pop(call_id, []), key=lambda u: u.time)
