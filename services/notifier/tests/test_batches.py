"""A consumed batch (entrypoints/consumers.py `handle_batch`) reads once what its decisions need of the
database (decision recorded, call cleared, dyad dispatched, the roster) and writes its rows together: an event
earlier in the batch must count for the decisions after it exactly as if each event came in its own batch.
Driven without broker, on SQLite and PostgreSQL (tests.kit `sessions`)."""
from __future__ import annotations

import logging
from datetime import timedelta, timezone

import pytest
from sqlalchemy import func, select

from dyade.db import unit_of_work
from services.notifier.adapters.models import AlertCallRow, AlertRow, BusyRow, DecisionRow, DyadRow
from services.notifier.config import NotifierConfig
from services.notifier.entrypoints.consumers import handle_batch
from services.notifier.tests.conftest import ALWAYS, DAY, KNIFE, call_update, decision

CONFIG = NotifierConfig(ack_delay_s=180, supervisor_delay_s=600, horizon_minutes=120, tick_s=0, _env_file=None)
NOW = DAY.astimezone(timezone.utc)


class Runtime:
    """What handle_batch needs of the notifier: its config, clock and units of work."""

    def __init__(self, sessions) -> None:
        self.sessions, self.config, self.now = sessions, CONFIG, NOW

    def clock(self):
        return self.now

    def work(self):
        return unit_of_work(self.sessions)


@pytest.fixture
def runtime(sessions):
    with unit_of_work(sessions) as s:   # sector S1: dyads A and B always on duty
        for dyad_id in ("A", "B"):
            s.add(DyadRow(dyad_id=dyad_id, name=f"Dyade {dyad_id}", sector="S1", members=[], shifts=ALWAYS,
                          active=True, updated_at=NOW))
    return Runtime(sessions)


@pytest.fixture
def outcomes(caplog):
    """The outcome handle_decision gave each decision, in order (the consumer's log)."""
    caplog.set_level(logging.INFO, logger="dyade.notifier.consumers")
    return lambda: [(r.call_id, r.outcome) for r in caplog.records if r.getMessage() == "decision handled"]


def urgent(call_id: str, **kw):
    return decision(call_id, **{"sector": "S1", "at": DAY, "level": "dyade_prioritaire", **kw})


def alerts_of(runtime, call_id: str) -> list[tuple]:
    with runtime.sessions() as s:
        return [(a.state, a.dyad_id, a.call_ids) for a in s.scalars(
            select(AlertRow).where(AlertRow.call_id == call_id).order_by(AlertRow.created_at))]


def test_a_call_cleared_earlier_in_the_batch_pages_no_one(runtime, outcomes):
    handle_batch(runtime, [call_update("c1", "cleared", at=DAY, disposition="regle_sur_place"), urgent("c1")])
    assert outcomes() == [("c1", "deja_termine")]
    assert alerts_of(runtime, "c1") == []


def test_a_dyad_dispatched_earlier_in_the_batch_takes_the_alert(runtime, outcomes):
    handle_batch(runtime, [call_update("c1", "dispatched", at=DAY, dyad_id="B"), urgent("c1")])
    assert outcomes() == [("c1", "dyad")]
    assert alerts_of(runtime, "c1") == [("acknowledged", "B", ["c1"])]   # not A, the first free one


def test_a_dyad_made_busy_earlier_in_the_batch_is_not_paged(runtime, outcomes):
    handle_batch(runtime, [urgent("c0"), call_update("c0", "dispatched", at=DAY, dyad_id="A"), urgent("c1")])
    assert alerts_of(runtime, "c0") == [("acknowledged", "A", ["c0"])]
    assert alerts_of(runtime, "c1") == [("created", "B", ["c1"])]
    with runtime.sessions() as s:
        assert s.scalars(select(BusyRow.dyad_id)).all() == ["A"]


