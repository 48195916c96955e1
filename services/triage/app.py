"""The triage worker: one faust.App, three short agents, three tables (memory store + changelogs).

    calls.received.v2 ┐  agent `calls` (by call_id, table `calls`: call → subject, pending updates)
    calls.updated.v2  ┘        │ calls                         │ updates
                               ▼                               │
      <app>-calls-by-location: agent `locations` (by location_key, table `locations`: recent calls there)
                               │ calls + location recurrence   │
                               ▼                               ▼
      <app>-events-by-subject ┐
      referrals.filed.v1      │  agent `subjects` (by person key, or location key for a call about nobody;
      referrals.status.v1     ├─ table `subjects`: history, referrals, frames, overrides, last decisions)
      frames.current.v1       │        → triage.decided.v1, referrals.suggested.v1
      triage.overridden.v1    ┘

The two internal topics are the repartitioning (`group_by`) steps: one person's events, whatever the call
they came with, meet in one partition, co-partitioned with the person-keyed input topics (same key bytes,
same murmur2 partitioner, same partition count). Bytes are decoded with the contracts at the edge;
malformed input goes to `<topic>.dlq` with the reason, and the worker goes on.
"""
from __future__ import annotations

import logging
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
from dyade.settings import Settings
from services.triage import facts
from services.triage.domain import admissibility, state as S
from services.triage.domain.config import RulesetConfig
from services.triage.domain.decide import decide, event_id_for
from services.triage.domain.recurrence import Past, counts
from services.triage.domain.routing import subject_key
from services.triage.edge import Edge
from services.triage.metrics import DECIDE_SECONDS, DECISIONS, EVENTS, SUGGESTIONS, TRIAGE_DELAY
from services.triage.options import TriageOptions

log = logging.getLogger("dyade.triage")

SUBJECT_INPUTS = {T.REFERRALS_FILED.name: (ReferralFiled,), T.REFERRALS_STATUS.name: (ReferralStatusChanged,),
                  T.FRAMES_CURRENT.name: (FrameCurrent,), T.TRIAGE_OVERRIDDEN.name: (RecurrenceOverridden,)}


def internal_topics(app_id: str) -> tuple[str, str]:
    return f"{app_id}-calls-by-location", f"{app_id}-events-by-subject"


def faust_brokers(bootstrap: str) -> list[str]:
    return [f"kafka://{h.strip()}" for h in bootstrap.split(",") if h.strip()]


