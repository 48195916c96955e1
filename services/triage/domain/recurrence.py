"""Recurrence by event time: calls per window, crisis categories and a decayed score, for a person or a place.

**Windows are civil days, Québec time** (`ZONE`). A call counts in the N-day window of a call made at `at`
when it happened at or before `at`, on the same day or on one of the N − 1 days before (the 7-day window of a
call on a Friday afternoon starts on the Saturday before, at midnight; a call seven days before, on the Friday
morning, no longer counts). Whole days are what keeps the counts exact past the detailed history: a subject
keeps its last `history_max_calls` calls in detail (the reasons read them: high-risk interventions,
earlier outcomes), and the calls pushed out of the detail only as counts per day, an *overflow*:

    Overflow(days=[DayCount(day, calls, crisis, domestic_violence), ...], latest=t, pushed_out=[call id],
             categories={crisis category: latest time pushed out})

`day` is the civil day's ordinal (`date.toordinal()`), the list sorted by it; `latest` the latest event time
pushed out (every call in the detail is later or as late); `pushed_out` the last few call ids pushed out, so a
redelivered or revised one is not counted twice. Days older than `history_max_days` before the subject's
newest call are dropped, so an overflow holds at most history_max_days + 1 days, whatever the number of calls.

Exactness: window counts, crisis counts, domestic-violence counts and crisis categories are exact for a call
decided while its subject has fewer than `history_max_calls` later calls recorded (every call in the usual
order, and most late ones). A call that reaches the worker after more than that many later calls of its
subject (its time is before `latest`) counts the overflowed calls of its own day as earlier (itself included
when it was pushed out long ago). The decayed score of an overflowed call takes noon of its day as its time
(the detail keeps exact times).
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import date, datetime, time
from functools import lru_cache
from typing import Iterable, NamedTuple
from zoneinfo import ZoneInfo

import msgspec

from services.triage.domain.config import WINDOWS_DAYS

DAY = 86_400.0
ZONE = ZoneInfo("America/Montreal")
YEAR_DAYS = 365                       # crisis categories and domestic-violence calls look back this far
VCF = "violence_conjugale_familiale"
MAX_GONE = 20


class DayCount(msgspec.Struct, gc=False, array_like=True):
    """The calls of one civil day pushed out of the detail."""
    day: int                  # date.toordinal(), Québec time
    calls: int
    crisis: int
    domestic_violence: int


class Overflow(msgspec.Struct, gc=False):
    """The calls pushed out of a subject's detail, counted per civil day (see the module's doc)."""
    days: list[DayCount]                  # sorted by day
    latest: float                         # the latest event time pushed out
    pushed_out: list[str]                 # the last MAX_GONE call ids pushed out
    categories: dict[str, float]          # crisis category → latest event time pushed out


class Past(NamedTuple):
    """One earlier (or the current) call as recurrence sees it."""
    t: float          # event time, epoch seconds
    crisis: bool
    category: str = ""


def window_label(days: int) -> str:
    return f"{days}j"


LABELS = tuple(window_label(d) for d in WINDOWS_DAYS)
_WIDEST_FIRST = sorted(range(len(WINDOWS_DAYS)), key=lambda i: -WINDOWS_DAYS[i])  # window indexes
_DAYS_ASCENDING = sorted(WINDOWS_DAYS)
_HORIZON = max(max(WINDOWS_DAYS), YEAR_DAYS)  # no overflowed day older than this counts in anything


def day_of(t: float) -> int:
    """The civil day (ordinal), Québec time, of an epoch time."""
    return datetime.fromtimestamp(t, ZONE).toordinal()


@lru_cache(maxsize=8192)
def _midnight(day: int) -> float:
    """The first instant of civil day `day`, Québec time (days are 23 to 25 hours long)."""
    return datetime.combine(date.fromordinal(day), time(0), ZONE).timestamp()


@lru_cache(maxsize=4096)
def _starts(day: int) -> tuple[tuple[float, ...], float]:
    """For a call on civil day `day`: the first instant of each window, widest window first (ascending
    times, for bisect), and of the year that crisis categories look back on."""
    return tuple(_midnight(day - WINDOWS_DAYS[i] + 1) for i in _WIDEST_FIRST), _midnight(day - YEAR_DAYS + 1)


def _noon(day: int) -> float:
    return _midnight(day) + DAY / 2


class Tally(NamedTuple):
    calls: dict[str, int]           # per window label
    crisis: dict[str, int]          # crisis calls per window label
    crisis_year: int                # crisis calls in the year
    vcf: int                        # domestic-violence calls in the year
    categories: frozenset[str]      # crisis categories in the year
    decayed: float                  # Σ 0.5 ** (age / half-life) over the year (not rounded)


def tally(entries: Iterable[tuple[float, bool, str]], at: float, overflow: Overflow | None = None,
          half_life_days: float = 30.0, *, exclude: tuple[str, bool, str] | None = None) -> Tally:
    """Calls up to `at` (event time) in each window, from the detailed `entries` (t, crisis, category) and
    the overflow. `exclude`: the call being decided (id, crisis, category), not counted if the overflow holds
    it (the caller leaves it out of `entries`)."""
    day = day_of(at)
    starts, year0 = _starts(day)
    width = len(starts)
    depth = [0] * (width + 1)            # depth[k]: entries in the k widest windows
    crisis_depth = [0] * (width + 1)
    crisis_year, vcf, categories, decayed = 0, 0, set(), 0.0
    k_half = DAY * half_life_days
    for t, crisis, category in entries:
        if t > at:
            continue
        k = bisect_right(starts, t)
        depth[k] += 1
        if crisis:
            crisis_depth[k] += 1
        if t >= year0:
            decayed += 0.5 ** ((at - t) / k_half)
            if category == VCF:
                vcf += 1
            if crisis:
                crisis_year += 1
                categories.add(category)
    if overflow is not None:
        late = at < overflow.latest      # some overflowed calls may be later than `at`: keep to its day
        # an overflowed call's time is noon of its day: weight 0.5 ** ((age days + at - noon) / half-life)
        today = 0.5 ** (max(0.0, at - _noon(day)) / k_half)
        per_day = 0.5 ** (DAY / k_half)
        k, bound = width, _DAYS_ASCENDING[0]  # newest day first: the age only grows, k only falls
        for bucket in reversed(overflow.days):
            age = day - bucket.day
            if age < 0:
                if late:
                    continue
                age = 0
            elif age >= _HORIZON:
                break
            while age >= bound:
                k -= 1
                bound = _DAYS_ASCENDING[width - k] if k else _HORIZON
            depth[k] += bucket.calls
            crisis_depth[k] += bucket.crisis
            if age < YEAR_DAYS:
                crisis_year += bucket.crisis
                vcf += bucket.domestic_violence
                decayed += bucket.calls * today * per_day ** age
        for category, t in overflow.categories.items():
            if year0 <= t <= at:
                categories.add(category)
        if exclude is not None and exclude[0] in overflow.pushed_out:  # the call itself, reprocessed after it
            depth[width] -= 1                                        # was pushed out: not an earlier call
            crisis_depth[width] -= bool(exclude[1])
            crisis_year -= bool(exclude[1])
            vcf -= exclude[2] == VCF
            decayed -= 0.5 ** (max(0.0, at - _noon(day)) / k_half)
    calls, crisis_calls = {}, {}
    total = total_crisis = 0
    for j in range(width, 0, -1):        # window j-1 (widest first) holds the entries of depth ≥ j
        total += depth[j]
        total_crisis += crisis_depth[j]
        label = LABELS[_WIDEST_FIRST[j - 1]]
        calls[label], crisis_calls[label] = total, total_crisis
    return Tally({lb: calls[lb] for lb in LABELS}, {lb: crisis_calls[lb] for lb in LABELS}, crisis_year, vcf,
                 frozenset(categories), decayed)


def counts(entries: Iterable[Past], at: float, *, crisis_only: bool = False,
           overflow: Overflow | None = None) -> dict[str, int]:
    """Calls per window (see the module's doc), up to `at`; later calls never count."""
    t = tally(((e.t, e.crisis, e.category) for e in entries), at, overflow)
    return t.crisis if crisis_only else t.calls


def decayed_score(entries: Iterable[Past], at: float, half_life_days: float) -> float:
    """Σ 0.5 ** (age / half-life) over calls up to `at` within the year, rounded for stable output."""
    return round(tally(((e.t, e.crisis, e.category) for e in entries), at, None, half_life_days).decayed, 4)


# --- the overflow ----------------------------------------------------------------------------------

def spill(overflow: Overflow | None, call_id: str, t: float, crisis: bool, category: str = "") -> Overflow:
    """Count a call pushed out of the detail in its day."""
    if overflow is None:
        overflow = Overflow(days=[], latest=t, pushed_out=[], categories={})
    if crisis and category:
        cats = overflow.categories
        cats[category] = max(t, cats.get(category, t))
    days, d = overflow.days, day_of(t)
    if days and days[-1].day == d:                 # the usual case: calls pushed out in time order
        bucket = days[-1]
    elif not days or days[-1].day < d:
        bucket = DayCount(d, 0, 0, 0)
        days.append(bucket)
    else:
        i = bisect_left(days, d, key=_day)
        if i < len(days) and days[i].day == d:
            bucket = days[i]
        else:
            bucket = DayCount(d, 0, 0, 0)
            days.insert(i, bucket)
    bucket.calls += 1
    bucket.crisis += bool(crisis)
    bucket.domestic_violence += category == VCF
    overflow.latest = max(overflow.latest, t)
    gone = overflow.pushed_out
    gone.append(call_id)
    del gone[:-MAX_GONE]
    return overflow


def _day(bucket: DayCount) -> int:
    return bucket.day


def gone(overflow: Overflow | None, call_id: str) -> bool:
    """The call was pushed out of the detail lately (a redelivery or a revision of it is already counted)."""
    return overflow is not None and call_id in overflow.pushed_out


def forget_before(overflow: Overflow | None, t: float) -> None:
    """Drop the days before the civil day of `t`."""
    if overflow is not None and overflow.days and overflow.days[0].day < (first := day_of(t)):
        del overflow.days[:bisect_left(overflow.days, first, key=_day)]
