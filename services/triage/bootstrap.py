"""The triage worker: one faust.App, two agents, two tables (memory store + changelogs).

    calls.received.v2 ┐  agent `places` (by location key — how intake keys calls and their updates;
    calls.updated.v2  ┘   table `places`: recent calls there, updates ahead of their call, and the state of
                          the place as the subject of calls about nobody)
                               │ call about nobody: decided here ──────────────► triage.decided.v1
                               │ call about a person: + location recurrence, and its updates
                               ▼
      <app>-events-by-subject ┐
      referrals.filed.v1      │  agent `subjects` (by person key; table `subjects`: history, referrals,
      referrals.status.v1     ├─ frames, overrides, last decisions)
      frames.current.v1       │        → triage.decided.v1, referrals.suggested.v1
      triage.overridden.v1    ┘

Most real calls name nobody (the Berkeley logs never do): they cross one stage. A call about a person
crosses two — its place, then its person, through the one internal topic, co-partitioned with the
person-keyed inputs (same key bytes, same murmur2 partitioner, same partition count). Bytes are decoded
with the contracts at the edge; malformed input goes to `<topic>.dlq` with the reason, and the worker goes on.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import time
from pathlib import Path
from types import SimpleNamespace

import faust
import orjson

from dyade.contracts import topics as T
from dyade.contracts.calls import CallReceived, CallUpdated
from dyade.contracts.frames import FrameCurrent
from dyade.contracts.referrals import ReferralFiled, ReferralStatusChanged, ReferralSuggested
from dyade.contracts.triage import RecurrenceOverridden, TriageDecided
from dyade.consumer import Policy, Progress, is_invalid, reason_of
from dyade.settings import Settings
from services.triage.domain import facts
from services.triage.domain import admissibility, place as P, state as S
from services.triage.domain.config import RulesetConfig
from services.triage.domain.decide import decide, event_id_for
from services.triage.adapters.edge import Edge
from services.triage.adapters.lag import GroupLag
from services.triage.adapters.transport import FETCH_MAX_WAIT_MS, short_fetch_wait  # noqa: F401 (bench prints it)
from services.triage.adapters.metrics import DECIDE_SECONDS, DECISIONS, EVENTS, SUGGESTIONS, TRIAGE_DELAY
from services.triage.config import TriageOptions

log = logging.getLogger("dyade.triage")

SUBJECT_INPUTS = {T.REFERRALS_FILED.name: (ReferralFiled,), T.REFERRALS_STATUS.name: (ReferralStatusChanged,),
                  T.FRAMES_CURRENT.name: (FrameCurrent,), T.TRIAGE_OVERRIDDEN.name: (RecurrenceOverridden,)}


def internal_topics(app_id: str) -> tuple[str, ...]:
    return (f"{app_id}-events-by-subject",)


def advertised_host(host: str) -> str:
    return socket.gethostname() if host in ("0.0.0.0", "::", "") else host


def faust_brokers(bootstrap: str) -> list[str]:
    return [f"kafka://{h.strip()}" for h in bootstrap.split(",") if h.strip()]


class CallIndex:
    """call id → key of the subject whose state holds its decision (person, or place for a call about
    nobody), for `/v1/calls/{id}/decision`. Worker memory, not a table: it covers the decisions the
    subjects still keep, and is rebuilt from the tables after a rebalance or a restart."""

    def __init__(self, *tables):
        self.tables = tables
        self.keys: dict[str, str] = {}
        self.stale = True

    def add(self, call_id: str, key: str, forgotten: set[str]) -> None:
        self.keys[call_id] = key
        for c in forgotten:
            if self.keys.get(c) == key:
                del self.keys[c]

    def invalidate(self) -> None:
        """Partitions moved: keys may have gone to another worker, or come from one."""
        self.keys, self.stale = {}, True

    def lookup(self, call_id: str) -> str | None:
        if call_id not in self.keys and self.stale:
            self.keys = {d[1]: key for key, st in _states(*self.tables) for d in st["decisions"]}
            self.stale = False
        return self.keys.get(call_id)


PLACE_PREFIX = "l_"  # intake's location keys (services/intake/domain/locations.py); persons are p_…


def table_of(key: str) -> str:
    return "places" if key.startswith(PLACE_PREFIX) else "subjects"


def state_of(places, subjects, key: str) -> dict | None:
    """The subject state of a key: a person's, or a place's as the subject of calls about nobody."""
    if table_of(key) == "places":
        return (places.get(key) or {}).get("state")
    return subjects.get(key)


def _states(places, subjects):
    for key, place in places.items():
        if place and place.get("state"):
            yield key, place["state"]
    for key, st in subjects.items():
        if st:
            yield key, st


def build_app(settings: Settings, options: TriageOptions, ruleset: RulesetConfig) -> faust.App:
    partitions = settings.dyade_topic_partitions
    datadir = Path(settings.dyade_home) / "triage" / options.app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        options.app_id, broker=faust_brokers(settings.kafka_bootstrap_servers or "localhost:9092"),
        store="memory://", web_enabled=False, autodiscover=False,
        canonical_url=options.advertised_url or f"http://{advertised_host(settings.dyade_host)}:{settings.triage_port}",
        datadir=str(datadir),
        topic_partitions=partitions, topic_replication_factor=settings.dyade_topic_replication,
        key_serializer="raw", value_serializer="raw", consumer_auto_offset_reset="earliest",
        broker_session_timeout=6.0, broker_heartbeat_interval=0.5, broker_rebalance_timeout=6.0,
        stream_wait_empty=False, table_standby_replicas=0, stream_recovery_delay=0.0,
        broker_commit_interval=options.commit_interval, processing_guarantee="at_least_once",
        producer_linger=options.producer_linger,
        topic_allow_declare=True)
    short_fetch_wait(app)
    progress = Progress("triage", options.app_id, [T.CALLS_RECEIVED.name, T.CALLS_UPDATED.name, *SUBJECT_INPUTS],
                        Policy())
    edge = Edge(app, progress)
    group_lag = GroupLag(settings.kafka_bootstrap_servers or "localhost:9092", options.app_id)
    (by_subject_name,) = internal_topics(options.app_id)
    consumed = {T.CALLS_RECEIVED.name, T.CALLS_UPDATED.name, by_subject_name, *SUBJECT_INPUTS}
    raw = dict(key_serializer="raw", value_serializer="raw")
    call_inputs = app.topic(T.CALLS_RECEIVED.name, T.CALLS_UPDATED.name, **raw)
    by_subject = app.topic(by_subject_name, **raw)
    subject_inputs = app.topic(by_subject_name, *SUBJECT_INPUTS, **raw)
    table = dict(default=None, partitions=partitions,
                 schema=faust.Schema(key_type=str, key_serializer="json", value_serializer="json"))
    places = app.Table("places", help="location key → recent calls, early updates, state as a subject", **table)
    subjects = app.Table("subjects", help="person key → triage state", **table)
    index = CallIndex(places, subjects)
    app.triage = SimpleNamespace(places=places, subjects=subjects, index=index, ruleset=ruleset,
                                 started=False, edge=edge, progress=progress, state_of=lambda key: state_of(places, subjects, key))

    @app.on_partitions_assigned.connect
    async def _assigned(app, assigned, **kwargs) -> None:
        index.invalidate()

    handled_at: dict[tuple[str, int], float] = {}   # per input partition, when a record was last taken up

    async def guarded(msg, handle, dlq_of: str | None = None) -> None:
        """A failure on one event sets it aside in the DLQ and the stream goes on. Not retried, unlike the
        kernel's consumers: a handler updates the subject's state in place before it publishes, so running
        it again would count the call twice."""
        handled_at[(msg.topic, msg.partition)] = time.monotonic()
        try:
            await handle(msg)
            progress.progressed(1)
        except Exception as exc:  # noqa: BLE001
            kind = "invalid" if is_invalid(exc) else "failing"
            log.exception("event handling failed", extra={"topic": msg.topic, "offset": msg.offset})
            await edge.dead_letter(msg, f"erreur interne du triage: {reason_of(exc)}", dlq_of=dlq_of, kind=kind)

    @app.timer(interval=5.0, on_leader=False)
    async def _probe_lag() -> None:
        """Lag of this worker's partitions, from faust's own read offsets and the broker's high waters."""
        if not app.triage.started or app.rebalancing:
            progress.starting("rééquilibrage des partitions" if app.rebalancing else "le worker démarre")
            return
        mine = [(tp.topic, tp.partition) for tp in app.consumer.assignment() if tp.topic in consumed]
        try:
            lag = await asyncio.get_running_loop().run_in_executor(None, group_lag, mine, dict(handled_at))
        except Exception as exc:  # noqa: BLE001 - lag unknown for now (broker busy, group rebalancing)
            # Readiness of the worker itself is faust's (started, not rebalancing): a lag that cannot be
            # measured for a moment must not turn a consuming worker "reconnecting".
            log.info("lag probe failed", extra={"error": reason_of(exc)[:200]})
            if progress.state == "starting":
                progress.progressed(0)
            return
        progress.lagging(lag, group_lag.oldest_waiting_s)

    @app.agent(call_inputs, name="places")
    async def at_places(stream):
        """Location recurrence; calls about nobody decided here, calls about a person sent on to the person."""
        async for event in stream.events():
            await guarded(event.message, _on_place_message)

    async def _on_place_message(msg) -> None:
        EVENTS.labels(msg.topic).inc()
        if msg.topic == T.CALLS_RECEIVED.name:
            ev = await edge.decode(msg, (CallReceived,))
            if ev is not None:
                await _call_at_place(facts.call_record(ev))
            return
        ev = await edge.decode(msg, (CallUpdated,))
        if ev is None:
            return
        if not ev.payload.location_key:
            await edge.dead_letter(msg, "mise à jour sans location_key: impossible de la rattacher au lieu de "
                                        "son appel (calls.updated.v2 exige la clé de lieu de l'appel)")
            return
        await _update_at_place(ev.payload.location_key, facts.update_record(ev))

    async def _call_at_place(record: dict) -> None:
        lk = record["lk"]
        place = places.get(lk) or P.new_place()
        P.record_call(place, record["call_id"], record["t"], record["cat"] in S.CRISIS, record["subject"], ruleset)
        loc_counts, loc_crisis_30 = P.recurrence(place, record["t"])
        waiting = P.release(place, record["call_id"])
        if record["subject"] is None:
            st = place["state"] or S.new_state()
            for update in waiting:
                S.record_update(st, update)
            out = _decide(lk, st, record, loc_counts, loc_crisis_30)
            place["state"] = st
            places[lk] = place
            await _publish(out)
        else:
            places[lk] = place
            record["loc_counts"], record["loc_crisis_30"] = loc_counts, loc_crisis_30
            key = record["subject"].encode()
            await (await by_subject.send(key=key, value=orjson.dumps(record)))
            for update in waiting:
                await (await by_subject.send(key=key, value=orjson.dumps(update)))

    async def _update_at_place(lk: str, update: dict) -> None:
        place = places.get(lk) or P.new_place()
        if not P.knows(place, update["call_id"]):
            P.hold(place, update)
            places[lk] = place
        elif (subject := P.subject_of(place, update["call_id"])) is not None:
            await (await by_subject.send(key=subject.encode(), value=orjson.dumps(update)))
        else:
            st = place["state"] or S.new_state()
            S.record_update(st, update)
            place["state"] = st
            places[lk] = place

    @app.agent(subject_inputs, name="subjects")
    async def at_subjects(stream):
        """Each person's state; a decision (and maybe a referral suggestion) per call."""
        async for event in stream.events():
            msg = event.message
            await guarded(msg, _on_subject_message, dlq_of=T.CALLS_RECEIVED.name if msg.topic == by_subject_name else None)

    async def _on_subject_message(msg) -> None:
        if msg.topic == by_subject_name:
            record = orjson.loads(msg.value)
            key = msg.key.decode()
            st = subjects.get(key) or S.new_state()
            if record["kind"] == "call":
                out = _decide(key, st, record, record["loc_counts"], record["loc_crisis_30"])
                subjects[key] = st
                await _publish(out)
            else:
                S.record_update(st, record)
                subjects[key] = st
            return
        EVENTS.labels(msg.topic).inc()
        if msg.topic == T.FRAMES_CURRENT.name and msg.value is None:  # tombstone: frame archived
            if msg.key:
                key = msg.key.decode()
                st = subjects.get(key) or S.new_state()
                S.record_frame(st, float(msg.timestamp), active=False)  # faust gives seconds
                subjects[key] = st
            return
        ev = await edge.decode(msg, SUBJECT_INPUTS[msg.topic])
        if ev is not None:
            _on_person_event(ev)

    def _on_person_event(ev) -> None:
        p = ev.payload
        st = subjects.get(p.person_key) or S.new_state()
        t = facts.epoch(ev.occurred_at)
        if isinstance(ev, ReferralFiled):
            S.record_referral(st, p.referral_id, t, "recue")
            admissibility.file_opened(st)
        elif isinstance(ev, ReferralStatusChanged):
            S.record_referral(st, p.referral_id, t, p.status.value)
            admissibility.file_opened(st)
        elif isinstance(ev, FrameCurrent):
            S.record_frame(st, t, active=True, version=p.version, stale=p.stale,
                           n_risques=len(p.police_view.risques))
        elif isinstance(ev, RecurrenceOverridden):
            S.record_override(st, t, recurrent=p.recurrent, until=facts.epoch(p.until) if p.until else None)
        subjects[p.person_key] = st

    def _decide(key: str, st: dict, record: dict, loc_counts: dict, loc_crisis_30: int) -> list:
        """Decide on the call with the subject's state as of its time and remember it in `st` (the caller
        stores `st`, then publishes the events returned: the decision, maybe a referral suggestion)."""
        call = facts.call_facts(record)
        t0 = time.perf_counter()
        decision = decide(call, st, loc_counts, loc_crisis_30, ruleset)
        suggestion = admissibility.suggestion(decision, call, st)
        DECIDE_SECONDS.observe(time.perf_counter() - t0)
        S.record_call(st, call, ruleset)
        d = decision.payload
        forgotten = S.remember_decision(st, call.t, call.call_id, call.revision, d.model_dump_json())
        index.add(call.call_id, key, forgotten)
        out = [TriageDecided.new(payload=d, occurred_at=d.call_received_at, source="triage",
                                 correlation_id=record["corr"], event_id=event_id_for("triage.decided", d.decision_id))]
        DECISIONS.labels(d.level.value).inc()
        TRIAGE_DELAY.observe(max(0.0, time.time() - call.t))
        if suggestion is not None:
            admissibility.remember_suggestion(st, suggestion, call.t)
            out.append(ReferralSuggested.new(
                payload=suggestion, occurred_at=d.call_received_at, source="triage", correlation_id=record["corr"],
                event_id=event_id_for("referral.suggested", suggestion.suggestion_id)))
            SUGGESTIONS.inc()
        return out

    async def _publish(events: list) -> None:
        for event in events:
            await edge.publish(event)

    return app
