"""What the worker does with each record it consumes, one handler per topic: the place stage (agent `places`:
calls and their updates, keyed by location) and the person stage (agent `subjects`: the records the place
stage hands on, and the person-keyed inputs). The agents themselves are declared in bootstrap.py."""
from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Awaitable, Callable

from dyade.contracts import Event
from dyade.contracts.envelope import payload_json_of
from dyade.contracts import topics as T
from dyade.contracts.referrals import ReferralSuggested
from dyade.contracts.triage import TriageDecided
from services.triage.adapters import codec
from services.triage.adapters.edge import Edge
from services.triage.adapters.metrics import DECIDE_SECONDS, DECISIONS, EVENTS, SUGGESTIONS, TRIAGE_DELAY
from services.triage.adapters.tables import CallIndex, States, put
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
Outgoing = list[tuple[Event, bytes | None]]   # events to publish, each with its payload's JSON when known
OnError = Callable[[object, Exception], Awaitable[None]]


class _Batch:
    """What one batch of records changed: the states it read or made (written back once per key when the batch
    ends, with the input partition their changelog record goes to) and what it hands on, per person (one
    internal record per person and batch)."""
    __slots__ = ("places", "subjects", "place_parts", "subject_parts", "hand_offs", "counted")

    def __init__(self) -> None:
        self.places: dict[str, PlaceState] = {}
        self.subjects: dict[str, SubjectState] = {}
        self.place_parts: dict[str, int] = {}      # key → partition, for the keys to write back
        self.subject_parts: dict[str, int] = {}
        self.hand_offs: dict[bytes, list[CallRecord | UpdateRecord]] = {}
        self.counted: dict[object, int] = {}       # prometheus counter → what the batch adds to it


_BATCH: ContextVar[_Batch] = ContextVar("triage_batch")


