"""The social worker's caseload: calls per month before and after the first contact. Pure (no I/O).

Info-social receives no calls; the counts come from triage's read API (`GET /v1/persons/{key}/triage?au=…`,
`recurrence.appels_par_fenetre`: calls per window of civil days, Québec time, ending at `au`):

- before: the 90-day window ending at the first contact → calls per 30 days;
- after: the widest window (30, 90, 180 or 365 days) ending now that lies wholly after the day of the first
  contact → calls per 30 days; under 30 days since the contact: too early to say.

The first contact is the earliest `first_contact_at` of the person's referrals; without one, the day her frame
was first written (the frame is written with the person) — the page says which.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("America/Montreal")
BEFORE_DAYS = 90
AFTER_WINDOWS = (365, 180, 90, 30)  # widest first


@dataclass(frozen=True)
class FirstContact:
    at: datetime | None
    source: str | None  # "referral" | "frame" | None


def first_contact(referral_contacts: Iterable[datetime | None], frame_written: datetime | None) -> FirstContact:
    known = [c for c in referral_contacts if c is not None]
    if known:
        return FirstContact(min(known), "referral")
    if frame_written is not None:
        return FirstContact(frame_written, "frame")
    return FirstContact(None, None)


def civil_days_between(earlier: datetime, later: datetime) -> int:
    return later.astimezone(ZONE).toordinal() - earlier.astimezone(ZONE).toordinal()


def after_window(contact: datetime, now: datetime) -> int | None:
    """The widest triage window ending `now` that starts after the day of the contact (None: under 30 days)."""
    days = civil_days_between(contact, now)
    return next((w for w in AFTER_WINDOWS if w <= days), None)


def per_month(calls: int, days: int) -> float:
    return round(calls * 30 / days, 1)


@dataclass(frozen=True)
class Rates:
    before_calls: int | None = None
    before: float | None = None         # calls per 30 days, in the 90 days before the first contact
    after_calls: int | None = None
    after: float | None = None          # calls per 30 days, over `after_days` ending now
    after_days: int | None = None
    too_early: bool = False


def window(counts: dict | None, days: int) -> int | None:
    if counts is None:
        return None
    value = counts.get(f"{days}j")
    return int(value) if value is not None else None


def rates(contact: datetime | None, now: datetime, before_counts: dict | None, now_counts: dict | None) -> Rates:
    """`before_counts`: triage's calls per window as of the contact; `now_counts`: as of now (either None when
    triage knows no call of the person: zero calls)."""
    if contact is None:
        n = window(now_counts, BEFORE_DAYS) or 0
        return Rates(before_calls=n, before=per_month(n, BEFORE_DAYS))
    b = window(before_counts, BEFORE_DAYS) or 0
    w = after_window(contact, now)
    if w is None:
        return Rates(before_calls=b, before=per_month(b, BEFORE_DAYS), too_early=True)
    a = window(now_counts, w) or 0
    return Rates(before_calls=b, before=per_month(b, BEFORE_DAYS), after_calls=a, after=per_month(a, w),
                 after_days=w)
