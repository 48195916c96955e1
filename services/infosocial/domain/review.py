"""Yearly review: when a frame is due, when to warn, when it becomes stale. Pure."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

REVIEW_PERIOD_MONTHS = 12  # the practice: a frame is updated every year
REVIEW_NOTICE_DAYS = 30    # review-due events go out this many days ahead of the date
MONTREAL = ZoneInfo("America/Montreal")


def today_in_montreal(now: datetime | None = None) -> date:
    now = now or datetime.now(MONTREAL)
    if now.tzinfo is None:
        raise ValueError("an aware datetime is required")
    return now.astimezone(MONTREAL).date()


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def default_review_due(reviewed_on: date) -> date:
    return add_months(reviewed_on, REVIEW_PERIOD_MONTHS)


def review_due_on_approval(approved_on: date, requested: date | None) -> date:
    """The author may ask for an earlier review; never later than a year after this review."""
    latest = default_review_due(approved_on)
    if requested and approved_on < requested <= latest:
        return requested
    return latest


@dataclass(frozen=True)
class SweepAction:
    kind: str  # "review_due" or "stale"


def sweep_actions(*, review_due: date, stale: bool, notified_for: date | None, today: date,
                  notice_days: int = REVIEW_NOTICE_DAYS) -> list[SweepAction]:
    """What the daily sweep does for one active frame."""
    actions: list[SweepAction] = []
    if stale:
        return actions
    if today > review_due:
        if notified_for != review_due:
            actions.append(SweepAction("review_due"))
        actions.append(SweepAction("stale"))
    elif today >= review_due - timedelta(days=notice_days) and notified_for != review_due:
        actions.append(SweepAction("review_due"))
    return actions
