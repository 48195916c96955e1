"""The triage worker, declared as faust's examples declare theirs: one faust.App, its topics, two tables (memory
store + changelogs), two agents and a timer, at module level. `build_app` gives the app what comes from the
settings (broker, partitions, rule set, …) before the worker starts it; what each record does is
entrypoints/consumers.py.

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
crosses two — its place, then its person, through the one internal topic (`TRIAGE_BY_SUBJECT` in the
contracts), co-partitioned with the person-keyed inputs (same key bytes, same murmur2 partitioner, same
partition count). Bytes are decoded with the contracts at the edge; malformed input goes to `<topic>.dlq` with
the reason, and the worker goes on.

The app id (TRIAGE_APP_ID) names the consumer group, the changelogs and the internal topic: it is read when
this module is imported, as the topics are declared with it.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import time
from pathlib import Path

import faust
from faust.types import TP

from dyade.contracts import topics as T
from dyade.consumer import Policy, Progress, is_invalid, reason_of
from dyade.settings import Settings
from services.triage.adapters import codec
from services.triage.adapters.batching import Stream
from services.triage.adapters.edge import Edge
from services.triage.adapters.lag import GroupLag
from services.triage.adapters.tables import CallIndex, States, state_of
from services.triage.adapters.metrics import REREADS
from services.triage.adapters.transport import InOrder, short_fetch_wait
from services.triage.config import TriageOptions
from services.triage.domain.config import RulesetConfig
from services.triage.domain.state import SubjectState
from services.triage.entrypoints.consumers import PERSON_INPUTS, Stages

log = logging.getLogger("dyade.triage")


class TriageApp(faust.App):
    """faust's App, with what its agents, timer and read API share besides the tables (set by `build_app`)."""
    index: CallIndex
    ruleset: RulesetConfig
    progress: Progress
    stages: Stages
    group_lag: GroupLag
    batch_max = 500          # records an agent takes at once (TRIAGE_BATCH_MAX)
    batch_within = 0.01      # seconds a batch waits for more after its first record, under load (TRIAGE_BATCH_WITHIN)
    startup_finished = False  # set by the worker (__main__): partitions assigned, tables recovered

    def state_of(self, key: str) -> SubjectState | None:
        return state_of(places, subjects, key)

    def on_init_dependencies(self):
        """faust's Monitor sensor keeps per-record statistics for faust's web views (off here: the worker's
        metrics are Prometheus, adapters/metrics.py); its callbacks run on every record in and out, so it is
        not a sensor of this app (the monitor itself stays, faust's consumer reports commits to it)."""
        dependencies = super().on_init_dependencies()
        try:
            self.sensors.remove(self.monitor)
        except KeyError:
            pass
        return dependencies


# what does not depend on the settings; `build_app` adds the rest
FIXED = dict(Stream=Stream, store="memory://", web_enabled=False, autodiscover=False,
             key_serializer="raw", value_serializer="raw", consumer_auto_offset_reset="earliest",
             broker_session_timeout=6.0, broker_heartbeat_interval=0.5, broker_rebalance_timeout=6.0,
             stream_wait_empty=False, table_standby_replicas=0, stream_recovery_delay=0.0,
             processing_guarantee="at_least_once", topic_allow_declare=True,
             # a batch of records is handed to the producer as one record batch per topic partition (edge.py):
             # room for what a batch of calls sends to one partition
             producer_max_batch_size=256 * 1024)
RAW = dict(key_serializer="raw", value_serializer="raw")

app = TriageApp(TriageOptions().app_id, **FIXED)

BY_SUBJECT = T.TRIAGE_BY_SUBJECT.of(app.conf.id)
call_inputs = app.topic(T.CALLS_RECEIVED.name, T.CALLS_UPDATED.name, **RAW)
by_subject = app.topic(BY_SUBJECT.name, **RAW)
subject_inputs = app.topic(BY_SUBJECT.name, *(t.name for t in PERSON_INPUTS), **RAW)
CONSUMED = {*call_inputs.topics, *subject_inputs.topics}
# a hand-off record that cannot be handled is set aside with the call it came from
DEAD_LETTERED_AS = {BY_SUBJECT.name: T.CALLS_RECEIVED.name}

# a table holds each state as its changelog record's bytes (msgpack: adapters/codec.py), read through `States`
STATE_BYTES = dict(key_type=str, value_type=bytes, default=None,
                   schema=faust.Schema(key_type=str, value_type=bytes, key_serializer="json", value_serializer="raw"))
places = States(app.Table("places", help="location key → recent calls, early updates, state as a subject",
                          **STATE_BYTES), codec.load_place)
subjects = States(app.Table("subjects", help="person key → triage state", **STATE_BYTES), codec.load_subject)
index = app.index = CallIndex(places, subjects)
handled_at: dict[tuple[str, int], float] = {}  # per input partition, when a record was last taken up
in_order = InOrder()


@app.on_partitions_assigned.connect
async def _assigned(app, assigned, **kwargs) -> None:
    index.invalidate()
    in_order.reset()


