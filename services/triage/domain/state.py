"""What triage remembers about a subject (a person, or a location for calls without a person).

Plain JSON-able dicts (they live in faust tables and their changelogs). Every change is idempotent —
applying the same event twice leaves the same state — and every fact carries its event time, so a decision
can look at the state "as of" the call's own time: events that happened later never change it.

    calls      {call_id: {t, rev, cat, flags, disp, disp_t, dyad_t}}   the last `history_max_calls` calls
    overflow   {days: [[day, n, crisis, vcf], ...], upto, gone, cats} | absent   the calls pushed out of
               `calls`, counted per civil day (recurrence.py): windows stay exact past the bound
    pending    {call_id: [update, ...]}       updates that arrived before their call
    referrals  {referral_id: [[t, status], ...]}
    frames     [[t, active, version, stale, n_risques], ...]              sorted by t
    overrides  [[t, recurrent, until], ...]                               sorted by t
    suggested  {criteria, call_id, t} | None    last referral suggestion (processing state)
    decisions  [[t, call_id, revision, packed decision], ...]   the last few, for the read API

A decision's JSON is ~2 KB, mostly the same labels and citations every time: it is kept deflated against
a preset dictionary of typical decisions (`decision-z1.zdict`, ~150 bytes each instead of ~2,000). The
dictionary is frozen: packed text names it (`z1:`), and a new dictionary would get a new name.
"""
from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dyade.contracts.vocabulary import CallCategory
from services.triage.domain.config import RulesetConfig
from services.triage.domain import recurrence as R
from services.triage.domain.recurrence import DAY

CRISIS = frozenset(c.value for c in CallCategory if c.is_crisis)  # one definition, in the contracts
CLOSED_REFERRAL = {"refusee", "fermee"}
HIGH_RISK_DISPOSITIONS = {"transport_p38", "arrestation"}
HIGH_RISK_FLAGS = {"arme", "menaces_de_mort", "gestes_suicidaires"}
MAX_PENDING = 50
MAX_EVENTS = 20
MAX_DECISIONS = 5
ZDICT = (Path(__file__).with_name("decision-z1.zdict")).read_bytes()
PACKED = "z1:"


_PRIMED = zlib.compressobj(6, zdict=ZDICT)  # copying a primed compressor is cheaper than priming one


def pack(decision_json: str) -> str:
    z = _PRIMED.copy()
    return PACKED + base64.b64encode(z.compress(decision_json.encode()) + z.flush()).decode()


def unpack(stored: str) -> str:
    if not stored.startswith(PACKED):  # kept before packing existed
        return stored
    z = zlib.decompressobj(zdict=ZDICT)
    return (z.decompress(base64.b64decode(stored[len(PACKED):])) + z.flush()).decode()


def new_state() -> dict[str, Any]:
    return {"calls": {}, "pending": {}, "referrals": {}, "frames": [], "overrides": [], "suggested": None,
            "decisions": []}


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


def record_call(state: dict, call: CallFacts, cfg: RulesetConfig) -> None:
    """Add or revise the call in the subject's history (a newer revision replaces an older one)."""
    calls = state["calls"]
    old = calls.get(call.call_id)
    if old is not None and old["rev"] > call.revision:
        return
    if old is None and R.gone(state.get("overflow"), call.call_id):
        return  # pushed out of the detail lately and counted in its day: a redelivery or a revision
    entry = {"t": call.t, "rev": call.revision, "cat": call.category, "flags": sorted(call.flags),
             "disp": None, "disp_t": None, "dyad_t": None}
    if old is not None:
        for k in ("disp", "disp_t", "dyad_t"):
            entry[k] = old[k]
    calls[call.call_id] = entry
    for update in state["pending"].pop(call.call_id, []):
        _apply_update(entry, update)
    _bound(state, cfg)


def record_update(state: dict, update: dict) -> None:
    """A status change (`call_id`, `t`, `disp`, `dyad`); kept aside when its call is not known yet."""
    entry = state["calls"].get(update["call_id"])
    if entry is not None:
        _apply_update(entry, update)
        return
    if R.gone(state.get("overflow"), update["call_id"]):
        return  # its call is only counted now: no detail left to update
    pending = state["pending"].setdefault(update["call_id"], [])
    if update not in pending:
        pending.append(update)
        pending.sort(key=lambda u: u["t"])
    if len(state["pending"]) > MAX_PENDING:  # drop the oldest calls' pending updates
        oldest = sorted(state["pending"], key=lambda c: state["pending"][c][0]["t"])
        for call_id in oldest[: len(state["pending"]) - MAX_PENDING]:
            del state["pending"][call_id]


def _apply_update(entry: dict, update: dict) -> None:
    if update.get("disp") and (entry["disp_t"] is None or update["t"] >= entry["disp_t"]):
        entry["disp"], entry["disp_t"] = update["disp"], update["t"]
    if update.get("dyad") and (entry["dyad_t"] is None or update["t"] > entry["dyad_t"]):
        entry["dyad_t"] = update["t"]


