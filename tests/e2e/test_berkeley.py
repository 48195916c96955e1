"""The real Berkeley call logs, replayed through intake with the shipped mapping as a city would give them,
reach the administrators' figures: mental-health and suicide calls by week, and the most recurrent
locations, checked against counts made directly from the CSV files."""
from __future__ import annotations

import csv
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from dyade.auth import issue_token
from dyade.kafka import wait_until
from dyade.paths import BERKELEY as BERKELEY_LOGS
from services.intake.entrypoints.replay.client import replay
from services.intake.entrypoints.replay.reader import load_mapping

ROOT = Path(__file__).resolve().parents[2]
DAILY = BERKELEY_LOGS / "daily"
MAPPING = ROOT / "services" / "intake" / "mappings" / "berkeley.yaml"
BERKELEY = ZoneInfo("America/Los_Angeles")
# two full weeks of real logs (Monday 2014-07-07 to Sunday 2014-07-20)
FILES = sorted(p for p in DAILY.glob("07*2014.csv") if 7 <= int(p.name[2:4]) <= 20)


def direct_counts() -> tuple[Counter, Counter, int]:
    """From the CSV files alone: (week, code) counts for 5150 and 1056, calls per address, usable rows (the
    administrative codes the mapping skips — traffic stops, security checks... — are not calls)."""
    skip = load_mapping(MAPPING).table.skip
    by_week, by_address, usable = Counter(), Counter(), 0
    for path in FILES:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
        # some files open with a stray line before the header
        header = next(i for i, line in enumerate(lines) if line.startswith('"Date-Time"'))
        for row in csv.DictReader(lines[header:]):
            address = (row.get("Full Address") or row.get("Address") or "").strip()
            code = (row.get("Call-Incident Type") or "").strip()
            try:
                when = datetime.strptime(row["Date-Time"].strip(), "%m/%d/%Y %H:%M:%S")
            except (KeyError, ValueError, AttributeError):
                continue
            if address.upper().replace("<UNKNOWN>", "").replace("UNKNOWN", "").strip(" /") == "" or not code:
                continue
            if " ".join(code.split()).upper() in skip:
                continue
            usable += 1
            by_address[address.upper()] += 1
            if code in ("5150", "1056"):
                monday = (when.date() - timedelta(days=when.weekday())).isoformat()
                by_week[(monday, code)] += 1
    return by_week, by_address, usable


def test_berkeley_logs_reach_the_dashboard_figures(platform, headers_for):
    assert len(FILES) == 14
    secret = platform.settings.dyade_token_secret
    tally = replay([str(p) for p in FILES], load_mapping(MAPPING), url=platform.settings.url_of("intake"),
                   token=issue_token(secret, subject="berkeley-cad", role="dispatch"))
    by_week, by_address, usable = direct_counts()
    assert tally.accepted + tally.duplicates == usable, tally.as_json()

    import httpx
    analytics = platform.settings.url_of("analytics")
    analyst = headers_for("analyst")

    def weekly():
        r = httpx.get(f"{analytics}/v1/figures/calls-by-week", headers=analyst, timeout=30,
                      params={"by": "nature_code", "categories": "5150,1056", "tz": "America/Los_Angeles"})
        rows = r.json() if r.status_code == 200 else []
        got = Counter({(w["week"], code): n for w in rows for code, n in w["counts"].items()})
        return got if got == by_week else None

    wait_until(weekly, timeout=180, interval=1.0)
    assert sum(by_week.values()) > 20  # the logs do hold mental-health and suicide calls

    top = httpx.get(f"{analytics}/v1/figures/top-locations", headers=analyst, params={"limit": 5}, timeout=30).json()
    rows = top["locations"] if isinstance(top, dict) else top
    expected = by_address.most_common(5)
    assert [r["calls"] for r in rows] == [n for _, n in expected]  # ties may be listed in another order
    assert rows[0]["address"].upper() == expected[0][0]
