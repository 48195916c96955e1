"""What the worker does with each record it consumes, one handler per topic: the place stage (agent `places`:
calls and their updates, keyed by location) and the person stage (agent `subjects`: the records the place
stage hands on, and the person-keyed inputs). The agents themselves are declared in bootstrap.py."""
from __future__ import annotations

import time
from typing import Awaitable, Callable, MutableMapping

from dyade.contracts import Event
from dyade.contracts import topics as T
from dyade.contracts.referrals import ReferralSuggested
from dyade.contracts.triage import TriageDecided
from services.triage.adapters import codec
from services.triage.adapters.edge import Edge
from services.triage.adapters.metrics import DECIDE_SECONDS, DECISIONS, EVENTS, SUGGESTIONS, TRIAGE_DELAY
from services.triage.adapters.tables import CallIndex
from services.triage.domain import admissibility, events, facts, place as P, state as S
from services.triage.domain.config import RulesetConfig
from services.triage.domain.decide import decide, event_id_for
from services.triage.domain.place import PlaceState
from services.triage.domain.records import CallRecord, UpdateRecord
from services.triage.domain.state import SubjectState

PERSON_INPUTS = (T.REFERRALS_FILED, T.REFERRALS_STATUS, T.FRAMES_CURRENT, T.TRIAGE_OVERRIDDEN)
NO_LOCATION_KEY = ("mise à jour sans location_key: impossible de la rattacher au lieu de son appel "
                   "(calls.updated.v2 exige la clé de lieu de l'appel)")

Handler = Callable[..., Awaitable[None]]


