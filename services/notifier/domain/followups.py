"""Type-2 work: a follow-up plan per known person (how often, by which dyad); a plan that comes due
while its dyad is on duty becomes a `suivi` alert. One reminder open per person: a reminder still open
when the next one comes due expires (the newer one replaces it). Reminders do not escalate."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from services.notifier.domain.roster import MONTREAL


@dataclass(frozen=True)
class Plan:
    person_key: str
    dyad_id: str
    every: timedelta
    next_due_at: datetime
    active: bool = True


def is_due(plan: Plan, *, now: datetime, dyad_on_duty: bool) -> bool:
    return plan.active and dyad_on_duty and plan.next_due_at <= now


def next_due(plan: Plan, *, now: datetime) -> datetime:
    """The due time after a reminder fired: one period later, skipping periods missed while off duty."""
    due = plan.next_due_at
    while due <= now:
        due += plan.every
    return due


def local_day_bounds(now: datetime, tz: ZoneInfo = MONTREAL) -> tuple[datetime, datetime]:
    """Start and end of the local day (organisation time zone) containing `now`, in UTC (as stored)."""
    local = now.astimezone(tz)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start.astimezone(timezone.utc), (start + timedelta(days=1)).astimezone(timezone.utc)
