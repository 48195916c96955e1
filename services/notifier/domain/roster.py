"""Dyads, their shifts (local time of the organisation, America/Montreal by default) and whether one is
on duty at a given instant."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

MONTREAL = ZoneInfo("America/Montreal")


@dataclass(frozen=True)
class Shift:
    """Days (Monday = 0) and local start/end; an end at or before the start runs past midnight."""
    days: tuple[int, ...]
    start: time
    end: time

    def covers(self, local: datetime) -> bool:
        t, day = local.time(), local.weekday()
        if self.start < self.end:
            return day in self.days and self.start <= t < self.end
        previous = (day - 1) % 7
        return (day in self.days and t >= self.start) or (previous in self.days and t < self.end)


DEFAULT_SHIFTS: tuple[Shift, ...] = (Shift(tuple(range(7)), time(8), time(20)),)


@dataclass(frozen=True)
class Dyad:
    dyad_id: str
    sector: str
    shifts: tuple[Shift, ...] = DEFAULT_SHIFTS
    active: bool = True
    tz: ZoneInfo = MONTREAL   # the organisation's time zone: shifts are local hours

    def on_duty(self, at: datetime) -> bool:
        local = at.astimezone(self.tz)
        return self.active and any(s.covers(local) for s in self.shifts)


@dataclass(frozen=True)
class Adjacency:
    """Which sectors are next to which, nearest first. Unknown sectors have no neighbours."""
    neighbours: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def of(self, sector: str | None) -> tuple[str, ...]:
        return self.neighbours.get(sector or "", ())

    @classmethod
    def parse(cls, text: str) -> "Adjacency":
        """`S1:S2,S3;S2:S1` → S1's neighbours are S2 then S3, S2's is S1."""
        out: dict[str, tuple[str, ...]] = {}
        for part in filter(None, (p.strip() for p in text.split(";"))):
            sector, _, rest = part.partition(":")
            out[sector.strip()] = tuple(s.strip() for s in rest.split(",") if s.strip())
        return cls(out)


def next_shift_start(dyads: list[Dyad], after: datetime, horizon_days: int = 8) -> datetime | None:
    """The first instant after `after` when some dyad comes on duty (minute resolution of shift starts)."""
    candidates: list[datetime] = []
    for d in dyads:
        if not d.active:
            continue
        local = after.astimezone(d.tz)
        for s in d.shifts:
            for offset in range(horizon_days):
                day = (local + timedelta(days=offset)).date()
                if day.weekday() not in s.days:
                    continue
                start = datetime.combine(day, s.start, d.tz)
                if start > local:
                    candidates.append(start)
                    break
    return min(candidates) if candidates else None


def shift_label(at: datetime) -> str:
    """`2026-11-23/jour` (8h–20h local) or `2026-11-23/soir` / nuit, for the alert's shift field."""
    local = at.astimezone(MONTREAL)
    if 8 <= local.hour < 20:
        part = "jour"
    elif local.hour >= 20:
        part = "soir"
    else:
        part = "nuit"
    return f"{local.date().isoformat()}/{part}"


def parse_time(text: str) -> time:
    """`08:00` → time(8); `24:00` is accepted as midnight."""
    hours, _, minutes = text.partition(":")
    h, m = int(hours), int(minutes or 0)
    if h == 24 and m == 0:
        return time(0)
    return time(h, m)
