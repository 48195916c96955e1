"""The demo's dyads in the field: they take their alerts in the notifier as the field app would
(`POST /v1/alerts/{id}/seen`, `/acknowledge`), go on the scene and clear the call through intake's call
update API (`calls.updated` on_scene / cleared, with their dyad id), and close the alert with a
disposition (`POST /v1/alerts/{id}/close`).

Delays are drawn from distributions (`FieldBehaviour`, no I/O):
- taking the alert: in **real seconds** (the people's clock, dyade/simulation/clock.py), log-normal, median
  55 s: most alerts are taken within the notifier's escalation delay (180 s), about one in ten is not and
  goes on to the next dyad — the notifier decides, the team only answers late or not;
- travel and intervention on the scene: in **the city's minutes** (log-normal, medians 9 and 45 min),
  played at the city's speed and stamped in its time;
- the disposition: the table of crisis calls attended by a dyad (fewer P-38, more referrals).

The team watches every open alert as the supervisor console does (`GET /v1/alerts`, one request per
`poll_s`) and keeps a ledger (`AlertStory`) of what each alert went through: the ground truth the
dashboard's dyad figures are compared with (truth.demo_truth).
"""
from __future__ import annotations

import heapq
import logging
import math
import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import NormalDist
from typing import Callable

from dyade.simulation.calls import TZ, local_iso, pick
from dyade.simulation.clock import CityClock
from dyade.simulation.intake_client import ServiceClient, Unavailable, reason_of
from dyade.simulation.profiles import DISPOSITIONS_AFTER_FOLLOW_UP

log = logging.getLogger("dyade.demo.terrain")
PENDING = {"created", "delivered", "seen", "escalated"}


@dataclass(frozen=True)
class FieldBehaviour:
    """How a dyad answers (assumptions: the domain documents give no delay; see the README's table)."""
    ack_median_s: float = 55.0  # real seconds from the phone ringing to « Prendre en charge »
    ack_sigma: float = 0.9  # log-normal spread: P(> 180 s) ≈ 9 %
    seen_share: float = 0.4  # the detail is opened after this share of the delay
    travel_median_min: float = 9.0  # city minutes, acknowledgement → on the scene
    travel_sigma: float = 0.5
    on_scene_median_min: float = 45.0  # city minutes on the scene before clearing
    on_scene_sigma: float = 0.6

    def ack_delay(self, rng: random.Random) -> float:
        return self.ack_median_s * math.exp(rng.gauss(0.0, self.ack_sigma))

    def travel(self, rng: random.Random) -> timedelta:
        return timedelta(minutes=self.travel_median_min * math.exp(rng.gauss(0.0, self.travel_sigma)))

    def on_scene(self, rng: random.Random) -> timedelta:
        return timedelta(minutes=self.on_scene_median_min * math.exp(rng.gauss(0.0, self.on_scene_sigma)))

    def disposition(self, rng: random.Random) -> str:
        return pick(rng, DISPOSITIONS_AFTER_FOLLOW_UP).value

    def late_share(self, escalation_delay_s: float) -> float:
        """The expected share of turns at a dyad that end past `escalation_delay_s` (the alert goes on)."""
        z = math.log(escalation_delay_s / self.ack_median_s) / self.ack_sigma
        return 1.0 - NormalDist().cdf(z)