def build_app(settings: Settings, options: TriageOptions, ruleset: RulesetConfig) -> faust.App:
    partitions = settings.dyade_topic_partitions
    datadir = Path(settings.dyade_home) / "triage" / options.app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        options.app_id, broker=faust_brokers(settings.kafka_bootstrap_servers or "localhost:9092"),
        store="memory://", web_enabled=False, autodiscover=False,
        datadir=str(datadir),
        topic_partitions=partitions, topic_replication_factor=settings.dyade_topic_replication,
        key_serializer="raw", value_serializer="raw", consumer_auto_offset_reset="earliest",
        broker_session_timeout=6.0, broker_heartbeat_interval=0.5, broker_rebalance_timeout=6.0,
        stream_wait_empty=False, table_standby_replicas=0, stream_recovery_delay=0.0,
        broker_commit_interval=options.commit_interval, processing_guarantee="at_least_once",
        producer_linger=options.producer_linger,
        topic_allow_declare=True)
    edge = Edge(app)
    by_location_name, by_subject_name = internal_topics(options.app_id)
    raw = dict(key_serializer="raw", value_serializer="raw")
    call_inputs = app.topic(T.CALLS_RECEIVED.name, T.CALLS_UPDATED.name, **raw)
    by_location = app.topic(by_location_name, **raw)
    by_subject = app.topic(by_subject_name, **raw)
    subject_inputs = app.topic(by_subject_name, *SUBJECT_INPUTS, **raw)
    table = dict(default=None, partitions=partitions,
                 schema=faust.Schema(key_type=str, key_serializer="json", value_serializer="json"))
    calls = app.Table("calls", help="call_id → revision, subject key, updates waiting for the call", **table)
    locations = app.Table("locations", help="location_key → recent calls there (event time)", **table)
    subjects = app.Table("subjects", help="person (or location) key → triage state", **table)
    app.triage = SimpleNamespace(calls=calls, locations=locations, subjects=subjects, ruleset=ruleset,
                                 started=False, edge=edge)

    async def guarded(msg, handle, dlq_of: str | None = None) -> None:
        """A failure on one event (a bug, not bad input) sets it aside in the DLQ; the stream goes on."""
        try:
            await handle(msg)
        except Exception as exc:  # noqa: BLE001
            log.exception("event handling failed", extra={"topic": msg.topic, "offset": msg.offset})
            await edge.dead_letter(msg, f"erreur interne du triage: {type(exc).__name__}: {exc}", dlq_of=dlq_of)

    @app.agent(call_inputs, name="calls")
    async def route_calls(stream):
        """Remember which subject each call is about; send calls on by location, updates by subject."""
        async for event in stream.events():
            await guarded(event.message, _route_call)

    async def _route_call(msg) -> None:
        EVENTS.labels(msg.topic).inc()
        ev = await edge.decode(msg, (CallReceived,) if msg.topic == T.CALLS_RECEIVED.name else (CallUpdated,))
        if ev is None:
            return
        entry = dict(calls.get(ev.payload.call_id) or {})
        if isinstance(ev, CallReceived):
            record = facts.call_record(ev)
            key = subject_key(record["subject"], record["lk"])
            if record["rev"] >= entry.get("rev", 0):
                entry.update(rev=record["rev"], key=key)
            waiting = entry.pop("pending", [])
            calls[record["call_id"]] = entry
            await by_location.send(key=record["lk"].encode(), value=orjson.dumps(record))
            for update in waiting:
                await by_subject.send(key=entry["key"].encode(), value=orjson.dumps(update))
        else:
            update = facts.update_record(ev)
            if "key" in entry:
                await by_subject.send(key=entry["key"].encode(), value=orjson.dumps(update))
            elif update not in entry.setdefault("pending", []):
                entry["pending"].append(update)
                calls[update["call_id"]] = entry

    @app.agent(by_location, name="locations")
    async def count_locations(stream):
        """Location recurrence by event time, then on to the call's subject."""
        async for event in stream.events():
            await guarded(event.message, _count_location, dlq_of=T.CALLS_RECEIVED.name)

    async def _count_location(msg) -> None:
        record = orjson.loads(msg.value)
        place = locations.get(record["lk"]) or {}
        crisis = record["cat"] in S.CRISIS
        place = {**place, record["call_id"]: [record["t"], crisis]}
        if len(place) > ruleset.history_max_calls:
            for old in sorted(place, key=lambda c: (place[c][0], c))[: len(place) - ruleset.history_max_calls]:
                del place[old]
        locations[record["lk"]] = place
        entries = [Past(t, c) for t, c in place.values()]
        record["loc_counts"] = counts(entries, record["t"])
        record["loc_crisis_30"] = counts(entries, record["t"], crisis_only=True)["30j"]
        await by_subject.send(key=subject_key(record["subject"], record["lk"]).encode(), value=orjson.dumps(record))

    @app.agent(subject_inputs, name="subjects")
    async def decide_subjects(stream):
        """Each subject's state; a decision (and maybe a referral suggestion) per call."""
        async for event in stream.events():
            msg = event.message
            await guarded(msg, _on_subject_message, dlq_of=T.CALLS_RECEIVED.name if msg.topic == by_subject_name else None)

    async def _on_subject_message(msg) -> None:
        if msg.topic == by_subject_name:
            record = orjson.loads(msg.value)
            if record["kind"] == "call":
                await _on_call(record)
            else:
                key = msg.key.decode()
                st = subjects.get(key) or S.new_state()
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

    async def _on_call(record: dict) -> None:
        call = facts.call_facts(record)
        key = subject_key(call.subject, call.location_key)
        st = subjects.get(key) or S.new_state()
        t0 = time.perf_counter()
        decision = decide(call, st, record["loc_counts"], record["loc_crisis_30"], ruleset)
        suggestion = admissibility.suggestion(decision, call, st)
        DECIDE_SECONDS.observe(time.perf_counter() - t0)
        S.record_call(st, call, ruleset)
        S.remember_decision(st, call.t, call.call_id, call.revision, decision.payload.model_dump_json())
        if suggestion is not None:
            admissibility.remember_suggestion(st, suggestion, call.t)
        subjects[key] = st
        d = decision.payload
        out = TriageDecided.new(payload=d, occurred_at=d.call_received_at, source="triage",
                                correlation_id=record["corr"], event_id=event_id_for("triage.decided", d.decision_id))
        await edge.publish(out)
        DECISIONS.labels(d.level.value).inc()
        TRIAGE_DELAY.observe(max(0.0, time.time() - call.t))
        if suggestion is not None:
            await edge.publish(ReferralSuggested.new(
                payload=suggestion, occurred_at=d.call_received_at, source="triage", correlation_id=record["corr"],
                event_id=event_id_for("referral.suggested", suggestion.suggestion_id)))
            SUGGESTIONS.inc()

    return app
