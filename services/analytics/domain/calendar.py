"""Calendar helpers in the users' time zone (America/Montreal): month ends, ISO weeks, shifts."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.analytics.domain.facts import MONTREAL, aware


def month_end(month: str, tz: ZoneInfo = MONTREAL) -> datetime:
    """First instant of the month after `YYYY-MM`, local midnight (exclusive end of the month)."""
    year, mon = int(month[:4]), int(month[5:7])
    year, mon = (year + 1, 1) if mon == 12 else (year, mon + 1)
    return datetime(year, mon, 1, tzinfo=tz)


def week_of(dt: datetime, tz: ZoneInfo = MONTREAL) -> str:
    """The Monday (`YYYY-MM-DD`) starting the local week of the instant."""
    local = aware(dt).astimezone(tz).date()
    return (local - timedelta(days=local.weekday())).isoformat()


def shift_of(dt: datetime, tz: ZoneInfo = MONTREAL) -> str:
    """`YYYY-MM-DD/jour` (08:00–20:00 local) or `YYYY-MM-DD/nuit` (20:00–08:00, dated by its evening)."""
    local = aware(dt).astimezone(tz)
    if 8 <= local.hour < 20:
        return f"{local.date().isoformat()}/jour"
    day = local.date() if local.hour >= 20 else local.date() - timedelta(days=1)
    return f"{day.isoformat()}/nuit"
