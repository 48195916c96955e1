"""Figures on demand: reads the facts (cached until new events arrive, or a few seconds), filters them by
period and sector, and calls the pure domain functions."""
from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from dyade.contracts.program import GRANDE_UTILISATRICE_CALLS, GRANDE_UTILISATRICE_DAYS
from dyade.db import unit_of_work
from services.analytics.adapters import store
from services.analytics.config import AnalyticsConfig
from services.analytics.domain import calls as calls_fig
from services.analytics.domain import dyads, outcomes, recurrence
from services.analytics.domain.calendar import month_end
from services.analytics.domain.facts import MONTREAL, Facts


@dataclass(frozen=True)
class Params:
    """What a reader may choose; every default is the documented one (None: the service's setting)."""
    window_days: int = 180
    min_followup_days: int | None = None  # ANALYTICS_MIN_FOLLOWUP_DAYS (14)
    as_of: datetime | None = None
    sector: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    gu_threshold: int = GRANDE_UTILISATRICE_CALLS  # as triage's grande-utilisatrice flag
    gu_window_days: int = GRANDE_UTILISATRICE_DAYS
    repeat_lookback_days: int = 30


def memoized(method):
    """Cache a figure per arguments until the facts are reloaded. Callers must not mutate the result."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        key = (method.__name__, args, tuple(sorted(kwargs.items())))
        return self.memo(key, lambda: method(self, *args, **kwargs))
    return wrapper


class FigureBook:
    """The service's single reader of facts, with a memo of computed figures.

    The consumer calls `invalidate()` after each batch it stores; the facts are then reloaded on the next
    read, but not more often than every `min_refresh_s` — or four times the last load's duration, so that a
    large history is not reloaded back to back — and at least every `ttl_s`. `refresh()` forces a reload."""

    def __init__(self, sessions: sessionmaker[Session], ttl_s: float = 300.0, min_refresh_s: float = 5.0, *,
                 tz: ZoneInfo = MONTREAL, config: AnalyticsConfig | None = None):
        self.sessions = sessions
        self.tz = tz
        self.config = config or AnalyticsConfig(_env_file=None)
        self.ttl_s = ttl_s
        self.min_refresh_s = min_refresh_s
        self._lock = threading.Lock()
        self._facts: Facts | None = None
        self._loaded_at = 0.0
        self._dirty = True
        self._memo: dict = {}
        self.load_seconds = 0.0

    def invalidate(self) -> None:
        self._dirty = True

    def refresh(self) -> None:
        with self._lock:
            self._facts = None

    def facts(self) -> Facts:
        with self._lock:
            age = time.monotonic() - self._loaded_at
            min_age = max(self.min_refresh_s, 4 * self.load_seconds)
            if self._facts is None or (self._dirty and age >= min_age) or age > self.ttl_s:
                self._dirty = False
                t0 = time.monotonic()
                with unit_of_work(self.sessions) as session:
                    self._facts = store.load_facts(session)
                self._loaded_at = time.monotonic()
                self.load_seconds = self._loaded_at - t0
                self._memo = {}
            return self._facts

    def memo(self, key, compute):
        """A figure computed once per load of the facts."""
        facts = self.facts()
        cached = self._memo.get(key)
        if cached is not None and cached[0] is facts:
            return cached[1]
        value = compute()
        self._memo[key] = (facts, value)
        return value

    def sectored(self, p: Params) -> Facts:
        """All the facts, of the sector when one is chosen."""
        facts = self.facts()
        return facts.in_sector(p.sector) if p.sector else facts

    def scoped(self, p: Params) -> Facts:
        """The facts of the period [start, end) (see `Facts.between`)."""
        facts = self.sectored(p)
        return facts.between(p.start, p.end) if p.start or p.end else facts

    def history(self, p: Params) -> Facts:
        """The history as it stood at `end`, whatever `start` (see `Facts.until`)."""
        return self.sectored(p).until(p.end)

    # --- the figures -------------------------------------------------------------------------------------
    @memoized
    def repeat_calls(self, p: Params) -> dict:
        """Before/after reduction uses every fact up to `end` (history before `start` is needed for the
        before-window); the cohort is the persons whose intervention started in [start, end)."""
        facts = self.history(p)
        minimum = self.config.min_followup_days if p.min_followup_days is None else p.min_followup_days
        result = recurrence.repeat_call_reduction(facts, window_days=p.window_days, as_of=p.as_of or p.end,
                                                  since=p.start, min_followup_days=minimum)
        return {**result.summary(),
                "distribution": [{"rate_before": round(x.rate_before, 4), "rate_after": round(x.rate_after, 4),
                                  "calls_before": x.calls_before, "calls_after": x.calls_after,
                                  "window_days": x.window_days,
                                  "started_month": x.started_at.astimezone(self.tz).strftime("%Y-%m"),
                                  "how": x.how} for x in result.persons],
                "trend": recurrence.repeat_calls_by_month(facts, lookback_days=p.repeat_lookback_days,
                                                          since=p.start, tz=self.tz)}

    @memoized
    def grandes_utilisatrices(self, p: Params) -> list[dict]:
        rows = recurrence.grandes_utilisatrices_by_month(self.history(p),
                                                         threshold=p.gu_threshold, window_days=p.gu_window_days,
                                                         tz=self.tz)
        if p.start:
            start_month = p.start.astimezone(self.tz).strftime("%Y-%m")
            rows = [r for r in rows if r["month"] >= start_month]
        return rows

    @memoized
    def dyads(self, p: Params) -> dict:
        facts = self.scoped(p)
        return {"dyads": dyads.dyad_activity(facts, self.tz), "missed_for_capacity_by_sector":
                dyads.missed_for_capacity_by_sector(facts)}

    @memoized
    def latency(self, p: Params) -> dict:
        return dyads.latency(self.sectored(p), start=p.start, end=p.end, backfill_after=self.config.backfill_after)

    def latency_samples(self) -> dyads.LatencySamples:
        return dyads.latency_samples(self.facts(), backfill_after=self.config.backfill_after)

    @memoized
    def dispositions(self, p: Params) -> dict:
        return outcomes.dispositions(self.scoped(p), self.tz)

    @memoized
    def frames(self, p: Params) -> dict:
        """Frame states as of `end` (all frame events before it)."""
        return outcomes.frame_states(self.history(p))

    @memoized
    def referrals(self, p: Params) -> dict:
        return outcomes.referrals(self.scoped(p))

    @memoized
    def calls_by_week(self, p: Params, *, categories=None, tz: ZoneInfo | None = None, by: str = "category") -> list[dict]:
        return calls_fig.calls_by_week(self.scoped(p), categories=categories, tz=tz or self.tz, by=by)

    @memoized
    def top_locations(self, p: Params, *, limit: int = 20, categories=None) -> list[dict]:
        return calls_fig.top_locations(self.scoped(p), limit=limit, categories=categories)

    @memoized
    def overview(self, p: Params) -> dict:
        """Counts, the newest fact (the figures' default 'as of'), the calls that are history rather than live
        (replays, backfills), and the calls stored before processing times were kept (to rebuild)."""
        facts = self.scoped(p)
        after = self.config.backfill_after
        ref = outcomes.referrals(facts)
        latest = facts.until(p.end).latest_time()  # not the later events of the period's alerts
        return {"calls": len(facts.calls), "by_category": calls_fig.calls_by_category(facts),
                "first_call": min((c.received_at for c in facts.calls), default=None),
                "last_call": max((c.received_at for c in facts.calls), default=None),
                "latest_fact": latest.isoformat() if latest else None,
                "calls_backfill": sum(1 for c in facts.calls if c.is_backfill(after)),
                "calls_to_rebuild": sum(1 for c in facts.calls if c.ingested_at is None),
                "alerts": len({a.alert_id for a in facts.alerts}), "decisions": len(facts.decisions),
                "referrals": ref["referrals"], "referral_suggestions_pending": ref["suggested"]["pending"]}

    @memoized
    def monthly_report(self, month: str, p: Params) -> dict:
        """Every figure for one month (in the organisation's time zone): activity figures over the month,
        repeat-call reduction and frame states as of the month's end."""
        end = month_end(month, self.tz)
        start = datetime(int(month[:4]), int(month[5:7]), 1, tzinfo=self.tz)
        mp = Params(window_days=p.window_days, sector=p.sector, start=start, end=end,
                    gu_threshold=p.gu_threshold, gu_window_days=p.gu_window_days)
        reduction = self.repeat_calls(Params(window_days=p.window_days, min_followup_days=p.min_followup_days,
                                             sector=p.sector, end=end, as_of=end))
        return {"month": month, "period": {"start": start.isoformat(), "end": (end - timedelta(seconds=1)).isoformat()},
                "timezone": str(self.tz),
                "sector": p.sector, "overview": self.overview(mp), "repeat_calls": reduction,
                "grandes_utilisatrices": [r for r in self.grandes_utilisatrices(mp) if r["month"] == month],
                "dyads": self.dyads(mp), "latency": self.latency(mp), "dispositions": self.dispositions(mp),
                "frames": self.frames(mp), "referrals": self.referrals(mp),
                "top_locations": self.top_locations(mp, limit=10)}
