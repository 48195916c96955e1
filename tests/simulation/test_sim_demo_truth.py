"""A short compressed run of the demo against the whole platform (every service as its own process, as
`dyade up` runs them, with the settings `dyade up --demo-speed` gives them): the dashboard's figures
(analytics API) are the demo's ground truth — calls and their categories, alerts the dyads took and those
that escalated, the time to take them, the dispositions — and that truth is credible (a realistic share of
mental-health calls, no one above 65 calls in six months, most alerts taken in time)."""
from __future__ import annotations

import json
import statistics
import threading
from pathlib import Path

import httpx
import pytest

from dyade.auth import issue_token
from dyade.broker import EmbeddedBroker
from dyade.kafka import create_topics, wait_until
from dyade.simulation.clock import service_env
from dyade.simulation.demo import Demo, DemoOptions
from dyade.simulation.field import FieldBehaviour
from tests.kit import every_service, fresh_database, settings_for

SPEED, DAYS = 2000.0, 30.0  # the city's clock ×2000, 30 days behind: it never catches up during the test
ACK_DELAY_S = 10  # the notifier's escalation delay for this run; the dyads answer in ~5 s (median), a quarter late
BEHAVIOUR = FieldBehaviour(ack_median_s=5.0, ack_sigma=1.0)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "simulation"


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """Its own broker and database: the analytics figures hold this run's events only."""
    home = tmp_path_factory.mktemp("demo-platform")
    env = {"NOTIFIER_ACK_DELAY_S": str(ACK_DELAY_S), "NOTIFIER_SUPERVISOR_DELAY_S": "30", "NOTIFIER_TICK_S": "1",
           **service_env(SPEED, DAYS)}
    with EmbeddedBroker(log_path=home / "tansu.log") as broker, fresh_database() as url:
        create_topics(broker.bootstrap_servers)
        with every_service(settings_for(broker.bootstrap_servers, url, home, "demo"), env, timeout=180) as running:
            yield running


def test_the_compressed_demo_city_reaches_the_dashboard_as_its_truth(platform, monkeypatch):
    settings = platform.settings
    monkeypatch.setenv("NOTIFIER_ACK_DELAY_S", str(ACK_DELAY_S))  # the truth's expected late share
    stop = threading.Event()
    demo = Demo(settings, DemoOptions(speed=SPEED, days=DAYS, seed=11, history_days=2,
                                      frames=2, calls_per_year=100_000, behaviour=BEHAVIOUR, live_seconds=60,
                                      cad_floor_s=20, truth_every_s=1e9), stop)
    thread = threading.Thread(target=demo.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: demo.history_done.is_set(), timeout=300)
        wait_until(demo.settled, timeout=420, interval=1.0)
        truth = demo.truth()
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "demo-verite.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")

    # the truth itself is credible
    calls, alerts, persons = truth["calls"], truth["alerts"], truth["persons"]
    # the live minute covers about 33 hours of the city, from wherever the history's wall time left its clock:
    # about 300 calls here (299 and 305 seen), more or fewer with the hours it covers
    assert calls["rejected"] == 0 and calls["live"] > 200, calls
    assert 0.02 < calls["mental_health_share"] < 0.10, calls  # Berkeley's log: 1.8 % to 2.4 %; SPVM ≈ 3.6 %
    assert persons["followed"] == 25 and persons["max_calls_in_6_months"] <= 65, persons
    assert alerts["seen"] >= 5, alerts
    assert alerts["acknowledged_share"] >= 0.6 and alerts["escalated_share"] <= 0.5, alerts
    assert alerts["turns"] >= alerts["seen"] and 0.1 < alerts["expected_late_share"] < 0.4

    # the dashboard's figures are the truth
    analytics = settings.url_of("analytics")
    headers = {"Authorization": "Bearer " + issue_token(settings.dyade_token_secret, subject="verif", role="analyst")}

    def figure(name: str, **params) -> dict:
        r = httpx.get(f"{analytics}/v1/figures/{name}", headers=headers, params=params, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def overview_matches():
        o = figure("overview")
        return o if o["calls"] == calls["total"] else None
    try:
        overview = wait_until(overview_matches, timeout=240, interval=2.0)
    except Exception:
        pytest.fail(f"analytics: {figure('overview')['calls']} appels, vérité: {calls['total']}")
    # the history is history (older than the horizon when sent), the compressed calls are live
    assert overview["calls_backfill"] == calls["history"], (overview, calls)
    by_category = {k: v for k, v in overview["by_category"].items() if v}
    assert by_category == calls["by_category"], (by_category, calls["by_category"])

    def dyads_match():
        rows = figure("dyads")
        rows = rows.get("dyads", rows) if isinstance(rows, dict) else rows
        got = {k: sum(r[k] for r in rows) for k in ("alerts", "acknowledged", "escalated")}
        want = {"alerts": alerts["seen"], "acknowledged": alerts["acknowledged"], "escalated": alerts["escalated"]}
        return (rows, got) if got == want else None
    try:
        rows, _ = wait_until(dyads_match, timeout=180, interval=2.0)
    except Exception:
        rows = figure("dyads")
        pytest.fail(f"dyades: {rows}\nvérité: {alerts}")
    # the time to take an alert: the notifier's clock, from creation; the team's, from its first sight of it
    # (a poll, ≤ 0.5 s, later): per dyad, the medians agree within a second and a half
    assert sum(r["time_to_ack_s"].get("n", 0) for r in rows) == alerts["acknowledged"]
    for r in rows:
        mine = sorted(s["ack_delay_s"] for s in truth["ledger"] if s["acked_by"] == r["dyad_id"])
        if mine:
            assert abs(r["time_to_ack_s"]["median"] - statistics.median(mine)) < 1.5, (r, mine)

    def dispositions_match():
        d = figure("dispositions")
        return d if d["total"] == truth["dispositions"] else None
    try:
        wait_until(dispositions_match, timeout=120, interval=2.0)
    except Exception:
        pytest.fail(f"issues: {figure('dispositions')['total']}\nvérité: {truth['dispositions']}")