class Stages:
    """The two stages over the two tables. `at_place` and `at_subject` map each consumed topic to its handler;
    a handler takes the faust message, updates the table in place, then publishes; run twice on a record it
    leaves the same state and publishes events with the same ids (redelivery, a partition read again)."""

    def __init__(self, *, places: MutableMapping[str, PlaceState], subjects: MutableMapping[str, SubjectState],
                 hand_off, edge: Edge, index: CallIndex, ruleset: RulesetConfig):
        self.places, self.subjects, self.hand_off = places, subjects, hand_off
        self.edge, self.index, self.ruleset = edge, index, ruleset
        self.at_place: dict[str, Handler] = {T.CALLS_RECEIVED.name: self._call_received,
                                             T.CALLS_UPDATED.name: self._call_updated}
        self.at_subject: dict[str, Handler] = {hand_off.get_topic_name(): self._handed_off,
                                               T.REFERRALS_FILED.name: self._person_event,
                                               T.REFERRALS_STATUS.name: self._person_event,
                                               T.FRAMES_CURRENT.name: self._frame_current,
                                               T.TRIAGE_OVERRIDDEN.name: self._person_event}
        self.handed_off: dict[type, Handler] = {CallRecord: self._call_about_person,
                                                UpdateRecord: self._update_about_person}
        self._expected = {t.name: t.events for t in PERSON_INPUTS}

    async def place_message(self, msg) -> None:
        EVENTS.labels(msg.topic).inc()
        await self.at_place[msg.topic](msg)

    async def subject_message(self, msg) -> None:
        await self.at_subject[msg.topic](msg)

    # --- the place stage ---------------------------------------------------------------------------------

    async def _call_received(self, msg) -> None:
        ev = await self.edge.decode(msg, T.CALLS_RECEIVED.events)
        if ev is not None:
            await self._call_at_place(facts.call_record(ev))

    async def _call_updated(self, msg) -> None:
        ev = await self.edge.decode(msg, T.CALLS_UPDATED.events)
        if ev is None:
            return
        if not ev.payload.location_key:
            await self.edge.dead_letter(msg, NO_LOCATION_KEY)
            return
        await self._update_at_place(ev.payload.location_key, facts.update_record(ev))

    async def _call_at_place(self, record: CallRecord) -> None:
        where = record.location_key
        place = self.places.get(where) or P.new_place()
        P.record_call(place, record.call_id, record.time, record.category in S.CRISIS, record.subject, self.ruleset)
        counts, crisis_30d = P.recurrence(place, record.time)
        waiting = P.release(place, record.call_id)
        if record.subject is None:  # about nobody: the place is the subject, decided here
            st = place.state or S.new_state()
            for update in waiting:
                S.record_update(st, update)
            out = self._decide(where, st, record, counts, crisis_30d)
            place.state = st
            self.places[where] = place
            await self._publish(out)
        else:
            self.places[where] = place
            record.location_counts, record.location_crisis_30d = counts, crisis_30d
            key = record.subject.encode()
            await self._hand_on(key, record)
            for update in waiting:
                await self._hand_on(key, update)

    async def _update_at_place(self, where: str, update: UpdateRecord) -> None:
        place = self.places.get(where) or P.new_place()
        if not P.knows(place, update.call_id):
            P.hold(place, update)
            self.places[where] = place
        elif (subject := P.subject_of(place, update.call_id)) is not None:
            await self._hand_on(subject.encode(), update)
        else:
            st = place.state or S.new_state()
            S.record_update(st, update)
            place.state = st
            self.places[where] = place

    async def _hand_on(self, person_key: bytes, record: CallRecord | UpdateRecord) -> None:
        await self.hand_off.send(key=person_key, value=codec.dump(record))  # flushed before the commit (edge.py)

    # --- the person stage --------------------------------------------------------------------------------

    async def _handed_off(self, msg) -> None:
        record = codec.load_hand_off(msg.value)
        key = msg.key.decode()
        await self.handed_off[type(record)](key, self.subjects.get(key) or S.new_state(), record)

    async def _call_about_person(self, key: str, st: SubjectState, record: CallRecord) -> None:
        out = self._decide(key, st, record, record.location_counts, record.location_crisis_30d)
        self.subjects[key] = st
        await self._publish(out)

    async def _update_about_person(self, key: str, st: SubjectState, update: UpdateRecord) -> None:
        S.record_update(st, update)
        self.subjects[key] = st

    async def _frame_current(self, msg) -> None:
        if msg.value is not None:
            await self._person_event(msg)
            return
        EVENTS.labels(msg.topic).inc()
        if msg.key:  # tombstone: the frame was archived, at the record's time (faust gives seconds)
            key = msg.key.decode()
            st = self.subjects.get(key) or S.new_state()
            events.frame_archived(st, float(msg.timestamp))
            self.subjects[key] = st

    async def _person_event(self, msg) -> None:
        EVENTS.labels(msg.topic).inc()
        ev = await self.edge.decode(msg, self._expected[msg.topic])
        if ev is not None:
            key = ev.payload.person_key
            st = self.subjects.get(key) or S.new_state()
            events.apply(st, ev)
            self.subjects[key] = st

    # --- deciding ----------------------------------------------------------------------------------------

    def _decide(self, key: str, st: SubjectState, record: CallRecord, location_counts: dict,
                location_crisis_30d: int) -> list[Event]:
        """Decide on the call with the subject's state as of its time and remember it in `st` (the caller
        stores `st`, then publishes the events returned: the decision, maybe a referral suggestion)."""
        call = facts.call_facts(record)
        t0 = time.perf_counter()
        decision = decide(call, st, location_counts, location_crisis_30d, self.ruleset)
        suggestion = admissibility.suggestion(decision, call, st)
        DECIDE_SECONDS.observe(time.perf_counter() - t0)
        S.record_call(st, call, self.ruleset)
        d = decision.payload
        forgotten = S.remember_decision(st, call.t, call.call_id, call.revision, d.model_dump_json())
        self.index.add(call.call_id, key, forgotten)
        out: list[Event] = [TriageDecided.new(
            payload=d, occurred_at=d.call_received_at, source="triage", correlation_id=record.correlation_id,
            event_id=event_id_for("triage.decided", d.decision_id))]
        DECISIONS.labels(d.level.value).inc()
        TRIAGE_DELAY.observe(max(0.0, time.time() - call.t))
        if suggestion is not None:
            admissibility.remember_suggestion(st, suggestion, call.t)
            out.append(ReferralSuggested.new(
                payload=suggestion, occurred_at=d.call_received_at, source="triage",
                correlation_id=record.correlation_id,
                event_id=event_id_for("referral.suggested", suggestion.suggestion_id)))
            SUGGESTIONS.inc()
        return out

    async def _publish(self, out: list[Event]) -> None:
        for event in out:
            await self.edge.publish(event)