@dataclass
class AlertStory:
    """What one alert went through, as the team saw and did it."""
    alert_id: str
    call_id: str
    call_ids: list[str]
    sector: str | None
    call_received_at: datetime | None
    first_seen: datetime  # wall clock
    holder: str | None = None  # the dyad it is at, as last seen
    states: list[str] = field(default_factory=list)
    turns: list[dict] = field(default_factory=list)  # {dyad, drawn_s, seen_at, outcome}
    acked_by: str | None = None
    acked_at: datetime | None = None
    on_scene_at: datetime | None = None  # city time
    cleared_at: datetime | None = None  # city time
    disposition: str | None = None
    closed: bool = False
    cleared_calls: list[str] = field(default_factory=list)  # calls the dyad cleared through intake
    gone: bool = False  # no longer listed as open (closed, expired...)
    finished: bool = False  # the dyad's visit is over (alert closed, calls cleared)

    @property
    def escalated(self) -> bool:
        return "escalated" in self.states

    @property
    def ack_delay_s(self) -> float | None:
        return (self.acked_at - self.first_seen).total_seconds() if self.acked_at else None

    def as_json(self) -> dict:
        return {"alert_id": self.alert_id, "call_ids": self.call_ids, "sector": self.sector,
                "states": self.states, "turns": self.turns, "acked_by": self.acked_by,
                "ack_delay_s": round(self.ack_delay_s, 1) if self.ack_delay_s is not None else None,
                "escalated": self.escalated, "disposition": self.disposition, "closed": self.closed,
                "cleared_calls": self.cleared_calls,
                "on_scene_at": self.on_scene_at.isoformat() if self.on_scene_at else None,
                "cleared_at": self.cleared_at.isoformat() if self.cleared_at else None}


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class FieldTeam:
    """The dyads of the demo (`dyads`: dyad id → its notifier client, holding that dyad's token)."""

    def __init__(self, supervisor: ServiceClient, dyads: dict[str, ServiceClient], intake: ServiceClient,
                 clock: CityClock, behaviour: FieldBehaviour, rng: random.Random, *,
                 stop: threading.Event | None = None, poll_s: float = 0.5,
                 wall: Callable[[], datetime] | None = None):
        self.supervisor, self.dyads, self.intake = supervisor, dyads, intake
        self.clock, self.behaviour, self.rng = clock, behaviour, rng
        self.stop = stop or threading.Event()
        self.poll_s = poll_s
        self.wall = wall or clock.wall
        self.stories: dict[str, AlertStory] = {}
        self.by_call: dict[str, set[str]] = {}
        self.actions: list[tuple[datetime, int, Callable[[], None]]] = []
        self._seq = 0
        self._lock = threading.RLock()
        self.errors = 0

    # --- what the CAD asks before clearing a call itself ------------------------------------------------
    def hold(self, call_id: str) -> str | None:
        """'own': a dyad took an alert of this call and clears it; 'wait': an alert of it waits at a dyad
        (clearing now would close it before it is taken or escalated); None: the CAD may clear it."""
        with self._lock:
            stories = [self.stories[a] for a in self.by_call.get(call_id, ())]
        if any(s.acked_by for s in stories):
            return "own"
        if any(not s.gone and s.states and s.states[-1] in PENDING and s.holder in self.dyads for s in stories):
            return "wait"
        return None

    # --- the loop ---------------------------------------------------------------------------------------
    def run(self) -> None:
        next_poll = self.wall()
        while not self.stop.is_set():
            now = self.wall()
            if now >= next_poll:
                try:
                    self.poll(now)
                except Unavailable:
                    return
                except Exception:  # never stop the demo
                    self.errors += 1
                    log.exception("lecture des alertes en échec; nouvel essai")
                next_poll = now + timedelta(seconds=self.poll_s)
            self.run_due(self.wall())
            soonest = min([next_poll] + [a[0] for a in self.actions[:1]])
            self.stop.wait(max(0.02, min(self.poll_s, (soonest - self.wall()).total_seconds())))

    def run_due(self, now: datetime) -> None:
        while self.actions and self.actions[0][0] <= now and not self.stop.is_set():
            _, _, action = heapq.heappop(self.actions)
            try:
                action()
            except Unavailable:
                raise
            except Exception:
                self.errors += 1
                log.exception("action de terrain en échec")

    def later(self, at: datetime, action: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self.actions, (at, self._seq, action))

    # --- watching the alerts ----------------------------------------------------------------------------
    def poll(self, now: datetime) -> None:
        r = self.supervisor.request("GET", "/v1/alerts?kind=appel&per_page=200&sort=created_at", "supervisor",
                                    subject="superviseur-demo")
        if r.status_code >= 300:
            log.warning("alertes illisibles: %s", reason_of(r))
            return
        listed = r.json().get("alerts", [])
        seen_now = set()
        for a in listed:
            seen_now.add(a["alert_id"])
            self.observe(a, now)
        with self._lock:
            for story in self.stories.values():
                if not story.gone and story.alert_id not in seen_now:
                    story.gone = True

    def observe(self, a: dict, now: datetime) -> None:
        with self._lock:
            story = self.stories.get(a["alert_id"])
            if story is None:
                story = self.stories[a["alert_id"]] = AlertStory(
                    a["alert_id"], a["call_id"], list(a.get("call_ids") or [a["call_id"]]), a.get("sector"),
                    _parse(a.get("call_received_at")), now)
            story.call_ids = list(dict.fromkeys(story.call_ids + list(a.get("call_ids") or [])))
            for call_id in story.call_ids:
                self.by_call.setdefault(call_id, set()).add(story.alert_id)
            state = a["state"]
            if not story.states or story.states[-1] != state:
                story.states.append(state)
            story.holder = dyad = a.get("dyad_id")
            for t in story.turns:  # gone on to another holder before this dyad answered
                if t["outcome"] == "pending" and (t["dyad"] != dyad or state not in PENDING) and not story.acked_by:
                    t["outcome"] = "late"
        if state not in PENDING or dyad not in self.dyads:
            return
        turn_key = f"{dyad}|{a.get('assigned_at')}|{a.get('paged_at')}"
        if any(t["key"] == turn_key for t in story.turns):
            return
        drawn = self.behaviour.ack_delay(self.rng)
        turn = {"key": turn_key, "dyad": dyad, "drawn_s": round(drawn, 1), "seen_at": now.isoformat(),
                "outcome": "pending"}
        story.turns.append(turn)
        self.later(now + timedelta(seconds=drawn * self.behaviour.seen_share),
                   lambda: self._seen(story, dyad))
        self.later(now + timedelta(seconds=drawn), lambda: self._acknowledge(story, dyad, turn))

    # --- the dyad's actions -----------------------------------------------------------------------------
    def _seen(self, story: AlertStory, dyad: str) -> None:
        if story.acked_by or story.gone or story.holder != dyad:
            return
        self.dyads[dyad].request("POST", f"/v1/alerts/{story.alert_id}/seen", "dyad", json={})

    def _acknowledge(self, story: AlertStory, dyad: str, turn: dict) -> None:
        if turn["outcome"] != "pending":
            return
        if story.gone or story.closed:
            turn["outcome"] = "passed"
            return
        r = self.dyads[dyad].request("POST", f"/v1/alerts/{story.alert_id}/acknowledge", "dyad", json={})
        if r.status_code >= 300:  # escalated to another dyad (or closed) before this one answered
            turn["outcome"] = "late"
            return
        turn["outcome"] = "acknowledged"
        with self._lock:
            story.states.append("acknowledged")
        if story.acked_by:  # a more serious call re-paged the alert the dyad holds: taken again, same visit
            return
        now = self.wall()
        story.acked_by, story.acked_at = dyad, now
        travel, stay = self.behaviour.travel(self.rng), self.behaviour.on_scene(self.rng)
        taken = story.call_received_at or self.clock.city(now)
        # stamped in the city's time: the call, the real time it took to be taken (escalations included), then
        # the drawn travel and stay
        on_scene = taken + (now - story.first_seen) + travel
        cleared = on_scene + stay
        story.on_scene_at, story.cleared_at = on_scene, cleared
        story.disposition = self.behaviour.disposition(self.rng)
        self.later(now + timedelta(seconds=self.clock.city_duration(travel.total_seconds(), now)),
                   lambda: self._on_scene(story, dyad))
        self.later(now + timedelta(seconds=self.clock.city_duration((travel + stay).total_seconds(), now)),
                   lambda: self._close(story, dyad))

    def _stamp(self, at: datetime) -> str:
        """A city time, never ahead of the city's clock (nor, so, of the wall clock)."""
        return local_iso(min(at, self.clock.city(self.wall())).astimezone(TZ))

    def _on_scene(self, story: AlertStory, dyad: str) -> None:
        assert story.on_scene_at is not None
        body = {"status": "on_scene", "at": self._stamp(story.on_scene_at), "dyad_id": dyad}
        r = self.intake.request("POST", f"/v1/calls/{story.call_id}/updates", "dispatch", json=body,
                                subject="rao-demo")
        if r.status_code >= 300:
            log.warning("arrivée sur les lieux refusée par intake: %s", reason_of(r))

    def _close(self, story: AlertStory, dyad: str) -> None:
        assert story.cleared_at is not None and story.disposition
        r = self.dyads[dyad].request("POST", f"/v1/alerts/{story.alert_id}/close", "dyad",
                                     json={"disposition": story.disposition,
                                           "note": "Intervention de la dyade terminée (démonstration)."})
        story.closed = r.status_code < 300
        with self._lock:
            calls = list(story.call_ids)
        for call_id in calls:
            body = {"status": "cleared", "at": self._stamp(story.cleared_at), "disposition": story.disposition,
                    "dyad_id": dyad}
            u = self.intake.request("POST", f"/v1/calls/{call_id}/updates", "dispatch", json=body, subject="rao-demo")
            if u.status_code >= 300:
                log.warning("fin d'intervention refusée par intake: %s", reason_of(u))
            else:
                story.cleared_calls.append(call_id)
        story.finished = True

    def settled(self) -> bool:
        """Nothing waits at a dyad, and every visit begun is over."""
        with self._lock:
            stories = list(self.stories.values())
        waiting = any(not s.gone and s.states and s.states[-1] in PENDING and s.holder in self.dyads for s in stories)
        return not waiting and all(s.finished for s in stories if s.acked_by)

    # --- the ledger -------------------------------------------------------------------------------------
    def ledger(self) -> list[dict]:
        with self._lock:
            return [s.as_json() for s in self.stories.values()]
