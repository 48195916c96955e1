"""What triage remembers about a subject (a person, or a location for calls without a person).

Typed structs (msgspec): a faust table keeps each state as its msgpack bytes, which its changelog carries
(the shapes before are read by `upcast.py`). A state is a map of its parts; each of the many items in them
(a call, a kept decision, …) is an array of its fields (`array_like`): field names repeated in every item
were a fifth of a state's bytes. A state is decoded for a batch and dropped after it; it never
holds a reference back to itself, so its structs stay out of the cyclic garbage collector (`gc=False`: each
batch makes thousands of them, and tracking them cost about a tenth of the worker's CPU).

Every change is idempotent — applying the same event twice leaves the same state — and every fact carries
its event time, so a decision can look at the state "as of" the call's own time: events that happened later
never change it.

    calls      {call_id: CallEntry}            the last `history_max_calls` calls
    overflow   Overflow | None                 the calls pushed out of `calls`, counted per civil day
               (recurrence.py): windows stay exact past the bound
    pending    {call_id: [UpdateRecord, ...]}  updates that arrived before their call
    referrals  {referral_id: [ReferralStep, ...]}
    frames     [FrameEvent, ...]               sorted by time
    overrides  [Override, ...]                 sorted by time
    suggested  Suggestion | None               last referral suggestion (processing state)
    decisions  [KeptDecision, ...]             the last few, for the read API

A decision is kept compressed against a preset dictionary of typical decisions (packing.py), as raw bytes;
what was kept before is still read.
"""
from __future__ import annotations

from dataclasses import dataclass

import msgspec

from dyade.contracts.vocabulary import CallCategory
from services.triage.domain.config import RulesetConfig
from services.triage.domain import recurrence as R
from services.triage.domain.packing import pack, unpack
from services.triage.domain.recurrence import DAY, Overflow
from services.triage.domain.records import UpdateRecord

CRISIS = frozenset(c.value for c in CallCategory if c.is_crisis)  # one definition, in the contracts
CLOSED_REFERRAL = {"refusee", "fermee"}
HIGH_RISK_DISPOSITIONS = {"transport_p38", "arrestation"}
HIGH_RISK_FLAGS = {"arme", "menaces_de_mort", "gestes_suicidaires"}
MAX_PENDING = 50
MAX_EVENTS = 20
MAX_DECISIONS = 5


class CallEntry(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False, array_like=True):
    """A call in the subject's history, and what its updates said."""
    time: float                           # event time, epoch seconds
    revision: int
    category: str
    flags: list[str]                      # sorted
    disposition: str | None = None
    disposition_time: float | None = None
    dyad_time: float | None = None        # when a dyad attended (latest update saying so)


class ReferralStep(msgspec.Struct, order=True, gc=False, array_like=True):
    time: float
    status: str


class FrameEvent(msgspec.Struct, kw_only=True, gc=False, array_like=True):
    """The person's Info-social frame from `time` on: current (frames.current.v1), or archived (its tombstone)."""
    time: float
    active: bool
    version: int | None
    stale: bool                           # due for review
    risk_count: int                       # risks the police view notes


class Override(msgspec.Struct, kw_only=True, gc=False, array_like=True):
    """A social worker's recurrence override, from `time` until `until` (None: no end)."""
    time: float
    recurrent: bool
    until: float | None


class Suggestion(msgspec.Struct, kw_only=True, gc=False, array_like=True):
    """The last referral suggestion made for the person."""
    criteria: list[str]                   # sorted
    call_id: str
    time: float


class KeptDecision(msgspec.Struct, kw_only=True, gc=False, array_like=True):
    time: float
    call_id: str
    revision: int
    packed: bytes                         # the decision's JSON, compressed (packing.py)


