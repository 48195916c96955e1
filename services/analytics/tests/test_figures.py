"""Every figure, computed from a synthetic history sent through the real broker, equals its known truth."""
from __future__ import annotations

import csv
import io

import pytest

from services.analytics.tests.history import (
    AS_OF, oracle_grandes_utilisatrices, oracle_repeat_trend, oracle_weekly,
)


@pytest.fixture(scope="module")
def q(history):
    return {"sector": history.sector, "window_days": 60, "as_of": AS_OF.isoformat()}


def get(client, path, **params):
    r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_repeat_call_reduction_equals_truth(client, history, q):
    f = get(client, "/v1/figures/repeat-calls", **q)
    assert f["n_persons"] == 6
    assert f["excluded_short_followup"] == 2
    assert f["median_reduction"] == 2.0
    assert f["mean_reduction"] == pytest.approx(9.5 / 6, abs=1e-4)
    assert f["median_reduction_pct"] == pytest.approx(200 / 3, abs=1e-3)
    assert f["mean_reduction_pct"] == pytest.approx((200 / 3 * 2 + 250 / 3 + 100) / 6, abs=1e-3)
    assert f["persons_improved"] == 4 and f["persons_worse"] == 0
    pairs = sorted((p["calls_before"], p["calls_after"]) for p in f["distribution"])
    assert pairs == [(3, 3), (3, 3), (6, 0), (6, 1), (6, 2), (6, 2)]
    assert sorted(p["how"] for p in f["distribution"]) == ["alert_ack", "dyad_call", "frame", "frame", "frame", "referral"]
    assert not any("person" in k for p in f["distribution"] for k in p)  # no person key leaves


def test_repeat_trend_and_grandes_utilisatrices_equal_brute_force(client, history, q):
    trend = {r["month"]: (r["calls"], r["repeat_calls"]) for r in get(client, "/v1/figures/repeat-calls", **q)["trend"]}
    assert trend == oracle_repeat_trend(history)
    gu = {r["month"]: (r["grandes_utilisatrices"], r["their_calls"], r["calls"])
          for r in get(client, "/v1/figures/grandes-utilisatrices", sector=history.sector,
                                                          gu_threshold=5, gu_window_days=90)}
    truth = oracle_grandes_utilisatrices(history)
    assert gu == truth
    assert any(n > 0 for n, _, _ in truth.values())  # the history does have grandes utilisatrices


def test_dyad_activity_equals_truth(client, history, q):
    f = get(client, "/v1/figures/dyads", **q)
    rows = {r["dyad_id"]: r for r in f["dyads"]}
    d1, d2 = rows[history.dyad("D1")], rows[history.dyad("D2")]
    assert set(rows) == {history.dyad("D1"), history.dyad("D2")}
    assert (d1["alerts"], d1["acknowledged"], d1["escalated"], d1["missed_for_capacity"]) == (3, 2, 1, 0)
    assert (d1["follow_ups_due"], d1["follow_ups_done"]) == (2, 1)
    assert d1["time_to_ack_s"] == {"n": 2, "median": 97.5, "mean": 97.5, "p90": 125.0, "max": 125.0}
    assert (d1["shifts_worked"], d1["workload_per_shift_mean"], d1["workload_per_shift_max"]) == (2, 1.5, 2)
    assert (d2["alerts"], d2["acknowledged"], d2["escalated"], d2["missed_for_capacity"]) == (2, 1, 0, 1)
    assert (d2["follow_ups_due"], d2["follow_ups_done"]) == (1, 1)
    assert d2["time_to_ack_s"]["median"] == 40.0
    assert (d2["shifts_worked"], d2["workload_per_shift_mean"], d2["workload_per_shift_max"]) == (2, 1.0, 1)
    assert f["missed_for_capacity_by_sector"] == {history.sector: 1}


