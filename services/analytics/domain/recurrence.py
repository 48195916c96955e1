"""Is the program reducing repeat calls? Intervention starts, before/after call rates, repeat-call trend and
grandes utilisatrices. Pure functions over `Facts`; definitions are repeated in docs/figures.md."""
from __future__ import annotations

import statistics
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dyade.contracts.program import GRANDE_UTILISATRICE_CALLS, GRANDE_UTILISATRICE_DAYS
from dyade.contracts.vocabulary import CallCategory
from services.analytics.domain.facts import MONTREAL, Facts, aware, month_of

ACCEPTED_REFERRAL = {"admissible", "premier_contact"}


@dataclass(frozen=True)
class InterventionStart:
    person_key: str
    started_at: datetime
    how: str  # frame | referral | dyad_call | alert_ack


def intervention_starts(facts: Facts) -> dict[str, InterventionStart]:
    """A person's intervention start is the EARLIEST of:

    - the first activation of their Info-social frame (`frame.changed`, change `approved`);
    - their referral being accepted (`referral.status` to `admissible` or `premier_contact`);
    - the first dyad contact: a `call.updated` carrying a `dyad_id` (at its time; the persons are the
      update's `person_keys`, or else the call's counted persons), or an alert about them acknowledged
      (`alert.changed` to `acknowledged`, its `person_key`, or else its call's counted persons).
    """
    persons_of_call = {c.call_id: c.counted_persons() for c in facts.calls}
    candidates: list[tuple[str, datetime, str]] = []
    for f in facts.frames:
        if f.change == "approved":
            candidates.append((f.person_key, aware(f.occurred_at), "frame"))
    for r in facts.referrals:
        if r.kind == "status" and r.status in ACCEPTED_REFERRAL:
            candidates.append((r.person_key, aware(r.occurred_at), "referral"))
    for u in facts.updates:
        if u.dyad_id:
            for key in (u.person_keys or persons_of_call.get(u.call_id, ())):
                candidates.append((key, aware(u.occurred_at), "dyad_call"))
    for a in facts.alerts:
        if a.state == "acknowledged":
            keys = {a.person_key} if a.person_key else persons_of_call.get(a.call_id or "", set())
            for key in keys:
                candidates.append((key, aware(a.occurred_at), "alert_ack"))
    starts: dict[str, InterventionStart] = {}
    for key, at, how in sorted(candidates, key=lambda c: (c[1], c[2])):
        starts.setdefault(key, InterventionStart(key, at, how))
    return starts


def calls_by_person(facts: Facts, *, crisis_only: bool = False) -> dict[str, list[datetime]]:
    """Sorted receive times of the calls each person is counted on (see CallFact.counted_persons);
    `crisis_only` keeps the crisis calls (`CallCategory.is_crisis`)."""
    out: dict[str, list[datetime]] = defaultdict(list)
    for c in facts.calls:
        if crisis_only and not CallCategory(c.category).is_crisis:
            continue
        for key in c.counted_persons():
            out[key].append(aware(c.received_at))
    for times in out.values():
        times.sort()
    return out


@dataclass(frozen=True)
class PersonBeforeAfter:
    person_key: str
    started_at: datetime
    how: str
    calls_before: int
    calls_after: int
    rate_before: float  # calls per 30 days
    rate_after: float
    window_days: float = 0.0  # this person's window, the same on both sides of the start

    @property
    def reduction(self) -> float:
        """Calls per 30 days fewer after than before (negative: more calls after)."""
        return self.rate_before - self.rate_after

    @property
    def reduction_pct(self) -> float | None:
        return None if self.rate_before == 0 else 100.0 * self.reduction / self.rate_before


@dataclass(frozen=True)
class RepeatCallReduction:
    window_days: int
    as_of: datetime
    persons: list[PersonBeforeAfter]
    excluded_short_followup: int
    min_followup_days: int = 0
    excluded_short_history: int = 0
    history_start: datetime | None = None

    @property
    def n(self) -> int:
        return len(self.persons)

    def _stat(self, fn, values):
        return round(fn(values), 4) if values else None

    def summary(self) -> dict:
        red = [p.reduction for p in self.persons]
        pct = [p.reduction_pct for p in self.persons if p.reduction_pct is not None]
        windows = [p.window_days for p in self.persons]
        return {
            "window_days": self.window_days, "min_followup_days": self.min_followup_days,
            "as_of": self.as_of.isoformat(),
            "history_start": self.history_start.isoformat() if self.history_start else None,
            "n_persons": self.n,
            "excluded_short_followup": self.excluded_short_followup,
            "excluded_short_history": self.excluded_short_history,
            "median_followup_days": self._stat(statistics.median, windows),
            "min_followup_days_observed": self._stat(min, windows),
            "max_followup_days_observed": self._stat(max, windows),
            "mean_rate_before": self._stat(statistics.fmean, [p.rate_before for p in self.persons]),
            "mean_rate_after": self._stat(statistics.fmean, [p.rate_after for p in self.persons]),
            "median_reduction": self._stat(statistics.median, red),
            "mean_reduction": self._stat(statistics.fmean, red),
            "n_persons_with_calls_before": len(pct),
            "median_reduction_pct": self._stat(statistics.median, pct),
            "mean_reduction_pct": self._stat(statistics.fmean, pct),
            "persons_improved": sum(1 for r in red if r > 0),
            "persons_worse": sum(1 for r in red if r < 0),
        }


DAY = timedelta(days=1)