def test_a_call_reopened_earlier_in_the_batch_pages_again(runtime, outcomes):
    handle_batch(runtime, [call_update("c1", "cleared", at=DAY, disposition="regle_sur_place")])
    handle_batch(runtime, [call_update("c1", "dispatched", at=DAY, dyad_id="B"), urgent("c1")])
    handle_batch(runtime, [call_update("c2", "cleared", at=DAY, disposition="regle_sur_place"),
                           call_update("c2", "dispatched", at=DAY, dyad_id="A"), urgent("c2")])
    assert outcomes() == [("c1", "dyad"), ("c2", "dyad")]
    assert alerts_of(runtime, "c1") == [("acknowledged", "B", ["c1"])]
    assert alerts_of(runtime, "c2") == [("acknowledged", "A", ["c2"])]


def test_the_dyad_last_dispatched_before_the_batch_takes_the_alert(runtime, outcomes):
    handle_batch(runtime, [call_update("c1", "dispatched", at=DAY, dyad_id="A")])
    runtime.now = NOW + timedelta(minutes=1)
    handle_batch(runtime, [call_update("c1", "dispatched", at=DAY, dyad_id="B")])
    handle_batch(runtime, [call_update("c2", "on_scene", at=DAY, dyad_id="A")])
    handle_batch(runtime, [urgent("c0"), urgent("c1"), urgent("c2")])
    assert outcomes() == [("c0", "missed_for_capacity"), ("c1", "dyad"), ("c2", "dyad")]
    assert alerts_of(runtime, "c1") == [("acknowledged", "B", ["c1"])]
    assert alerts_of(runtime, "c2") == [("acknowledged", "A", ["c2"])]


def test_a_call_freed_earlier_in_the_batch_routes_anew(runtime, outcomes):
    handle_batch(runtime, [call_update("c0", "dispatched", at=DAY, dyad_id="A")])
    handle_batch(runtime, [call_update("c0", "cleared", at=DAY, disposition="regle_sur_place"), urgent("c1"),
                           urgent("c0")])
    assert outcomes() == [("c1", "dyad"), ("c0", "deja_termine")]
    assert alerts_of(runtime, "c1") == [("created", "A", ["c1"])]   # A is free again


def test_the_same_decision_twice_in_a_batch_is_a_duplicate(runtime, outcomes):
    first, again = urgent("c1"), urgent("c1")   # triage published it again, under a new event id
    assert first.event_id != again.event_id and first.payload.decision_id == again.payload.decision_id
    handle_batch(runtime, [first, again])
    handle_batch(runtime, [urgent("c1")])
    assert outcomes() == [("c1", "dyad"), ("c1", "duplicate"), ("c1", "duplicate")]
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(DecisionRow)) == 1
        assert s.scalar(select(func.count()).select_from(AlertCallRow)) == 1


def test_calls_earlier_in_the_batch_are_joined_as_in_batches_of_one(runtime, sessions, outcomes):
    """A call about the same person and a revision join the alert opened earlier in the batch; a call cleared
    after its decision closes its alert, and its revision pages no one: the same as one event per batch."""
    def events(p: str):
        return [urgent(f"{p}1", persons=(f"{p}p1",)), urgent(f"{p}2", persons=(f"{p}p1",)),
                urgent(f"{p}1", revision=2, level="securite_policiers", reasons=KNIFE, danger="imminent",
                       persons=(f"{p}p1",)),
                urgent(f"{p}3", persons=(f"{p}p2",)),
                call_update(f"{p}3", "cleared", at=DAY, disposition="regle_sur_place"),
                urgent(f"{p}3", revision=2, persons=(f"{p}p2",)),
                urgent(f"{p}4")]

    def seen(p: str) -> list:
        with sessions() as s:
            found = s.scalars(select(AlertRow).where(AlertRow.call_id.like(f"{p}%")).order_by(AlertRow.call_id))
            return [(a.call_id[len(p):], a.state, a.dyad_id, a.level, [c[len(p):] for c in a.call_ids])
                    for a in found]

    handle_batch(runtime, [])
    for e in events("one-"):
        handle_batch(runtime, [e])
    one = [(c[4:], o) for c, o in outcomes()]
    handle_batch(runtime, events("all-"))
    together = [(c[4:], o) for c, o in outcomes()[len(one):]]
    assert together == one == [("1", "dyad"), ("2", "merged"), ("1", "repaged"), ("3", "dyad"),
                               ("3", "deja_termine"), ("4", "dyad")]
    assert seen("all-") == seen("one-")
    assert [a[1] for a in seen("all-")] == ["escalated", "closed", "created"]