def test_latency_histograms_equal_truth(client, history, q):
    f = get(client, "/v1/figures/latency", **q)
    counts = {stage: {b["le"]: b["count"] for b in h["buckets"]} for stage, h in f.items()}
    assert f["received_to_triage"]["count"] == 4 and f["received_to_triage"]["median"] == 5.0
    assert counts["received_to_triage"][5] == 2 and counts["received_to_triage"][10] == 4
    assert f["received_to_delivered"]["count"] == 4
    assert f["received_to_delivered"]["sum"] == 40 + 35 + 45 + 50
    assert counts["received_to_delivered"][30] == 0 and counts["received_to_delivered"][60] == 4
    assert sorted([f["delivered_to_ack"]["count"], f["delivered_to_ack"]["sum"]]) == [3, 200]
    assert f["delivered_to_ack"]["median"] == 60.0
    assert f["received_to_ack"]["sum"] == 100 + 155 + 70 and f["received_to_ack"]["max"] == 155.0
    assert counts["received_to_ack"][120] == 2 and counts["received_to_ack"]["+Inf"] == 3


def test_dispositions_frames_referrals_equal_truth(client, history, q):
    d = get(client, "/v1/figures/dispositions", **q)
    assert d["total"] == {"regle_sur_place": 2, "transport_volontaire": 3, "transport_p38": 1, "arrestation": 1}
    assert (d["calls_with_disposition"], d["transports"], d["voluntary_share"], d["forced_share"]) == (7, 4, 0.75, 0.25)
    fr = get(client, "/v1/figures/frames", **q)
    assert (fr["current"], fr["review_due"], fr["stale"], fr["active"]) == (1, 1, 1, 3)
    ref = get(client, "/v1/figures/referrals", **q)
    assert ref["referrals"] == 3
    assert ref["by_source"] == {"partenaire_communautaire": 1, "policier": 1, "triage": 1}
    assert ref["by_criterion"] == {"complexite_intervention": 1, "dangerosite_previsible": 1, "recurrence": 2}
    assert ref["by_status"] == {"admissible": 1, "premier_contact": 2}
    assert ref["time_to_first_contact_days"] == {"n": 2, "median": 6.0, "mean": 6.0}


def test_calls_by_week_and_top_locations_equal_truth(client, history, q):
    weeks = get(client, "/v1/figures/calls-by-week", sector=history.sector, categories="sante_mentale")
    truth = oracle_weekly(history, ("etat_mental_perturbe", "suicidaire"))
    got = {w["week"]: w["counts"] for w in weeks if w["total"]}
    assert got == {w: dict(c) for w, c in truth.items()}
    assert sum(w["total"] for w in weeks) == sum(sum(c.values()) for c in truth.values())
    everything = get(client, "/v1/figures/calls-by-week", sector=history.sector)
    assert sum(w["total"] for w in everything) == len(history.calls)
    by_code = get(client, "/v1/figures/calls-by-week", sector=history.sector, by="nature_code", tz="America/Los_Angeles")
    codes: dict[str, int] = {}
    for w in by_code:
        for code, n in w["counts"].items():
            codes[code] = codes.get(code, 0) + n
    assert codes == {"5150": len(history.calls) - 10, "1056": 1, "DIST": 7, "1042": 1, "415": 1}
    top = get(client, "/v1/figures/top-locations", sector=history.sector, limit=3)
    assert [(t["location_key"], t["calls"]) for t in top[:2]] == [(f"l_{history.u}_hot", 24), (f"l_{history.u}_warm", 10)]
    assert top[2]["calls"] == 1
    overview = get(client, "/v1/figures/overview", sector=history.sector)
    assert overview["calls"] == len(history.calls)


