"""The demo city's live stream: the simulated calls, CAD updates and referrals sent to intake when the
city's clock (dyade/simulation/clock.py) reaches their time, and the record of what was actually sent
(`SentLog`, the ground truth of the stream).

The CAD clears a call itself (patrol done) unless a dyad took one of its alerts: the dyad then clears it
(field.py). While an alert of the call still waits at a dyad, the CAD's clear waits too — clearing would
close the alert before the dyad answered or the notifier escalated it. And it never clears a call sooner
than `floor_s` real seconds after sending it, the time for the call to go through triage and the notifier.
"""
from __future__ import annotations

import heapq
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterator

from dyade.simulation.clock import CityClock
from dyade.simulation.field import FieldTeam
from dyade.simulation.intake_client import HttpSink
from dyade.simulation.simulation import Record

log = logging.getLogger("dyade.demo")
MAX_HOLD = timedelta(minutes=30)


@dataclass
class SentCall:
    call_id: str
    at: datetime  # the city's time
    nature_code: str
    person_id: str | None
    phase: str  # history | live


@dataclass
class SentLog:
    """What intake accepted from the demo: calls, the CAD's dispositions, referrals; and what was left out."""
    calls: dict[str, SentCall] = field(default_factory=dict)
    cad_dispositions: dict[str, tuple[str, str]] = field(default_factory=dict)  # call → (at, disposition)
    cleared_by_dyad: set[str] = field(default_factory=set)
    referrals: int = 0
    updates: int = 0
    rejected: int = 0
    skipped_gap: int = 0  # calls of the minutes between the history and the live stream (never sent)

    def add_call(self, rec: Record, phase: str) -> None:
        self.calls[rec.call_id] = SentCall(rec.call_id, rec.at, rec.body["nature_code"], rec.person_id, phase)


class CityStream:
    def __init__(self, records: Iterator[Record], clock: CityClock, sink: HttpSink, sent: SentLog, *,
                 team: FieldTeam | None = None, floor_s: float = 30.0):
        self.records, self.clock, self.sink, self.sent = records, clock, sink, sent
        self.team, self.floor = team, timedelta(seconds=floor_s)
        self.next: Record | None = next(self.records, None)
        self.sent_wall: dict[str, datetime] = {}
        self.gated: list[tuple[datetime, int, datetime, Record]] = []  # (due, seq, first due, cleared update)
        self._seq = 0
        self.paused = False  # no new record is taken (the CAD's pending clears still go)

    def step(self, now: datetime) -> float:
        """Send what is due at wall time `now`; returns the seconds until something else is due."""
        while not self.paused and self.next is not None and self.clock.wall_at(self.next.at) <= now:
            self._handle(self.next, now)
            self.next = next(self.records, None)
        while self.gated and self.gated[0][0] <= now:
            _, _, first, rec = heapq.heappop(self.gated)
            hold = self.team.hold(rec.call_id) if self.team else None
            if hold == "own":
                self.sent.cleared_by_dyad.add(rec.call_id)
            elif hold == "wait" and now - first < MAX_HOLD:
                self._gate(now + timedelta(seconds=2), first, rec)
            else:
                self._send_update(rec)
        soonest = [self.gated[0][0]] if self.gated else []
        if self.next is not None and not self.paused:
            soonest.append(self.clock.wall_at(self.next.at))
        return min([1.0] + [(t - now).total_seconds() for t in soonest])

    def _gate(self, due: datetime, first: datetime, rec: Record) -> None:
        self._seq += 1
        heapq.heappush(self.gated, (due, self._seq, first, rec))

    def _handle(self, rec: Record, now: datetime) -> None:
        if rec.kind == "call":
            if rec.at < self.clock.start:
                self.sent.skipped_gap += 1
                return
            before = self.sink.counts.calls
            self.sink.send(rec)
            if self.sink.counts.calls > before:
                self.sent.add_call(rec, "live")
                self.sent_wall[rec.call_id] = now
            self.sent.rejected = self.sink.counts.rejected
        elif rec.kind == "update":
            if rec.call_id not in self.sent.calls:
                return
            if rec.body["status"] == "cleared":
                due = max(now, self.sent_wall.get(rec.call_id, now) + self.floor)
                self._gate(due, due, rec)
            else:
                self._send_update(rec)
        elif rec.at >= self.clock.start:
            before = self.sink.counts.referrals
            self.sink.send(rec)
            self.sent.referrals += self.sink.counts.referrals - before

    def _send_update(self, rec: Record) -> None:
        before = self.sink.counts.updates
        self.sink.send(rec)
        if self.sink.counts.updates > before:
            self.sent.updates += 1
            if rec.body.get("disposition"):
                self.sent.cad_dispositions[rec.call_id] = (rec.body["at"], rec.body["disposition"])
        self.sent.rejected = self.sink.counts.rejected