def _bound(state: dict, cfg: RulesetConfig) -> None:
    calls = state["calls"]
    if not calls:
        return
    newest = max(e["t"] for e in calls.values())
    too_old = [c for c, e in calls.items() if newest - e["t"] > cfg.history_max_days * DAY]
    for c in too_old:
        del calls[c]
    if len(calls) > cfg.history_max_calls:
        overflow = state.get("overflow")
        for c in sorted(calls, key=lambda c: (calls[c]["t"], c))[: len(calls) - cfg.history_max_calls]:
            e = calls.pop(c)
            overflow = R.spill(overflow, c, e["t"], e["cat"] in CRISIS, e["cat"])
        state["overflow"] = overflow
    if state.get("overflow"):
        R.forget_before(state["overflow"], newest - cfg.history_max_days * DAY)


def record_referral(state: dict, referral_id: str, t: float, status: str) -> None:
    steps = state["referrals"].setdefault(referral_id, [])
    if [t, status] not in steps:
        steps.append([t, status])
        steps.sort()
        del steps[:-MAX_EVENTS]
    if len(state["referrals"]) > MAX_EVENTS:
        by_last = sorted(state["referrals"], key=lambda r: state["referrals"][r][-1][0])
        for r in by_last[: len(state["referrals"]) - MAX_EVENTS]:
            del state["referrals"][r]


def record_frame(state: dict, t: float, *, active: bool, version: int | None = None, stale: bool = False,
                 n_risques: int = 0) -> None:
    _insert_sorted(state["frames"], [t, active, version, stale, n_risques])


def record_override(state: dict, t: float, *, recurrent: bool, until: float | None) -> None:
    _insert_sorted(state["overrides"], [t, recurrent, until])


def _insert_sorted(items: list, item: list) -> None:
    if item in items:
        return
    items.append(item)
    items.sort(key=lambda i: (i[0], repr(i)))
    del items[:-MAX_EVENTS]


# --- the state as of a given event time -------------------------------------------------------------

def recurrence_as_of(state: dict, at: float, half_life_days: float, exclude: CallFacts | None = None) -> R.Tally:
    """The subject's calls up to `at` per window (exact past the detail), crisis categories, domestic-violence
    calls and decayed score over the year — without the call `exclude` (the one being decided)."""
    skip = exclude.call_id if exclude is not None else None
    entries = ((e["t"], e["cat"] in CRISIS, e["cat"]) for c, e in state["calls"].items() if c != skip)
    return R.tally(entries, at, state.get("overflow"), half_life_days,
                   exclude=(exclude.call_id, exclude.crisis, exclude.category) if exclude is not None else None)


def frame_as_of(state: dict, at: float) -> list | None:
    """The latest frame event at or before `at` (None: no frame ever)."""
    current = None
    for item in state["frames"]:
        if item[0] <= at:
            current = item
    return current


def open_referrals(state: dict, at: float) -> list[str]:
    out = []
    for rid, steps in sorted(state["referrals"].items()):
        known = [s for s in steps if s[0] <= at]
        if known and known[-1][1] not in CLOSED_REFERRAL:
            out.append(rid)
    return out


def override_as_of(state: dict, at: float) -> list | None:
    """The latest override made at or before `at` that is still in force at `at`."""
    current = None
    for item in state["overrides"]:
        if item[0] <= at:
            current = item
    if current is not None and current[2] is not None and at >= current[2]:
        return None
    return current


def high_risk_before(state: dict, at: float, exclude: str, lookback_days: int) -> list[str]:
    """Earlier calls (event time) whose outcome or observations mark a high-risk police intervention."""
    hits = []
    for c, e in state["calls"].items():
        if c == exclude or e["t"] > at or at - e["t"] > lookback_days * DAY:
            continue
        disp_known = e["disp"] if e["disp_t"] is not None and e["disp_t"] <= at else None
        if disp_known in HIGH_RISK_DISPOSITIONS or HIGH_RISK_FLAGS & set(e["flags"]):
            hits.append(c)
    return sorted(hits)


def last_dyad_contact(state: dict) -> float | None:
    times = [e["dyad_t"] for e in state["calls"].values() if e["dyad_t"] is not None]
    return max(times) if times else None


def remember_decision(state: dict, t: float, call_id: str, revision: int, decision_json: str) -> set[str]:
    """Keep the decision among the subject's last few; returns the calls none of whose decisions is kept."""
    kept = [d for d in state["decisions"] if (d[1], d[2]) != (call_id, revision)]
    kept.append([t, call_id, revision, pack(decision_json)])
    kept.sort(key=lambda d: (d[0], d[1], d[2]))
    state["decisions"] = kept[-MAX_DECISIONS:]
    return {d[1] for d in kept[:-MAX_DECISIONS]} - {d[1] for d in state["decisions"]}


def decisions_of(state: dict, call_id: str | None = None) -> list[str]:
    """Decision JSON texts, newest first (of one call when `call_id` is given, newest revision first)."""
    items = [d for d in state["decisions"] if call_id is None or d[1] == call_id]
    return [unpack(d[3]) for d in sorted(items, key=lambda d: (d[0], d[2]), reverse=True)]
