"""Periods and months at their edges, in Montréal time: the figure book over facts built in memory (no broker,
no database)."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from services.analytics.adapters.figures import FigureBook, Params
from services.analytics.domain.facts import AlertEventFact, CallFact, Facts

MTL = ZoneInfo("America/Montreal")


def local(*a) -> datetime:
    return datetime(*a, tzinfo=MTL).astimezone(timezone.utc)


class Book(FigureBook):
    def __init__(self, facts: Facts):
        super().__init__(None, tz=MTL)
        self._given = facts

    def facts(self) -> Facts:
        return self._given


def call(i: int, at: datetime, key: str = "p_1") -> CallFact:
    return CallFact(f"c{i}", at, "etat_mental_perturbe", "x", f"l{i}", sector="S1", persons=((key, "sujet"),),
                    ingested_at=at)


def test_the_repeat_trend_from_a_date_still_looks_back_before_it():
    # c2 (2 March) repeats c1 (25 February), c3 repeats c2.
    book = Book(Facts(calls=[call(1, local(2027, 2, 25, 10)), call(2, local(2027, 3, 2, 10)),
                             call(3, local(2027, 3, 20, 10))]))
    march = {"month": "2027-03", "calls": 2, "repeat_calls": 2, "share": 1.0}
    assert [r for r in book.repeat_calls(Params(window_days=30, min_followup_days=1))["trend"]
            if r["month"] == "2027-03"] == [march]
    assert book.repeat_calls(Params(window_days=30, min_followup_days=1, start=datetime(2027, 3, 1, tzinfo=MTL)))[
        "trend"] == [march]
    # From a day inside a month, that month's calls from the day on.
    assert book.repeat_calls(Params(window_days=30, min_followup_days=1, start=datetime(2027, 3, 10, tzinfo=MTL)))[
        "trend"] == [{"month": "2027-03", "calls": 1, "repeat_calls": 1, "share": 1.0}]


def test_an_alert_acknowledged_after_local_midnight_counts_in_the_month_it_was_created():
    def alert(i: int, state: str, at: datetime) -> AlertEventFact:
        return AlertEventFact(f"a{i}", state, at, call_id=f"c{i}", person_key="p_1", dyad_id=f"D{i}", sector="S1")
    # a1: created 31 January 23:40 (1 February 04:40 UTC), acknowledged after midnight. a2: created on 1 February
    # for a call received on 31 January.
    book = Book(Facts(calls=[call(1, local(2027, 1, 31, 23, 39)), call(2, local(2027, 1, 31, 23, 59, 30), "p_2")],
                      alerts=[alert(1, "created", local(2027, 1, 31, 23, 40)), alert(1, "delivered", local(2027, 1, 31, 23, 41)),
                              alert(1, "acknowledged", local(2027, 2, 1, 0, 25)),
                              alert(2, "created", local(2027, 2, 1, 0, 0, 10)), alert(2, "delivered", local(2027, 2, 1, 0, 0, 20))]))
    jan, feb = book.monthly_report("2027-01", Params()), book.monthly_report("2027-02", Params())
    assert [(d["dyad_id"], d["alerts"], d["acknowledged"], d["time_to_ack_s"]["median"]) for d in jan["dyads"]["dyads"]] == [
        ("D1", 1, 1, 2700.0)]
    assert [(d["dyad_id"], d["alerts"], d["acknowledged"]) for d in feb["dyads"]["dyads"]] == [("D2", 1, 0)]
    assert jan["latency"]["delivered_to_ack"]["sum"] == 2640.0 and jan["latency"]["received_to_ack"]["count"] == 1
    assert feb["latency"]["delivered_to_ack"]["count"] == 0 and feb["latency"]["received_to_ack"]["count"] == 0
    assert jan["latency"]["received_to_delivered"]["sum"] == 120.0
    assert feb["latency"]["received_to_delivered"]["sum"] == 50.0  # the call received in January is found
    assert feb["latency"]["received_to_delivered"]["excluded_unmeasured"] == 0
    assert jan["overview"]["alerts"] == 1 and feb["overview"]["alerts"] == 1
    assert jan["overview"]["latest_fact"] == local(2027, 1, 31, 23, 59, 30).isoformat()
    # As of January's end the acknowledgement has not happened: no intervention started yet.
    assert jan["repeat_calls"]["excluded_short_followup"] == 0 and jan["repeat_calls"]["n_persons"] == 0