async def set_aside(msg, exc: Exception) -> None:
    """A failure on one event sets it aside in the DLQ and the stream goes on (not retried in place: what
    fails here is the record, not the broker). Handling a record again is harmless — states are keyed by call
    id and event ids are derived from the decision (domain/state.py) — which is what lets transport.py read a
    partition again after faust dropped records."""
    kind = "invalid" if is_invalid(exc) else "failing"
    log.error("event handling failed", exc_info=exc, extra={"topic": msg.topic, "offset": msg.offset})
    await app.stages.edge.dead_letter(msg, f"erreur interne du triage: {reason_of(exc)}",
                                      dlq_of=DEAD_LETTERED_AS.get(msg.topic), kind=kind)


async def batches(stream, handle) -> None:
    """faust's batch reading: up to `batch_max` records, or what came within `batch_within` seconds of the
    first (a lone record waits that long; an idle stream sleeps: adapters/batching.py). faust acknowledges a
    batch's records when the agent asks for the next one, i.e. after `handle` has written the states back and
    handed every output to the producer — and faust flushes the producer before it commits (at least once).
    A partition's records are handled in offset order (`InOrder`: after a hole, read again first)."""
    async for events in stream.take_events(app.batch_max, within=app.batch_within):
        msgs = [event.message for event in events]
        now = time.monotonic()
        for msg in msgs:
            handled_at[(msg.topic, msg.partition)] = now
        msgs, read_again = in_order.admit(msgs, committed_offset, now)
        for (topic, partition), offset in read_again.items():
            log.warning("enregistrements après un trou : relecture depuis le premier manquant",
                        extra={"topic": topic, "partition": partition, "offset": offset})
            await app.consumer.seek(TP(topic, partition), offset)
            REREADS.labels(topic).inc()
        handled = await handle(msgs, set_aside)
        app.progress.progressed(handled)


def committed_offset(topic: str, partition: int) -> int | None:
    return app.consumer._committed_offset.get(TP(topic, partition))


@app.agent(call_inputs, name="places")
async def at_places(stream):
    """Location recurrence; calls about nobody decided here, calls about a person sent on to the person."""
    await batches(stream, app.stages.place_batch)


@app.agent(subject_inputs, name="subjects")
async def at_subjects(stream):
    """Each person's state; a decision (and maybe a referral suggestion) per call."""
    await batches(stream, app.stages.subject_batch)


@app.timer(interval=5.0, on_leader=False)
async def _probe_lag_now_and_then() -> None:
    await probe_lag()


async def probe_lag() -> None:
    """Lag of this worker's partitions, from faust's own read offsets and the broker's high waters (also run
    as soon as the worker is ready: readiness waits for a first lag)."""
    progress = app.progress
    if not app.startup_finished or app.rebalancing:
        progress.starting("rééquilibrage des partitions" if app.rebalancing else "le worker démarre")
        return
    mine = [(tp.topic, tp.partition) for tp in app.consumer.assignment() if tp.topic in CONSUMED]
    try:
        lag = await asyncio.get_running_loop().run_in_executor(None, app.group_lag, mine, dict(handled_at))
    except Exception as exc:  # noqa: BLE001 - lag unknown for now (broker busy, group rebalancing)
        # Readiness of the worker itself is faust's (started, not rebalancing): a lag that cannot be
        # measured for a moment must not turn a consuming worker "reconnecting".
        log.info("lag probe failed", extra={"error": reason_of(exc)[:200]})
        if progress.state == "starting":
            progress.progressed(0)
        return
    progress.lagging(lag, app.group_lag.oldest_waiting_s)


def advertised_host(host: str) -> str:
    return socket.gethostname() if host in ("0.0.0.0", "::", "") else host


def faust_brokers(bootstrap: str) -> list[str]:
    return [f"kafka://{h.strip()}" for h in bootstrap.split(",") if h.strip()]


def internal_topics(app_id: str) -> tuple[str, ...]:
    """The topics the worker creates itself, besides faust's changelogs."""
    return (T.TRIAGE_BY_SUBJECT.of(app_id).name,)


def build_app(settings: Settings, options: TriageOptions, ruleset: RulesetConfig) -> TriageApp:
    """The declared app, configured from the settings (before the worker starts it)."""
    if options.app_id != app.conf.id:
        raise ValueError(f"TRIAGE_APP_ID={options.app_id!r}, mais l'application faust de ce processus a l'id "
                         f"{app.conf.id!r} (lu à l'import de services.triage.bootstrap)")
    bootstrap = settings.kafka_bootstrap_servers or "localhost:9092"
    datadir = Path(settings.dyade_home) / "triage" / app.conf.id
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app.conf = app.Settings(
        app.conf.id, **FIXED, broker=faust_brokers(bootstrap),
        canonical_url=options.advertised_url or f"http://{advertised_host(settings.dyade_host)}:{settings.triage_port}",
        datadir=str(datadir), topic_partitions=settings.dyade_topic_partitions,
        topic_replication_factor=settings.dyade_topic_replication, broker_commit_interval=options.commit_interval,
        producer_linger=options.producer_linger)
    short_fetch_wait(app)
    app.ruleset = ruleset
    app.batch_max, app.batch_within = options.batch_max, options.batch_within
    app.progress = Progress("triage", app.conf.id, [T.CALLS_RECEIVED.name, T.CALLS_UPDATED.name,
                                                    *(t.name for t in PERSON_INPUTS)], Policy())
    app.group_lag = GroupLag(bootstrap, app.conf.id)
    app.stages = Stages(places=places, subjects=subjects, hand_off=by_subject, edge=Edge(app, app.progress),
                        index=index, ruleset=ruleset)
    return app