class SubjectState(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    calls: dict[str, CallEntry] = msgspec.field(default_factory=dict)
    pending: dict[str, list[UpdateRecord]] = msgspec.field(default_factory=dict)
    referrals: dict[str, list[ReferralStep]] = msgspec.field(default_factory=dict)
    frames: list[FrameEvent] = msgspec.field(default_factory=list)
    overrides: list[Override] = msgspec.field(default_factory=list)
    suggested: Suggestion | None = None
    decisions: list[KeptDecision] = msgspec.field(default_factory=list)
    overflow: Overflow | None = None


def new_state() -> SubjectState:
    return SubjectState()


@dataclass(frozen=True)
class CallFacts:
    """A call as triage needs it (built from CallReceived at the edge)."""
    call_id: str
    revision: int
    t: float                      # event time, epoch seconds
    category: str
    flags: tuple[str, ...]
    priority: int
    location_key: str
    sector: str | None
    person_keys: tuple[str, ...]
    subject: str | None           # the person the decision is about, None: the location is the subject
    caller_relation: str
    received_at: str              # ISO time as intake gave it
    summary: str | None = None
    address: str | None = None    # block-level address, coordinates and CAD code: carried to the decision
    lat: float | None = None      # being emitted (and the few decisions kept), never into the history
    lon: float | None = None
    nature_code: str | None = None

    @property
    def crisis(self) -> bool:
        return self.category in CRISIS


def record_call(state: SubjectState, call: CallFacts, cfg: RulesetConfig) -> None:
    """Add or revise the call in the subject's history (a newer revision replaces an older one)."""
    calls = state.calls
    old = calls.get(call.call_id)
    if old is not None and old.revision > call.revision:
        return
    if old is None and R.gone(state.overflow, call.call_id):
        return  # pushed out of the detail lately and counted in its day: a redelivery or a revision
    entry = CallEntry(time=call.t, revision=call.revision, category=call.category, flags=sorted(call.flags))
    if old is not None:  # a revision keeps what the call's updates said
        entry.disposition, entry.disposition_time = old.disposition, old.disposition_time
        entry.dyad_time = old.dyad_time
    calls[call.call_id] = entry
    for update in state.pending.pop(call.call_id, []):
        _apply_update(entry, update)
    _bound(state, cfg)


def record_update(state: SubjectState, update: UpdateRecord) -> None:
    """A status change (outcome, dyad on scene); kept aside when its call is not known yet."""
    entry = state.calls.get(update.call_id)
    if entry is not None:
        _apply_update(entry, update)
        return
    if R.gone(state.overflow, update.call_id):
        return  # its call is only counted now: no detail left to update
    pending = state.pending.setdefault(update.call_id, [])
    if update not in pending:
        pending.append(update)
        pending.sort(key=_time)
    if len(state.pending) > MAX_PENDING:  # drop the oldest calls' pending updates
        oldest = sorted(state.pending, key=lambda c: state.pending[c][0].time)
        for call_id in oldest[: len(state.pending) - MAX_PENDING]:
            del state.pending[call_id]


def _time(item) -> float:
    return item.time


def _apply_update(entry: CallEntry, update: UpdateRecord) -> None:
    if update.disposition and (entry.disposition_time is None or update.time >= entry.disposition_time):
        entry.disposition, entry.disposition_time = update.disposition, update.time
    if update.dyad_id and (entry.dyad_time is None or update.time > entry.dyad_time):
        entry.dyad_time = update.time


def _bound(state: SubjectState, cfg: RulesetConfig) -> None:
    calls = state.calls
    if not calls:
        return
    newest = max(e.time for e in calls.values())
    too_old = [c for c, e in calls.items() if newest - e.time > cfg.history_max_days * DAY]
    for c in too_old:
        del calls[c]
    if len(calls) > cfg.history_max_calls:
        overflow = state.overflow
        for c in sorted(calls, key=lambda c: (calls[c].time, c))[: len(calls) - cfg.history_max_calls]:
            e = calls.pop(c)
            overflow = R.spill(overflow, c, e.time, e.category in CRISIS, e.category)
        state.overflow = overflow
    if state.overflow is not None:
        R.forget_before(state.overflow, newest - cfg.history_max_days * DAY)


def record_referral(state: SubjectState, referral_id: str, t: float, status: str) -> None:
    steps = state.referrals.setdefault(referral_id, [])
    step = ReferralStep(t, status)
    if step not in steps:
        steps.append(step)
        steps.sort()
        del steps[:-MAX_EVENTS]
    if len(state.referrals) > MAX_EVENTS:
        by_last = sorted(state.referrals, key=lambda r: state.referrals[r][-1].time)
        for r in by_last[: len(state.referrals) - MAX_EVENTS]:
            del state.referrals[r]


def record_frame(state: SubjectState, t: float, *, active: bool, version: int | None = None, stale: bool = False,
                 risk_count: int = 0) -> None:
    _insert_sorted(state.frames, FrameEvent(time=t, active=active, version=version, stale=stale,
                                            risk_count=risk_count))


def record_override(state: SubjectState, t: float, *, recurrent: bool, until: float | None) -> None:
    _insert_sorted(state.overrides, Override(time=t, recurrent=recurrent, until=until))


def _insert_sorted(items: list, item: FrameEvent | Override) -> None:
    if item in items:
        return
    items.append(item)
    items.sort(key=_event_order)
    del items[:-MAX_EVENTS]


def _event_order(item: FrameEvent | Override) -> tuple[float, str]:
    """By time; events of one instant in a fixed order, whatever their arrival: the text of their values, as
    when they were kept as lists."""
    return item.time, repr(list(msgspec.structs.astuple(item)))


# --- the state as of a given event time -------------------------------------------------------------

def recurrence_as_of(state: SubjectState, at: float, half_life_days: float,
                     exclude: CallFacts | None = None) -> R.Tally:
    """The subject's calls up to `at` per window (exact past the detail), crisis categories, domestic-violence
    calls and decayed score over the year — without the call `exclude` (the one being decided)."""
    skip = exclude.call_id if exclude is not None else None
    entries = ((e.time, e.category in CRISIS, e.category) for c, e in state.calls.items() if c != skip)
    return R.tally(entries, at, state.overflow, half_life_days,
                   exclude=(exclude.call_id, exclude.crisis, exclude.category) if exclude is not None else None)


def frame_as_of(state: SubjectState, at: float) -> FrameEvent | None:
    """The latest frame event at or before `at` (None: no frame ever)."""
    current = None
    for item in state.frames:
        if item.time <= at:
            current = item
    return current


def open_referrals(state: SubjectState, at: float) -> list[str]:
    out = []
    for rid, steps in sorted(state.referrals.items()):
        known = [s for s in steps if s.time <= at]
        if known and known[-1].status not in CLOSED_REFERRAL:
            out.append(rid)
    return out


def override_as_of(state: SubjectState, at: float) -> Override | None:
    """The latest override made at or before `at` that is still in force at `at`."""
    current = None
    for item in state.overrides:
        if item.time <= at:
            current = item
    if current is not None and current.until is not None and at >= current.until:
        return None
    return current


def high_risk_before(state: SubjectState, at: float, exclude: str, lookback_days: int) -> list[str]:
    """Earlier calls (event time) whose outcome or observations mark a high-risk police intervention."""
    hits = []
    for c, e in state.calls.items():
        if c == exclude or e.time > at or at - e.time > lookback_days * DAY:
            continue
        disp_known = e.disposition if e.disposition_time is not None and e.disposition_time <= at else None
        if disp_known in HIGH_RISK_DISPOSITIONS or HIGH_RISK_FLAGS & set(e.flags):
            hits.append(c)
    return sorted(hits)


def last_dyad_contact(state: SubjectState) -> float | None:
    times = [e.dyad_time for e in state.calls.values() if e.dyad_time is not None]
    return max(times) if times else None


def remember_decision(state: SubjectState, t: float, call_id: str, revision: int,
                      decision_json: str | bytes) -> set[str]:
    """Keep the decision among the subject's last few; returns the calls none of whose decisions is kept."""
    kept = [d for d in state.decisions if (d.call_id, d.revision) != (call_id, revision)]
    kept.append(KeptDecision(time=t, call_id=call_id, revision=revision, packed=pack(decision_json)))
    kept.sort(key=lambda d: (d.time, d.call_id, d.revision))
    state.decisions = kept[-MAX_DECISIONS:]
    return {d.call_id for d in kept[:-MAX_DECISIONS]} - {d.call_id for d in state.decisions}


def decisions_of(state: SubjectState, call_id: str | None = None) -> list[str]:
    """Decision JSON texts, newest first (of one call when `call_id` is given, newest revision first)."""
    items = [d for d in state.decisions if call_id is None or d.call_id == call_id]
    return [unpack(d.packed) for d in sorted(items, key=lambda d: (d.time, d.revision), reverse=True)]