def test_csv_export_and_monthly_report(client, history, q):
    r = client.get("/v1/export/dyads.csv", params=q)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = {row["dyad_id"]: row for row in csv.DictReader(io.StringIO(r.text))}
    assert rows[history.dyad("D1")]["alerts"] == "3"
    assert client.get("/v1/export/nope.csv").status_code == 404
    report = get(client, "/v1/reports/monthly", month="2025-05", sector=history.sector, window_days=60)
    assert report["dispositions"]["calls_with_disposition"] == 7
    assert {d["dyad_id"]: d["alerts"] for d in report["dyads"]["dyads"]}[history.dyad("D1")] == 3
    page = client.get("/", params={"from": "", "to": "", "sector": history.sector, "window_days": 60})  # blank fields
    assert page.status_code == 200 and "Indicateurs du programme" in page.text
    html = client.get("/rapport", params={"month": "2025-05", "sector": history.sector})
    assert html.status_code == 200 and "Rapport mensuel" in html.text and history.dyad("D1") in html.text


def test_metrics_expose_dyad_figures_without_person_keys(client, history):
    text = client.get("/metrics").text
    d1 = history.dyad("D1")
    assert f'dyade_analytics_dyad_alerts{{dyad="{d1}",sector="{history.sector}"}} 3.0' in text
    assert f'dyade_analytics_missed_for_capacity{{sector="{history.sector}"}} 1.0' in text
    assert f'dyade_analytics_latency_seconds_count{{sector="{history.sector}",stage="received_to_ack"}} 3.0' in text
    assert "dyade_analytics_consumer_lag{topic=\"calls.received.v2\"}" in text
    assert f"p_{history.u}" not in text


def test_access_and_bad_input_are_refused_clearly(server, token, history):
    import httpx
    base = server[1]
    assert httpx.get(f"{base}/v1/figures/overview").status_code == 401
    assert httpx.get(f"{base}/v1/figures/overview", headers=token("dyad", dyad_id="x")).status_code == 403
    for role in ("supervisor", "admin"):
        assert httpx.get(f"{base}/v1/figures/overview", headers=token(role)).status_code == 200
    bad = httpx.get(f"{base}/v1/figures/repeat-calls", params={"window_days": 5}, headers=token("analyst"))
    assert bad.status_code == 422 and "window_days" in bad.text
    bad = httpx.get(f"{base}/v1/reports/monthly", params={"month": "2025-13"}, headers=token("analyst"))
    assert bad.status_code == 422 and "mois invalide" in bad.json()["detail"]
    bad = httpx.get(f"{base}/v1/figures/overview", params={"from": "2025-05-01", "to": "2025-04-01"},
                    headers=token("analyst"))
    assert bad.status_code == 422 and "from" in bad.json()["detail"]
    assert httpx.get(f"{base}/", follow_redirects=False).status_code == 303


def test_duplicates_are_dropped(server, client, history, settings, q):
    """Sending part of the history again (same event ids) changes no figure."""
    from kafka import KafkaConsumer, TopicPartition
    from dyade.kafka import make_producer, publish, wait_until
    from services.analytics.consumers import TOPICS
    from services.analytics.metrics import committed_offsets
    before = get(client, "/v1/figures/dyads", **q), get(client, "/v1/figures/repeat-calls", **q)
    producer = make_producer(settings.kafka_bootstrap_servers)
    for event in history.events:
        publish(producer, event)
    producer.flush(30)
    producer.close()
    probe = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    parts = [TopicPartition(t.name, p) for t in TOPICS for p in probe.partitions_for_topic(t.name)]
    ends = probe.end_offsets(parts)
    probe.close()
    group = server[0].state.consumer.group_id

    def caught_up() -> bool:
        committed = committed_offsets(settings.kafka_bootstrap_servers, group)
        return all(committed.get(tp, 0) >= end for tp, end in ends.items())

    wait_until(caught_up, timeout=90, interval=0.5)
    server[0].state.book.refresh()
    assert (get(client, "/v1/figures/dyads", **q), get(client, "/v1/figures/repeat-calls", **q)) == before
    assert get(client, "/v1/figures/overview", sector=history.sector)["calls"] == len(history.calls)
