"""Triage's suggestions of a social referral, as the social worker's queue keeps them. Pure (no I/O).

One open suggestion per person: a new suggestion for a person who already has one *updates* it (latest call,
criteria union, reasons union, count of calls flagged since it was first suggested, last seen) instead of
adding a line. It waits apart from the referrals filed by people (officers, 9-1-1, partners) until the social
worker confirms it (it becomes a referral, `reçue`) or dismisses it (with a reason). A referral filed for the
person meanwhile absorbs it (`jointe`). A dismissed suggestion is not reopened by a new one that brings no
criterion beyond those dismissed, within DISMISSED_QUIET_DAYS: her decision stands until the situation changes
(a new criterion — imminent danger, say — opens a new suggestion at once).

Ranking: imminent danger first, then foreseeable danger, then recurrence, then the rest; within a rank, the
most recently seen first.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Iterable, Literal

from dyade.contracts import Criterion

OPEN, CONFIRMED, DISMISSED, JOINED = "a_confirmer", "confirmee", "ecartee", "jointe"
STATES = (OPEN, CONFIRMED, DISMISSED, JOINED)
DISMISSED_QUIET_DAYS = 30
MAX_CALL_IDS = 200   # the count goes on past it; only the ids are not all kept
MAX_REASONS = 40

PRIORITY = (Criterion.DANGEROSITE_IMMINENTE, Criterion.DANGEROSITE_PREVISIBLE, Criterion.RECURRENCE)
OTHER = len(PRIORITY)


def priority(criteria: Iterable[str]) -> int:
    """0 imminent danger, 1 foreseeable danger, 2 recurrence, 3 anything else (lower comes first)."""
    codes = set(criteria or ())
    return next((i for i, c in enumerate(PRIORITY) if c.value in codes), OTHER)


@dataclass(frozen=True)
class Incoming:
    """One referrals.suggested.v1 event."""
    suggestion_id: str
    person_key: str
    call_id: str
    criteria: tuple[str, ...]
    reasons: tuple[str, ...]
    ruleset_version: str
    at: datetime  # the call's time (the event's occurred_at)


@dataclass(frozen=True)
class Tally:
    """What an open (or dismissed) suggestion has gathered."""
    criteria: tuple[str, ...]
    reasons: tuple[str, ...]
    call_ids: tuple[str, ...]
    calls: int
    latest_call_id: str
    latest_call_at: datetime
    first_at: datetime
    last_seen_at: datetime
    ruleset_version: str

    @property
    def priority(self) -> int:
        return priority(self.criteria)


def start(s: Incoming) -> Tally:
    return Tally(criteria=_ordered(s.criteria), reasons=tuple(dict.fromkeys(s.reasons))[:MAX_REASONS],
                 call_ids=(s.call_id,), calls=1, latest_call_id=s.call_id, latest_call_at=s.at, first_at=s.at,
                 last_seen_at=s.at, ruleset_version=s.ruleset_version)


def merge(t: Tally, s: Incoming) -> Tally:
    """The same person suggested again: union of criteria and reasons, one more call if it is a new one, the
    latest call and the ruleset of the newest event (events may come out of order)."""
    new_call = s.call_id not in t.call_ids
    newer = s.at >= t.latest_call_at
    ids = t.call_ids + ((s.call_id,) if new_call else ())
    return replace(
        t, criteria=_ordered((*t.criteria, *s.criteria)),
        reasons=tuple(dict.fromkeys((*t.reasons, *s.reasons)))[:MAX_REASONS],
        call_ids=ids[-MAX_CALL_IDS:], calls=t.calls + (1 if new_call else 0),
        latest_call_id=s.call_id if newer else t.latest_call_id,
        latest_call_at=s.at if newer else t.latest_call_at,
        first_at=min(t.first_at, s.at), last_seen_at=max(t.last_seen_at, s.at),
        ruleset_version=s.ruleset_version if newer else t.ruleset_version)


Route = Literal["update_open", "absorb_dismissed", "new"]


def route(s: Incoming, *, has_open: bool, dismissed_criteria: Iterable[str] | None,
          dismissed_at: datetime | None) -> Route:
    """Where a suggestion goes when the person has no open referral (that case joins the referral)."""
    if has_open:
        return "update_open"
    if dismissed_at is not None and s.at - dismissed_at <= timedelta(days=DISMISSED_QUIET_DAYS) \
            and set(s.criteria) <= set(dismissed_criteria or ()):
        return "absorb_dismissed"
    return "new"


def order_key(t: Tally) -> tuple[int, float]:
    return t.priority, -t.last_seen_at.timestamp()


def rank(tallies: Iterable[Tally]) -> list[Tally]:
    return sorted(tallies, key=order_key)


class DismissalRefused(ValueError):
    pass


def check_dismissal(reason: str, note: str | None, known: Iterable[str]) -> None:
    if reason not in set(known):
        raise DismissalRefused(f"motif inconnu: {reason}")
    if reason == "autre" and not (note and note.strip()):
        raise DismissalRefused("motif « autre »: préciser dans la note")


def _ordered(codes: Iterable[str]) -> tuple[str, ...]:
    """Distinct criteria in the vocabulary's order (the form's order), unknown codes last."""
    seen = set(codes)
    known = [c.value for c in Criterion if c.value in seen]
    return tuple(known + sorted(seen - set(known)))
