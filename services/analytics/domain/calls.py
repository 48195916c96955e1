"""Figures that need no person: calls by category by week, and the most recurrent locations."""
from __future__ import annotations

from collections import Counter, defaultdict
from zoneinfo import ZoneInfo

from services.analytics.domain.calendar import week_of
from services.analytics.domain.facts import MONTREAL, Facts

MENTAL_HEALTH = ("etat_mental_perturbe", "suicidaire")


def calls_by_week(facts: Facts, *, categories: tuple[str, ...] | None = None, tz: ZoneInfo = MONTREAL,
                  by: str = "category") -> list[dict]:
    """Calls by local week (weeks start on Monday, in `tz`) and by `category` (Dyade's category) or by
    `nature_code` (the dispatch system's own code), counted by received time. `categories` keeps only
    those values. Weeks with no call between the first and the last are listed with zero counts."""
    from datetime import date, timedelta
    counts: dict[str, Counter] = defaultdict(Counter)
    for c in facts.calls:
        value = c.nature_code if by == "nature_code" else c.category
        if categories and value not in categories:
            continue
        counts[week_of(c.received_at, tz)][value] += 1
    if not counts:
        return []
    weeks, cur = [], date.fromisoformat(min(counts))
    last = date.fromisoformat(max(counts))
    while cur <= last:
        weeks.append(cur.isoformat())
        cur += timedelta(days=7)
    return [{"week": w, "total": sum(counts[w].values()), "counts": dict(sorted(counts[w].items()))} for w in weeks]


def top_locations(facts: Facts, *, limit: int = 20, categories: tuple[str, ...] | None = None) -> list[dict]:
    """Locations (`location_key`, block or intersection) with the most calls, optionally only calls of
    `categories`; ties broken by key. Each with its address as last given, sector, call count, the count by
    category, and the first and last call time."""
    calls = [c for c in facts.calls if not categories or c.category in categories]
    count = Counter(c.location_key for c in calls)
    chosen = {k for k, _ in sorted(count.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]}
    detail: dict[str, dict] = {}
    for c in sorted((c for c in calls if c.location_key in chosen), key=lambda c: c.received_at):
        row = detail.setdefault(c.location_key, {"location_key": c.location_key, "address": None, "sector": None,
                                                 "calls": 0, "by_category": Counter(), "first": c.received_at})
        row["address"] = c.address or row["address"]
        row["sector"] = c.sector or row["sector"]
        row["calls"] += 1
        row["by_category"][c.category] += 1
        row["last"] = c.received_at
    out = []
    for row in sorted(detail.values(), key=lambda r: (-r["calls"], r["location_key"])):
        row["by_category"] = dict(sorted(row["by_category"].items()))
        row["first"], row["last"] = row["first"].isoformat(), row["last"].isoformat()
        out.append(row)
    return out


def calls_by_category(facts: Facts) -> dict[str, int]:
    return dict(sorted(Counter(c.category for c in facts.calls).items()))