def repeat_call_reduction(facts: Facts, *, window_days: int = 180, as_of: datetime | None = None,
                          since: datetime | None = None, min_followup_days: int | None = None,
                          history_start: datetime | None = None) -> RepeatCallReduction:
    """Repeat-call reduction of the cohort of persons with an intervention start: each person's calls in
    equal windows before and after her start.

    For a person whose intervention started at t0 (see `intervention_starts`):
    - her window w = the shortest of W (`window_days`, the longest window: 180 days by default), her
      follow-up (`as_of` − t0) and the history before her start (t0 − `history_start`, the first call the
      facts hold: before it nobody can tell whether she called). The same w on both sides, so that a short
      follow-up is compared with an equally short stretch before, never with a longer one.
    - calls before = her counted calls received in [t0 − w, t0] (the call that led to the intervention
      belongs to *before*); calls after = received in (t0, t0 + w].
    - rate = calls × 30 / w (calls per 30 days); reduction = rate before − rate after;
      reduction % = reduction / rate before (persons with no call before have none).
    - excluded: a follow-up shorter than `min_followup_days` (`excluded_short_followup`), else a history
      before the start shorter than it (`excluded_short_history`). `min_followup_days` defaults to W (the
      strict reading: everyone followed for the full window). `as_of` defaults to the newest fact's time
      (`Facts.latest_time`: when it happened, not when Dyade processed it), `history_start` to the first call
      of `facts`.
    - with `since`, only persons whose intervention started at or after it are considered (a period's cohort).
    Cohort figures: N persons, their median window (`median_followup_days`), median and mean reduction
    (calls / 30 days and %).
    """
    as_of = aware(as_of) if as_of else (facts.latest_time() or datetime.now().astimezone())
    history_start = aware(history_start) if history_start else facts.history_start()
    longest = timedelta(days=window_days)
    minimum = timedelta(days=window_days if min_followup_days is None else min(min_followup_days, window_days))
    times_of = calls_by_person(facts)
    persons, short_followup, short_history = [], 0, 0
    for key, start in sorted(intervention_starts(facts).items()):
        t0 = start.started_at
        if since is not None and t0 < since:
            continue
        followup = as_of - t0
        history = t0 - history_start if history_start else longest
        if followup < minimum:
            short_followup += 1
            continue
        if history < minimum:
            short_history += 1
            continue
        window = min(longest, followup, history)
        days = window / DAY
        times = times_of.get(key, [])
        before = bisect_right(times, t0) - bisect_left(times, t0 - window)
        after = bisect_right(times, t0 + window) - bisect_right(times, t0)
        persons.append(PersonBeforeAfter(key, t0, start.how, before, after, before * 30 / days, after * 30 / days,
                                         round(days, 3)))
    return RepeatCallReduction(window_days, as_of, persons, short_followup,
                               min_followup_days=round(minimum / DAY), excluded_short_history=short_history,
                               history_start=history_start)


def repeat_calls_by_month(facts: Facts, *, lookback_days: int = 30, since: datetime | None = None,
                          tz: ZoneInfo = MONTREAL) -> list[dict]:
    """A *repeat call* is a call about a person (counted persons) who was already counted on another call
    in the `lookback_days` before it. By month (in `tz`, the organisation's time zone) of the call: all
    calls, repeat calls, and their share. With `since`, only the calls received from it on are counted, each
    still looked back on in all of `facts` (the calls before `since` are what makes it a repeat)."""
    times_of = calls_by_person(facts)
    lookback = timedelta(days=lookback_days)
    total: Counter[str] = Counter()
    repeat: Counter[str] = Counter()
    for c in facts.calls:
        at = aware(c.received_at)
        if since is not None and at < since:
            continue
        month = month_of(at, tz)
        total[month] += 1
        for key in c.counted_persons():
            times = times_of[key]
            earlier = bisect_left(times, at) - bisect_left(times, at - lookback)
            if earlier > 0:
                repeat[month] += 1
                break
    return [{"month": m, "calls": total[m], "repeat_calls": repeat[m],
             "share": round(repeat[m] / total[m], 4) if total[m] else 0.0} for m in sorted(total)]


def grandes_utilisatrices_by_month(facts: Facts, *, threshold: int = GRANDE_UTILISATRICE_CALLS,
                                   window_days: int = GRANDE_UTILISATRICE_DAYS,
                                   tz: ZoneInfo = MONTREAL) -> list[dict]:
    """A person is a *grande utilisatrice* in month M when they are counted on at least `threshold` crisis
    calls (`CallCategory.is_crisis`, the definition triage uses for its flag) received in the `window_days`
    days ending at the end of month M (in `tz`); by default 7 in 365 days, triage's default.
    By month: their number, the calls of month M about at least one of them, all calls of month M, and
    the share (calls about them / all calls)."""
    from services.analytics.domain.calendar import month_end
    times_of = calls_by_person(facts, crisis_only=True)
    by_month: dict[str, list] = defaultdict(list)
    for c in facts.calls:
        by_month[month_of(c.received_at, tz)].append(c)
    out = []
    for month in sorted(by_month):
        end = month_end(month, tz)
        start = end - timedelta(days=window_days)
        gu = {k for k, times in times_of.items()
              if bisect_left(times, end) - bisect_left(times, start) >= threshold}
        month_calls = by_month[month]
        theirs = sum(1 for c in month_calls if c.counted_persons() & gu)
        out.append({"month": month, "grandes_utilisatrices": len(gu), "their_calls": theirs,
                    "calls": len(month_calls), "share": round(theirs / len(month_calls), 4) if month_calls else 0.0})
    return out
