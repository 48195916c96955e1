"""The demo's two clocks, and what the services must be told when the city's clock runs fast.

**The city's clock** (simulated): the time stamped on calls, CAD updates (dispatched, on scene, cleared)
and referrals. With `--speed N` it runs N× faster than the wall clock, from a start chosen in the past so
that it *catches up* with the wall clock after the span asked (`--days`, a quarter by default) has played:
a quarter of program life in minutes, and never a time in the future (intake refuses a call received more
than 5 minutes after its own clock). Once caught up, it is the wall clock: the city lives on in real time.

**The people's clock** (the wall clock): a dyad's phone rings now, and it takes the alert after a delay
drawn in real seconds (dyade/simulation/field.py). The notifier stamps alerts and escalates on it
(`NOTIFIER_ACK_DELAY_S`, 180 s), and analytics measures every delay on it (« délais aux horloges de
Dyade »). So acknowledgement times and the escalated share read on the dashboard are those of a real team,
whatever N; what the dyad then does on the scene (travel, intervention) is stamped in the city's time.

**What the services must be told** (`service_env`, set by `dyade up --demo-speed N`): while the city's
clock is behind the wall clock, a live call is « received » up to `lag` ago. The notifier ignores calls
received more than `NOTIFIER_HORIZON_MINUTES` (120) ago (a replay must not page anyone), and analytics
takes a call published more than `ANALYTICS_BACKFILL_MINUTES` (120) after its reception for history (out of
the delays). Both are raised to just above the largest lag, so that the compressed calls page the dyads and
count as live; the demo's history (the weeks before the compressed span) stays older than that, so it
still pages no one and stays history.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from dyade.clock import utcnow

QUARTER_DAYS = 91
HORIZON_MARGIN = timedelta(minutes=10)  # above the largest lag of a live call (processing takes seconds)
HISTORY_GAP = timedelta(minutes=20)  # the history ends this long before the live stream's start


def lag_at_start(days: float, speed: float) -> timedelta:
    """How far behind the wall clock the city's clock starts, so that `days` play before it catches up."""
    if speed <= 1:
        return timedelta(0)
    return timedelta(days=days) * (speed - 1) / speed


def service_env(speed: float, days: float) -> dict[str, str]:
    """The notifier's horizon and analytics' backfill threshold for a demo at `speed` over `days`
    (empty at speed 1: the defaults hold)."""
    lag = lag_at_start(days, speed)
    if lag <= timedelta(0):
        return {}
    minutes = str(math.ceil((lag + HORIZON_MARGIN).total_seconds() / 60))
    return {"NOTIFIER_HORIZON_MINUTES": minutes, "ANALYTICS_BACKFILL_MINUTES": minutes}


@dataclass
class CityClock:
    """sim(w) = start + speed × (w − wall0) until it reaches the wall clock, then the wall clock."""
    start: datetime  # the city's time at wall0
    speed: float
    wall0: datetime
    monotonic0: float

    @classmethod
    def begin(cls, *, speed: float, days: float, now: datetime | None = None) -> "CityClock":
        now = now or utcnow()
        return cls(now - lag_at_start(days, speed), max(1.0, speed), now, time.monotonic())

    def wall(self) -> datetime:
        return self.wall0 + timedelta(seconds=time.monotonic() - self.monotonic0)

    @property
    def caught_up_at(self) -> datetime:
        """The wall time at which the city's clock reaches the wall clock."""
        if self.speed <= 1:
            return self.wall0
        return self.wall0 + (self.wall0 - self.start) / (self.speed - 1)

    def city(self, wall: datetime | None = None) -> datetime:
        wall = wall or self.wall()
        return min(self.start + (wall - self.wall0) * self.speed, wall) if wall >= self.wall0 else self.start

    def wall_at(self, city: datetime) -> datetime:
        """When (wall clock) the city's clock shows `city`."""
        if city <= self.start:
            return self.wall0
        fast = self.wall0 + (city - self.start) / self.speed
        return fast if fast <= self.caught_up_at else city

    def speed_at(self, wall: datetime | None = None) -> float:
        return self.speed if (wall or self.wall()) < self.caught_up_at else 1.0

    def city_duration(self, seconds: float, wall: datetime | None = None) -> float:
        """Wall seconds that `seconds` of the city's time take now."""
        return seconds / self.speed_at(wall)

    def lag(self, wall: datetime | None = None) -> timedelta:
        wall = wall or self.wall()
        return wall - self.city(wall)
