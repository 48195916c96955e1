"""What triage remembers about a place (location key): its recent calls, for location recurrence and to
know whom each call was about (so a call's updates follow it), updates that came before their call, and —
for calls about nobody, the place being their subject — the subject state of `state.py`.

    recent   {call_id: [t, crisis, subject]}   bounded like a person's history (count and age)
    overflow counts per day of the calls pushed out of `recent` (recurrence.py) | absent
    pending  {call_id: [update, ...]}          updates whose call has not arrived yet (bounded)
    state    subject state | None              the place as the subject of calls about nobody
"""
from __future__ import annotations

from services.triage.domain.config import RulesetConfig
from services.triage.domain import recurrence as R
from services.triage.domain.recurrence import DAY
from services.triage.domain.state import MAX_PENDING


def new_place() -> dict:
    return {"recent": {}, "pending": {}, "state": None}


def record_call(place: dict, call_id: str, t: float, crisis: bool, subject: str | None, cfg: RulesetConfig) -> None:
    recent = place["recent"]
    if call_id not in recent and R.gone(place.get("overflow"), call_id):
        return  # pushed out lately and counted in its day: a redelivery or a revision
    recent[call_id] = [t, crisis, subject]
    newest = max(e[0] for e in recent.values())
    for c in [c for c, e in recent.items() if newest - e[0] > cfg.history_max_days * DAY]:
        del recent[c]
    if len(recent) > cfg.history_max_calls:
        overflow = place.get("overflow")
        for c in sorted(recent, key=lambda c: (recent[c][0], c))[: len(recent) - cfg.history_max_calls]:
            t_c, crisis_c, _ = recent.pop(c)
            overflow = R.spill(overflow, c, t_c, crisis_c)
        place["overflow"] = overflow
    if place.get("overflow"):
        R.forget_before(place["overflow"], newest - cfg.history_max_days * DAY)


def recurrence(place: dict, at: float) -> tuple[dict[str, int], int]:
    """Calls at the place per window and crisis calls in 30 days, up to `at` (event time)."""
    t = R.tally(((t, crisis, "") for t, crisis, _ in place["recent"].values()), at, place.get("overflow"))
    return t.calls, t.crisis["30j"]


def knows(place: dict, call_id: str) -> bool:
    return call_id in place["recent"]


def subject_of(place: dict, call_id: str) -> str | None:
    return place["recent"][call_id][2]


def hold(place: dict, update: dict) -> None:
    """Keep an update until its call arrives (the oldest calls' updates go first past the bound)."""
    pending = place["pending"].setdefault(update["call_id"], [])
    if update not in pending:
        pending.append(update)
    if len(place["pending"]) > MAX_PENDING:
        oldest = sorted(place["pending"], key=lambda c: min(u["t"] for u in place["pending"][c]))
        for call_id in oldest[: len(place["pending"]) - MAX_PENDING]:
            del place["pending"][call_id]


def release(place: dict, call_id: str) -> list[dict]:
    return sorted(place["pending"].pop(call_id, []), key=lambda u: u["t"])
