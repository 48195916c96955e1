"""Recurrence by event time: counts per window and a decayed score, for a person or a location."""
from __future__ import annotations

from typing import Iterable, NamedTuple

from services.triage.domain.config import WINDOWS_DAYS

DAY = 86_400.0


class Past(NamedTuple):  # a tuple: a person's history is rebuilt as these for every call
    """One earlier (or the current) call as recurrence sees it."""
    t: float          # event time, epoch seconds
    crisis: bool
    category: str = ""


def window_label(days: int) -> str:
    return f"{days}j"


_WINDOWS = tuple((window_label(d), d * DAY) for d in WINDOWS_DAYS)


def counts(entries: Iterable[Past], at: float, *, crisis_only: bool = False) -> dict[str, int]:
    """Calls with event time in (at - window, at] for each window; later calls never count."""
    out = dict.fromkeys((label for label, _ in _WINDOWS), 0)
    for e in entries:
        if e.t > at or (crisis_only and not e.crisis):
            continue
        age = at - e.t
        for label, span in _WINDOWS:
            if age < span:
                out[label] += 1
    return out


def decayed_score(entries: Iterable[Past], at: float, half_life_days: float) -> float:
    """Sum of 0.5 ** (age / half-life) over calls up to `at` within 365 days, rounded for stable output."""
    total = 0.0
    for e in entries:
        if e.t > at:
            continue
        age_days = (at - e.t) / DAY
        if age_days < 365:
            total += 0.5 ** (age_days / half_life_days)
    return round(total, 4)


def crisis_categories(entries: Iterable[Past], at: float, days: int = 365) -> set[str]:
    return {e.category for e in entries if e.crisis and e.t <= at and at - e.t < days * DAY}
