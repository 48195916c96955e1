"""Every figure, computed from a synthetic history sent through the real broker, equals its known truth."""
from __future__ import annotations

import csv
import io

import pytest

from services.analytics.tests.history import (
    AS_OF, MTL, oracle_grandes_utilisatrices, oracle_repeat_trend, oracle_weekly,
)
from services.analytics.tests.truth import (
    assert_cohort_truth, assert_latency_truth, assert_referral_truth, assert_strict_cohort_truth,
)


@pytest.fixture(scope="module")
def q(history):
    return {"sector": history.sector, "window_days": 60, "as_of": AS_OF.isoformat()}


def get(client, path, **params):
    r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_repeat_call_reduction_equals_truth(client, history, q):
    assert_cohort_truth(get(client, "/v1/figures/repeat-calls", **q))
    assert_cohort_truth(get(client, "/v1/figures/repeat-calls", sector=history.sector, window_days=60))  # as_of: newest fact
    assert_strict_cohort_truth(get(client, "/v1/figures/repeat-calls", **q, min_followup_days=60))


def test_as_of_without_offset_is_the_organisations_local_time(client, history, q):
    local = AS_OF.astimezone(MTL).replace(tzinfo=None).isoformat()  # 2025-10-09T13:00:00, Montréal
    from datetime import datetime
    got = get(client, "/v1/figures/repeat-calls", sector=history.sector, window_days=60, as_of=local)
    assert datetime.fromisoformat(got["as_of"]) == AS_OF  # the same instant, not 13:00 UTC
    assert_cohort_truth(got)


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
    assert_latency_truth(get(client, "/v1/figures/latency", **q))


def test_dispositions_frames_referrals_equal_truth(client, history, q):
    d = get(client, "/v1/figures/dispositions", **q)
    assert d["total"] == {"regle_sur_place": 2, "transport_volontaire": 3, "transport_p38": 1, "arrestation": 1}
    assert (d["calls_with_disposition"], d["transports"], d["voluntary_share"], d["forced_share"]) == (7, 4, 0.75, 0.25)
    fr = get(client, "/v1/figures/frames", **q)
    assert (fr["current"], fr["review_due"], fr["stale"], fr["active"]) == (3, 1, 1, 5)  # A0, E0, F0 | B1 | B0
    assert_referral_truth(get(client, "/v1/figures/referrals", **q))
    overview = get(client, "/v1/figures/overview", sector=history.sector)
    assert (overview["referrals"], overview["referral_suggestions_pending"]) == (3, 1)
    assert overview["calls_backfill"] == 2 and overview["calls_to_rebuild"] == 0


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
    from services.analytics.entrypoints.consumers import TOPICS
    from services.analytics.entrypoints.metrics import committed_offsets
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


def test_the_dashboard_reads_times_in_montreal_and_shows_the_definition(client, history):
    """The page, as a reader sees it: labelled local times, dates in fr-CA, the key figure's definition beside
    it, confirmed referrals apart from triage's suggestions."""
    import re
    page = client.get("/", params={"sector": history.sector, "window_days": 60, "from": "2025-05-01", "to": "2025-06-01"},
                      headers={"Accept-Language": "fr-CA,fr;q=0.9"})
    assert page.status_code == 200
    html = page.text
    assert re.search(r"affiché le \d{1,2} [a-zéû]+\.? \d{4}, \d{1,2} h \d{2} — <span id=\"zone\">heure de Montréal \((HNE|HAE)\)</span>", html)
    assert "Période: 1 mai 2025 au 31 mai 2025, heure de Montréal" in html
    assert 'value="2025-05-01"' in html and 'value="2025-06-01"' in html and 'type="date"' not in html
    assert "Fenêtres égales" in html and "Exclues:" in html and 'id="definition"' in html
    page = client.get("/", params={"sector": history.sector, "window_days": 60}, headers={"Accept-Language": "fr-CA"})
    assert "Suggestion du triage confirmée" in page.text
    cohort = re.search(r'<strong id="def-cohort">([^<]+)</strong>', page.text).group(1)
    assert cohort == "7 personnes, suivi médian 60 jours"
    assert "2 personne(s) suivie(s) moins de 14 jours, 1 personne(s) dont l&#39;historique" in page.text
    assert re.search(r'data-state="pending">1<', page.text) and re.search(r'data-state="not_retained">1<', page.text)
    assert "2 appel(s) rejoué(s) ou rattrapé(s) exclu(s)" in page.text
    en = client.get("/", params={"sector": history.sector, "window_days": 60, "lang": "en"},
                    headers={"Accept-Language": "en-US"}).text
    assert "Montréal time (E" in en and "7 persons, median follow-up 60 days" in en
    report = client.get("/rapport", params={"month": "2025-05", "sector": history.sector}).text
    assert "1 mai 2025 → 31 mai 2025, heure de Montréal" in report and "Rapport mensuel du programme — mai 2025" in report