class Stages:
    """The two stages over the two tables. `at_place` and `at_subject` map each consumed topic to its handler;
    a handler takes the faust message and updates the state in place (read once per key and batch, written
    back once per key when the batch ends), then publishes; run twice on a record it leaves the same state and
    publishes events with the same ids (redelivery, a partition read again). `place_batch`/`subject_batch`
    handle the batches of records the agents read (bootstrap.batches); `place_message`/`subject_message` one record."""

    def __init__(self, *, places: States[PlaceState], subjects: States[SubjectState],
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
        self._batch = _BATCH
        self._events: dict[str, object] = {}     # prometheus children, by topic
        self._levels: dict[str, object] = {}

    async def place_message(self, msg) -> None:
        await self.place_batch([msg])

    async def subject_message(self, msg) -> None:
        await self.subject_batch([msg])

    async def place_batch(self, msgs, on_error: OnError | None = None) -> int:
        return await self._run(msgs, self._at_place, on_error)

    async def subject_batch(self, msgs, on_error: OnError | None = None) -> int:
        return await self._run(msgs, self._at_subject, on_error)

    async def _at_place(self, msg) -> None:
        self._count(msg.topic)
        await self.at_place[msg.topic](msg)

    async def _at_subject(self, msg) -> None:
        await self.at_subject[msg.topic](msg)

    async def _run(self, msgs, handle: Handler, on_error: OnError | None) -> int:
        """Each record in turn; one that fails goes to `on_error` (without it, the failure is raised) and the
        batch goes on. Then the states the batch changed are written back and its hand-offs sent — before the
        agent takes the next batch, i.e. before faust acknowledges these records. Returns the records handled."""
        b = _Batch()
        token = self._batch.set(b)   # the agent's own task: the two agents' batches never mix
        handled = 0
        async with self.edge.outbox():   # what the batch sends, handed to the producer together at its end
            try:
                for msg in msgs:
                    try:
                        await handle(msg)
                        handled += 1
                    except Exception as exc:  # noqa: BLE001
                        if on_error is None:
                            raise
                        await on_error(msg, exc)
            finally:
                self._batch.reset(token)
                for counter, n in b.counted.items():
                    counter.inc(n)
                send = self.edge.send
                for key, partition in b.place_parts.items():
                    await put(self.places, key, b.places[key], partition, send)
                for key, partition in b.subject_parts.items():
                    await put(self.subjects, key, b.subjects[key], partition, send)
                hand_off = self.hand_off.get_topic_name()
                for person_key, records in b.hand_offs.items():   # flushed before the commit (edge.py)
                    await send(hand_off, person_key, codec.dump_hand_offs(records))
        return handled

    def _count(self, topic: str) -> None:
        child = self._events.get(topic)
        if child is None:
            child = self._events[topic] = EVENTS.labels(topic)
        self._add(child)

    def _add(self, counter) -> None:
        """Counted when the batch ends, once per counter (each increment takes the counter's lock)."""
        counted = self._batch.get().counted
        counted[counter] = counted.get(counter, 0) + 1

    def _place(self, where: str) -> PlaceState:
        b = self._batch.get()
        place = b.places.get(where)
        if place is None:
            place = b.places[where] = self.places.get(where) or P.new_place()
        return place

    def _subject(self, key: str) -> SubjectState:
        b = self._batch.get()
        st = b.subjects.get(key)
        if st is None:
            st = b.subjects[key] = self.subjects.get(key) or S.new_state()
        return st

    def _changed_place(self, where: str, partition: int) -> None:
        self._batch.get().place_parts[where] = partition

    def _changed_subject(self, key: str, partition: int) -> None:
        self._batch.get().subject_parts[key] = partition

    # --- the place stage ---------------------------------------------------------------------------------

    async def _call_received(self, msg) -> None:
        ev = await self.edge.decode(msg, T.CALLS_RECEIVED.events)
        if ev is not None:
            await self._call_at_place(facts.call_record(ev), msg.partition)

    async def _call_updated(self, msg) -> None:
        ev = await self.edge.decode(msg, T.CALLS_UPDATED.events)
        if ev is None:
            return
        if not ev.payload.location_key:
            await self.edge.dead_letter(msg, NO_LOCATION_KEY)
            return
        await self._update_at_place(ev.payload.location_key, facts.update_record(ev), msg.partition)

    async def _call_at_place(self, record: CallRecord, partition: int) -> None:
        where = record.location_key
        place = self._place(where)
        P.record_call(place, record.call_id, record.time, record.category in S.CRISIS, record.subject, self.ruleset)
        counts, crisis_30d = P.recurrence(place, record.time)
        waiting = P.release(place, record.call_id)
        self._changed_place(where, partition)
        if record.subject is None:  # about nobody: the place is the subject, decided here
            st = place.state
            if st is None:
                st = place.state = S.new_state()
            for update in waiting:
                S.record_update(st, update)
            await self._publish(self._decide(where, st, record, counts, crisis_30d))
        else:
            record.location_counts, record.location_crisis_30d = counts, crisis_30d
            key = record.subject.encode()
            self._hand_on(key, record)
            for update in waiting:
                self._hand_on(key, update)

    async def _update_at_place(self, where: str, update: UpdateRecord, partition: int) -> None:
        place = self._place(where)
        if not P.knows(place, update.call_id):
            P.hold(place, update)
            self._changed_place(where, partition)
        elif (subject := P.subject_of(place, update.call_id)) is not None:
            self._hand_on(subject.encode(), update)
        else:
            st = place.state
            if st is None:
                st = place.state = S.new_state()
            S.record_update(st, update)
            self._changed_place(where, partition)

    def _hand_on(self, person_key: bytes, record: CallRecord | UpdateRecord) -> None:
        """Sent when the batch ends, with what else the batch hands on to the person (in order)."""
        hand_offs = self._batch.get().hand_offs
        records = hand_offs.get(person_key)
        if records is None:
            hand_offs[person_key] = [record]
        else:
            records.append(record)

    # --- the person stage --------------------------------------------------------------------------------

    async def _handed_off(self, msg) -> None:
        records = codec.load_hand_offs(msg.value)
        key = msg.key.decode()
        st = self._subject(key)
        self._changed_subject(key, msg.partition)
        for record in records:
            await self.handed_off[type(record)](key, st, record)

    async def _call_about_person(self, key: str, st: SubjectState, record: CallRecord) -> None:
        await self._publish(self._decide(key, st, record, record.location_counts, record.location_crisis_30d))

    async def _update_about_person(self, key: str, st: SubjectState, update: UpdateRecord) -> None:
        S.record_update(st, update)

    async def _frame_current(self, msg) -> None:
        if msg.value is not None:
            await self._person_event(msg)
            return
        self._count(msg.topic)
        if msg.key:  # tombstone: the frame was archived, at the record's time (faust gives seconds)
            key = msg.key.decode()
            events.frame_archived(self._subject(key), float(msg.timestamp))
            self._changed_subject(key, msg.partition)

    async def _person_event(self, msg) -> None:
        self._count(msg.topic)
        ev = await self.edge.decode(msg, self._expected[msg.topic])
        if ev is not None:
            key = ev.payload.person_key
            events.apply(self._subject(key), ev)
            self._changed_subject(key, msg.partition)

    # --- deciding ----------------------------------------------------------------------------------------

    def _decide(self, key: str, st: SubjectState, record: CallRecord, location_counts: dict,
                location_crisis_30d: int) -> Outgoing:
        """Decide on the call with the subject's state as of its time and remember it in `st` (the caller
        stores `st`, then publishes the events returned: the decision, maybe a referral suggestion). The
        decision's JSON is made once: the state keeps it, compressed, and its event carries it."""
        call = facts.call_facts(record)
        t0 = time.perf_counter()
        decision = decide(call, st, location_counts, location_crisis_30d, self.ruleset)
        suggestion = admissibility.suggestion(decision, call, st)
        DECIDE_SECONDS.observe(time.perf_counter() - t0)
        S.record_call(st, call, self.ruleset)
        d = decision.payload
        d_json = payload_json_of(d)
        forgotten = S.remember_decision(st, call.t, call.call_id, call.revision, d_json)
        self.index.add(call.call_id, key, forgotten)
        out: Outgoing = [(TriageDecided.new(
            payload=d, occurred_at=d.call_received_at, source="triage", correlation_id=record.correlation_id,
            event_id=event_id_for("triage.decided", d.decision_id)), d_json)]
        level = self._levels.get(d.level.value)
        if level is None:
            level = self._levels[d.level.value] = DECISIONS.labels(d.level.value)
        self._add(level)
        TRIAGE_DELAY.observe(max(0.0, time.time() - call.t))
        if suggestion is not None:
            admissibility.remember_suggestion(st, suggestion, call.t)
            out.append((ReferralSuggested.new(
                payload=suggestion, occurred_at=d.call_received_at, source="triage",
                correlation_id=record.correlation_id,
                event_id=event_id_for("referral.suggested", suggestion.suggestion_id)), None))
            self._add(SUGGESTIONS)
        return out

    async def _publish(self, out: Outgoing) -> None:
        for event, payload_json in out:
            await self.edge.publish(event, payload_json=payload_json)
