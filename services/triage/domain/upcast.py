"""The JSON shapes triage wrote before its state and records were typed, read into today's types.
Changelogs and the internal topic still hold them after an upgrade; nothing writes them any more.

    call record   {"kind": "call", "call_id", "rev", "t", "received_at", "cat", "flags", "prio", "lk", "sector",
                   "persons", "subject", "caller", "summary", "corr", "addr", "lat", "lon", "nature",
                   "loc_counts", "loc_crisis_30"}     (addr … nature absent from the oldest records)
    update record {"kind": "update", "call_id", "t", "disp", "dyad", "status", "persons"}
    subject       {"calls": {id: {"t", "rev", "cat", "flags", "disp", "disp_t", "dyad_t"}},
                   "pending": {id: [update record]}, "referrals": {id: [[t, status]]},
                   "frames": [[t, active, version, stale, risk count]], "overrides": [[t, recurrent, until]],
                   "suggested": {"criteria", "call_id", "t"} | null, "decisions": [[t, call_id, revision, packed]],
                   "overflow": {"days": [[day, calls, crisis, domestic violence]], "upto", "gone", "cats"} | absent}
    place         {"recent": {id: [t, crisis, subject]}, "pending": {id: [update record]}, "state": subject | null,
                   "overflow": as above | absent}

Every old shape has a short key or a list where today's has a named field, so a reader tries today's types
first and comes here only when they do not fit (adapters/codec.py); what fits neither raises.

The states were then kept as JSON of today's types, with each kept decision's `packed` as text (`z1:` and
base64); `typed_subject` and `typed_place` read that. Then they were msgpack of today's types, every struct a
map (`from_maps`); since, the items in a state (calls, decisions, …) are arrays of their fields.
"""
from __future__ import annotations

import functools
import operator
import types
import typing

import msgspec

from services.triage.domain.packing import packed_from_text
from services.triage.domain.place import PlaceCall, PlaceState
from services.triage.domain.records import CallRecord, UpdateRecord
from services.triage.domain.recurrence import DayCount, Overflow
from services.triage.domain.state import (
    CallEntry, FrameEvent, KeptDecision, Override, ReferralStep, Suggestion, SubjectState,
)


StateT = typing.TypeVar("StateT")


def record(raw: dict) -> CallRecord | UpdateRecord:
    return call_record(raw) if raw["kind"] == "call" else update_record(raw)


def call_record(r: dict) -> CallRecord:
    return CallRecord(
        call_id=r["call_id"], revision=r["rev"], time=r["t"], received_at=r["received_at"], category=r["cat"],
        flags=r["flags"], priority=r["prio"], location_key=r["lk"], sector=r["sector"], person_keys=r["persons"],
        subject=r["subject"], caller_relation=r["caller"], summary=r["summary"], correlation_id=r["corr"],
        address=r.get("addr"), lat=r.get("lat"), lon=r.get("lon"), nature_code=r.get("nature"),
        location_counts=r.get("loc_counts"), location_crisis_30d=r.get("loc_crisis_30"))


def update_record(r: dict) -> UpdateRecord:
    return UpdateRecord(call_id=r["call_id"], time=r["t"], disposition=r.get("disp"), dyad_id=r.get("dyad"),
                        status=r["status"], person_keys=r["persons"])


def subject(s: dict) -> SubjectState:
    suggested = s.get("suggested")
    return SubjectState(
        calls={c: CallEntry(time=e["t"], revision=e["rev"], category=e["cat"], flags=e["flags"],
                            disposition=e["disp"], disposition_time=e["disp_t"], dyad_time=e["dyad_t"])
               for c, e in s["calls"].items()},
        pending=_pending(s["pending"]),
        referrals={r: [ReferralStep(t, status) for t, status in steps] for r, steps in s["referrals"].items()},
        frames=[FrameEvent(time=t, active=active, version=version, stale=stale, risk_count=risks)
                for t, active, version, stale, risks in s["frames"]],
        overrides=[Override(time=t, recurrent=recurrent, until=until) for t, recurrent, until in s["overrides"]],
        suggested=None if suggested is None else Suggestion(criteria=suggested["criteria"],
                                                            call_id=suggested["call_id"], time=suggested["t"]),
        decisions=[KeptDecision(time=t, call_id=c, revision=rev, packed=packed_from_text(packed))
                   for t, c, rev, packed in s["decisions"]],
        overflow=_overflow(s.get("overflow")))


