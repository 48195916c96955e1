"""The known truth of `history.build`, as assertions shared by the API tests (PostgreSQL, through the broker)
and the storage tests (SQLite and PostgreSQL, straight into the store). Worked out in history.py's docstring."""
from __future__ import annotations

import pytest


def assert_cohort_truth(f: dict) -> None:
    """W = 60 days, minimum follow-up 14 days (the default)."""
    assert f["n_persons"] == 7
    assert f["excluded_short_followup"] == 2  # C0, C1: 10 days of follow-up
    assert f["excluded_short_history"] == 1  # F0: 10 days of history before the start
    assert f["min_followup_days"] == 14 and f["window_days"] == 60
    assert f["median_followup_days"] == 60 and f["min_followup_days_observed"] == 40
    assert f["median_reduction"] == 2.0
    assert f["mean_reduction"] == pytest.approx(11.75 / 7, abs=1e-4)
    assert f["median_reduction_pct"] == pytest.approx(200 / 3, abs=1e-3)
    assert f["mean_reduction_pct"] == pytest.approx((200 / 3 * 2 + 75 + 250 / 3 + 100) / 7, abs=1e-3)
    assert f["persons_improved"] == 5 and f["persons_worse"] == 0
    pairs = sorted((p["calls_before"], p["calls_after"], p["window_days"]) for p in f["distribution"])
    assert pairs == [(3, 3, 60), (3, 3, 60), (4, 1, 40), (6, 0, 60), (6, 1, 60), (6, 2, 60), (6, 2, 60)]
    assert sorted(p["how"] for p in f["distribution"]) == ["alert_ack", "dyad_call", "frame", "frame", "frame",
                                                          "frame", "referral"]
    assert not any("person" in k for p in f["distribution"] for k in p)  # no person key leaves


def assert_strict_cohort_truth(f: dict) -> None:
    """The same history with the minimum at W = 60 days: everyone followed for the full window."""
    assert f["n_persons"] == 6 and f["min_followup_days"] == 60
    assert f["excluded_short_followup"] == 3 and f["excluded_short_history"] == 1
    assert f["median_reduction"] == 2.0
    assert f["mean_reduction"] == pytest.approx(9.5 / 6, abs=1e-4)
    assert f["mean_reduction_pct"] == pytest.approx((200 / 3 * 2 + 250 / 3 + 100) / 6, abs=1e-3)
    assert sorted((p["calls_before"], p["calls_after"]) for p in f["distribution"]) == [
        (3, 3), (3, 3), (6, 0), (6, 1), (6, 2), (6, 2)]


def assert_latency_truth(f: dict) -> None:
    """On Dyade's clocks (intake's publication 30 s after the CAD's time), live calls only."""
    counts = {stage: {b["le"]: b["count"] for b in h["buckets"]} for stage, h in f.items()}
    assert f["received_to_triage"]["count"] == 4 and f["received_to_triage"]["median"] == 5.0
    assert f["received_to_triage"]["sum"] == 2 + 4 + 6 + 8
    assert f["received_to_triage"]["excluded_backfill"] == 2  # the 3-day-late call and the replay
    assert counts["received_to_triage"][5] == 2 and counts["received_to_triage"][10] == 4
    assert f["received_to_delivered"]["count"] == 4
    assert f["received_to_delivered"]["sum"] == 40 + 35 + 45 + 50
    assert counts["received_to_delivered"][30] == 0 and counts["received_to_delivered"][60] == 4
    assert sorted([f["delivered_to_ack"]["count"], f["delivered_to_ack"]["sum"]]) == [3, 200]
    assert f["delivered_to_ack"]["median"] == 60.0
    assert f["received_to_ack"]["sum"] == 100 + 155 + 70 and f["received_to_ack"]["max"] == 155.0
    assert counts["received_to_ack"][120] == 2 and counts["received_to_ack"]["+Inf"] == 3
    assert all(h["excluded_unmeasured"] == 0 for h in f.values())


def assert_referral_truth(ref: dict) -> None:
    assert ref["referrals"] == 3 and ref["filed"] == 2
    assert ref["suggested"] == {"total": 3, "confirmed": 1, "pending": 1, "not_retained": 1}
    assert ref["by_source"] == {"partenaire_communautaire": 1, "policier": 1, "triage": 1}
    assert ref["by_criterion"] == {"complexite_intervention": 1, "dangerosite_previsible": 1, "recurrence": 2}
    assert ref["by_status"] == {"admissible": 1, "premier_contact": 2}
    assert ref["time_to_first_contact_days"] == {"n": 2, "median": 6.0, "mean": 6.0}