def typed_subject(s: dict) -> SubjectState:
    return _from_map_shape(msgspec.convert(_bytes_decisions(s), maps_shape(SubjectState)), SubjectState)


def typed_place(p: dict) -> PlaceState:
    if p.get("state"):
        p["state"] = _bytes_decisions(p["state"])
    return _from_map_shape(msgspec.convert(p, maps_shape(PlaceState)), PlaceState)


def from_maps(data: bytes, today: type[StateT]) -> StateT:
    """A state's msgpack as it was written before its items were arrays: the same fields, every struct a map."""
    return _from_map_shape(msgspec.msgpack.decode(data, type=maps_shape(today)), today)


def _from_map_shape(old, today: type[StateT]) -> StateT:
    return msgspec.convert(old, today, from_attributes=True)


@functools.cache
def maps_shape(cls: type) -> type:
    """The struct type `cls` with every struct in it (itself too) encoded as a map of its fields."""
    fields = []
    for f in msgspec.structs.fields(cls):
        if f.default is not msgspec.NODEFAULT:
            fields.append((f.name, _maps_type(f.type), f.default))
        elif f.default_factory is not msgspec.NODEFAULT:
            fields.append((f.name, _maps_type(f.type), msgspec.field(default_factory=f.default_factory)))
        else:
            fields.append((f.name, _maps_type(f.type)))
    config = cls.__struct_config__
    return msgspec.defstruct(f"{cls.__name__}AsMaps", fields, kw_only=True, omit_defaults=config.omit_defaults,
                             tag=config.tag, tag_field=config.tag_field)


def _maps_type(t):
    if isinstance(t, type) and issubclass(t, msgspec.Struct):
        return maps_shape(t) if _has_arrays(t) else t
    args = typing.get_args(t)
    if not args:
        return t
    mapped = tuple(_maps_type(a) for a in args)
    if isinstance(t, types.UnionType) or typing.get_origin(t) is typing.Union:
        return functools.reduce(operator.or_, mapped)
    return typing.get_origin(t)[mapped]


def _has_arrays(cls: type) -> bool:
    """Whether a struct is, or holds, an array-like struct."""
    if cls.__struct_config__.array_like:
        return True
    return any(_holds_arrays(f.type) for f in msgspec.structs.fields(cls))


def _holds_arrays(t) -> bool:
    if isinstance(t, type) and issubclass(t, msgspec.Struct):
        return _has_arrays(t)
    return any(_holds_arrays(a) for a in typing.get_args(t))


def _bytes_decisions(s: dict) -> dict:
    for d in s.get("decisions", ()):
        if isinstance(d, dict) and isinstance(d.get("packed"), str):
            d["packed"] = packed_from_text(d["packed"])
    return s


def place(p: dict) -> PlaceState:
    return PlaceState(
        recent={c: PlaceCall(time=t, crisis=crisis, subject=who) for c, (t, crisis, who) in p["recent"].items()},
        pending=_pending(p["pending"]), state=subject(p["state"]) if p.get("state") else None,
        overflow=_overflow(p.get("overflow")))


def _pending(pending: dict) -> dict[str, list[UpdateRecord]]:
    return {c: [update_record(u) for u in updates] for c, updates in pending.items()}


def _overflow(o: dict | None) -> Overflow | None:
    if not o:
        return None
    return Overflow(days=[DayCount(d, n, crisis, vcf) for d, n, crisis, vcf in o["days"]], latest=o["upto"],
                    pushed_out=o["gone"], categories=o.get("cats", {}))
