"""The consumer kernel every kafka-python consumer of Dyade runs on (intake's raw topic, Info-social,
the notifier, analytics), in the spirit of Sentry's arroyo:

    poll → decode → handle (a batch, or one record at a time) → dead-letter what can never be handled
         → flush the producer → commit the offsets of what was handled.

Failures are classified once, here:
- *invalid* — cannot be decoded, or the handler says it can never apply (`Invalid`, a data error):
  dead-lettered at once with the original bytes and reason headers; the loop goes on.
- *failing* — any other error from the handler: retried with backoff a bounded number of times, then
  dead-lettered; never the same record forever.
- *infrastructure* — the broker or the database is away: nothing is committed, the partitions are rewound
  to the first record not handled and paused, and the loop reconnects and resumes. It never stops.

A consumer never stops itself because of what is in a topic. Its health (state, lag, last progress,
dead letters in the last five minutes) is what `/readyz`, `/healthz`, `dyade status` and the Prometheus
rules read.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from kafka import KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition
from kafka.errors import KafkaError
from prometheus_client import Counter, Gauge

from dyade.contracts import Event, EventError, Topic, decode as decode_event

log = logging.getLogger("dyade.consumer")

# Tansu and Kafka both honour these; they make a consumer group ready in seconds instead of ~30 s (a member
# hears of a rebalance at its next heartbeat).
FAST_GROUP = dict(session_timeout_ms=6000, heartbeat_interval_ms=2000, max_poll_interval_ms=60_000)
# The fetch wait. On Apache Kafka a waiting fetch returns as soon as data arrives: a long wait costs nothing.
# Tansu answers it only when the wait runs out (from 250 ms up, also at half of what remains), so there the
# wait is a hop's latency, and every answer costs the client and the broker ~2 ms of CPU (bench.idle). The
# consumers on the alert's path (a call from the CAD → triage → the dyad's device) wait little right after
# records and longer as the quiet lasts (`FetchPace`; the first call after a quiet spell waits at most half
# the idle wait per hop); the others (analytics, Info-social, the notifier's copy of the frames) always wait long.
# A request on a connection is answered after the fetch waiting before it (the lag probe's offsets, a
# heartbeat): no wait may exceed a third of the session timeout.
MAX_FETCH_WAIT_MS = FAST_GROUP["session_timeout_ms"] // 3
# Retrying failing records one by one may not outlast the poll interval, past which the member leaves its group,
# its commit fails and the same poll comes back for ever: what is done is committed and the rest polled again.
RETRY_BUDGET_S = FAST_GROUP["max_poll_interval_ms"] / 1000 / 2
RECONNECTED_AFTER_S = 60.0


def _capped(wait_ms: str) -> int:
    return max(1, min(int(wait_ms), MAX_FETCH_WAIT_MS))


FETCH_WAIT_MS = _capped(os.environ.get("DYADE_FETCH_WAIT_MS", "20"))
IDLE_FETCH_WAIT_MS = _capped(os.environ.get("DYADE_IDLE_FETCH_WAIT_MS", "500"))
BACKGROUND_FETCH_WAIT_MS = _capped(os.environ.get("DYADE_BACKGROUND_FETCH_WAIT_MS", "2000"))
IDLE_AFTER_S = float(os.environ.get("DYADE_IDLE_AFTER_S", "5"))
POLL_MIN_MS, POLL_MAX_MS = 200, 1000


@dataclass
class FetchPace:
    """How long the next fetch may wait at the broker: `busy_ms` right after records came, growing back to
    `idle_ms` over `idle_after_s` of quiet. Each record's wait follows how long the quiet before it lasted: in a
    burst the next call comes within a short wait; after a lone call the fetches thin out at once. (A wait held
    short for a minute after any record kept the platform at a fifth of a core with a call or two a minute:
    every alert-path consumer answered twenty times a second.)"""
    busy_ms: int
    idle_ms: int
    idle_after_s: float = IDLE_AFTER_S
    last_records_at: float = float("-inf")

    @classmethod
    def for_path(cls, on_alert_path: bool) -> "FetchPace":
        if on_alert_path:
            return cls(FETCH_WAIT_MS, max(FETCH_WAIT_MS, IDLE_FETCH_WAIT_MS))
        return cls(BACKGROUND_FETCH_WAIT_MS, BACKGROUND_FETCH_WAIT_MS)

    def saw_records(self, now: float) -> None:
        self.last_records_at = now

    def wait_ms(self, now: float) -> int:
        quiet = (now - self.last_records_at) / self.idle_after_s if self.idle_after_s > 0 else 1.0
        if quiet >= 1.0:
            return self.idle_ms
        return round(self.busy_ms + (self.idle_ms - self.busy_ms) * max(0.0, quiet))

    def poll_ms(self, now: float) -> int:
        """How long one `poll` may last: about one fetch (each poll round costs the client a few thread hand-offs,
        ~1 % of a core at 5 polls a second), between 200 ms and 1 s (the loop still turns for stop and
        liveness)."""
        return max(POLL_MIN_MS, min(self.wait_ms(now), POLL_MAX_MS))


LAG = Gauge("dyade_consumer_lag", "Records behind the end of the assigned partitions", ["service", "group"])
LAST_PROGRESS = Gauge("dyade_consumer_last_progress_timestamp_seconds",
                      "Unix time of the last commit, or of the last check that found nothing to do",
                      ["service", "group"])
CONNECTED = Gauge("dyade_consumer_connected", "1 while the consumer reaches the broker", ["service", "group"])
STALLED = Gauge("dyade_consumer_stalled", "1 when records wait but nothing was committed for the stall delay",
                ["service", "group"])
DEAD_LETTERS = Counter("dyade_consumer_dead_letters", "Records sent to a dead-letter topic",
                       ["service", "group", "kind"])
RETRIES = Counter("dyade_consumer_retries", "Handler attempts that failed and were retried", ["service", "group"])
RECONNECTS = Counter("dyade_consumer_reconnects", "Pauses for the broker or the database", ["service", "group"])


class Invalid(Exception):
    """Raised by a decoder or handler: this record can never be handled; dead-letter it with `reason`."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def is_infrastructure(exc: BaseException) -> bool:
    """The broker or the database is away (or timed out): pause and retry, never dead-letter."""
    from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout
    return isinstance(exc, (OperationalError, InterfaceError, DisconnectionError, PoolTimeout, KafkaError,
                            ConnectionError, TimeoutError))


def is_invalid(exc: BaseException) -> bool:
    """Retrying cannot help: the data itself is refused (bad value, NUL byte, impossible state)."""
    from pydantic import ValidationError
    from sqlalchemy.exc import DataError, StatementError
    if isinstance(exc, (Invalid, EventError, ValidationError, DataError)):
        return True
    return isinstance(exc, StatementError) and isinstance(exc.orig, (ValueError, UnicodeError))


def reason_of(exc: BaseException) -> str:
    """A reason for the dead-letter headers, without the SQL parameters a database error may carry."""
    if isinstance(exc, (Invalid, EventError)):
        return exc.reason
    orig = getattr(exc, "orig", None) or exc
    first = (str(orig).splitlines() or [""])[0]
    name = type(exc).__name__ if orig is exc else f"{type(exc).__name__} ({type(orig).__name__})"
    return f"{name}: {first}"[:1000]


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}: nombre de secondes attendu, pas {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name}: doit être positif ({raw!r})")
    return value


@dataclass
class Policy:
    """How hard to try. `stall_s`: records waiting and no commit for that long → stalled; `liveness_s`:
    the loop itself has not turned for that long → not alive (a supervisor should restart the process)."""
    max_attempts: int = 5
    first_retry_s: float = 0.2
    max_retry_s: float = 5.0
    max_pause_s: float = 10.0
    stall_s: float = field(default_factory=lambda: _seconds("DYADE_STALL_S", 60.0))
    # records waiting and no progress this long: /healthz fails, supervision restarts the service
    stuck_s: float = field(default_factory=lambda: _seconds("DYADE_STUCK_S", 120.0))
    liveness_s: float = field(default_factory=lambda: _seconds("DYADE_LIVENESS_S", 120.0))
    # waiting for partitions (a rebalance, the tables' recovery) this long: /healthz fails too — a faust worker
    # can stay "rebalancing" for good after a restart; generous, as recovering large tables takes minutes
    start_stuck_s: float = field(default_factory=lambda: _seconds("DYADE_START_STUCK_S", 900.0))
    dead_letter_alarm: int = 20   # dead letters in 5 minutes that turn /readyz degraded
    probe_every_s: float = 5.0


def _backoff(attempt: int, first: float, cap: float) -> float:
    return min(first * (2 ** attempt), cap)


@dataclass
class Item:
    """A decoded record: what the handler gets (`value`), and where it came from."""
    record: Any
    value: Any
    tombstone: bool = False


Decoder = Callable[[Any], Any]   # ConsumerRecord → value, or raise Invalid


def contract_decoder(topics: Iterable[Topic]) -> Decoder:
    """Decode a record with the event contracts its topic declares."""
    expected = {t.name: (t.events or None) for t in topics}

    def decode(record) -> Event:
        if record.value is None:
            raise Invalid("valeur vide (tombstone) inattendue sur ce topic")
        return decode_event(record.value, expected.get(record.topic))
    return decode


class Progress:
    """What a consumer reports about itself: state, lag, last progress, dead letters in the last five minutes,
    with its Prometheus series. The kernel's loop and triage's faust agents both keep one."""

    def __init__(self, service: str, group: str, topic_names: Iterable[str], policy: Policy):
        self.service, self.group, self.topic_names, self.policy = service, group, tuple(topic_names), policy
        self.state, self.error = "starting", None
        self.starting_since: float | None = time.time()
        self.processed = self.dead_lettered = 0
        self.lag: int | None = None
        self.lag_at: float | None = None          # when the lag was last measured
        self.partition_waiting_s = 0.0
        self.last_progress: float | None = None   # time.time()
        self._dead_letter_times: deque[float] = deque()
        self._labels = (service, group)
        CONNECTED.labels(*self._labels).set(0)

    def progressed(self, count: int = 0) -> None:
        self.processed += count
        self.last_progress = time.time()
        LAST_PROGRESS.labels(*self._labels).set(self.last_progress)
        if self.state != "running":
            self.state, self.error, self.starting_since = "running", None, None
            CONNECTED.labels(*self._labels).set(1)

    def pausing(self, exc: BaseException | str) -> None:
        self.state, self.error = "reconnecting", (exc if isinstance(exc, str) else reason_of(exc))[:300]
        CONNECTED.labels(*self._labels).set(0)
        RECONNECTS.labels(*self._labels).inc()
        log.warning("consumer paused; reconnecting", extra={"group": self.group, "error": self.error})

    def starting(self, why: str) -> None:
        if self.state != "starting" or self.starting_since is None:
            self.starting_since = time.time()
        self.state, self.error = "starting", why
        CONNECTED.labels(*self._labels).set(0)

    def lagging(self, lag: int, partition_waiting_s: float = 0.0) -> None:
        """`partition_waiting_s`: how long one partition has had records waiting without its committed offset
        moving (0 when the consumer cannot tell): past stuck_s, not live even while other partitions move."""
        self.lag, self.lag_at, self.partition_waiting_s = lag, time.time(), partition_waiting_s
        LAG.labels(*self._labels).set(lag)
        if lag == 0 or self.state != "running":
            self.progressed(0)

    def dead_lettered_one(self, kind: str) -> None:
        self.dead_lettered += 1
        self._dead_letter_times.append(time.time())
        DEAD_LETTERS.labels(*self._labels, kind).inc()

    def retried(self) -> None:
        RETRIES.labels(*self._labels).inc()

    def health(self, alive: bool = True) -> dict:
        """What /readyz shows for this consumer (French message for the operator)."""
        now = time.time()
        while self._dead_letter_times and now - self._dead_letter_times[0] > 300:
            self._dead_letter_times.popleft()
        recent = len(self._dead_letter_times)
        age = None if self.last_progress is None else round(now - self.last_progress, 1)
        state, message, live = self.state, "", True
        # a lag measured lately, records waiting, nothing handled: a loop that turns without moving (a handler
        # blocked for good, a partition never fetched) is restarted, as one that stopped
        fresh_lag = self.lag_at is not None and now - self.lag_at < max(30.0, 3 * self.policy.probe_every_s)
        if not alive:
            state, message, live = "stalled", "la boucle de consommation ne tourne plus (redémarrer le service)", False
        elif state == "reconnecting":
            message = f"broker ou base de données injoignable, reprise automatique ({self.error or ''})"[:300]
        elif state == "running" and fresh_lag and self.partition_waiting_s > self.policy.stuck_s:
            state, live = "stalled", False
            message = (f"une partition a des événements en attente sans avancer depuis "
                       f"{self.partition_waiting_s:.0f} s : bloqué, redémarrage du service requis")
        elif state == "running" and self.lag and age is not None and age > self.policy.stall_s:
            state, message = "stalled", f"{self.lag} événement(s) en attente, aucun progrès depuis {age:.0f} s"
            if fresh_lag and age > self.policy.stuck_s:
                live = False
                message += " : bloqué, redémarrage du service requis"
        elif state == "starting":
            message = self.error or "en attente de l'attribution des partitions"
            waited = now - self.starting_since if self.starting_since is not None else 0.0
            if waited > self.policy.start_stuck_s:
                live = False
                message += f" depuis {waited:.0f} s : bloqué, redémarrage du service requis"
        if state == "running" and recent >= self.policy.dead_letter_alarm:
            dlqs = ", ".join(f"{t}.dlq" for t in self.topic_names)
            state, message = "degraded", f"{recent} événement(s) en lettres mortes en 5 min (voir {dlqs})"
        STALLED.labels(*self._labels).set(1 if state == "stalled" else 0)
        return {"group": self.group, "state": state, "lag": self.lag, "last_progress_age_s": age,
                "dead_letters_last_5min": recent, "message": message or "ok", "live": live}


class Consumer:
    """One consumer group over some topics, in a thread.

    `handle(value)` handles one decoded record; `handle_batch(values)` (optional) a whole poll at once, in
    one transaction for example — if it fails for anything but infrastructure, the poll is handled again
    one record at a time, so that only the bad record is retried and dead-lettered. `on_tombstone(key)`
    handles records without a value on a compacted topic. Handlers must drop what they already handled
    (delivery is at least once: after a pause the partitions are rewound).
    """

    def __init__(self, bootstrap: str, group_id: str, topics: tuple[Topic, ...] | tuple[str, ...], *,
                 service: str, handle: Callable[[Any], None] | None = None, handle_batch: Callable[[list], None] | None = None,
                 on_tombstone: Callable[[bytes], None] | None = None, decoder: Decoder | None = None,
                 producer: KafkaProducer | None = None, policy: Policy | None = None, max_poll_records: int = 500,
                 on_alert_path: bool = False):
        if handle is None and handle_batch is None:
            raise ValueError("a consumer needs handle or handle_batch")
        self.bootstrap, self.group_id, self.service = bootstrap, group_id, service
        self.topic_names = tuple(t if isinstance(t, str) else t.name for t in topics)
        self.handle, self.handle_batch, self.on_tombstone = handle, handle_batch, on_tombstone
        self.decoder = decoder or contract_decoder([t for t in topics if not isinstance(t, str)])
        self.producer, self.policy, self.max_poll_records = producer, policy or Policy(), max_poll_records
        self.pace = FetchPace.for_path(on_alert_path)
        self.stop_event, self.ready = threading.Event(), threading.Event()
        self.thread: threading.Thread | None = None
        self.progress = Progress(service, group_id, self.topic_names, self.policy)
        self.last_turn = time.monotonic()
        self.dead_letter_sends: list = []
        self.out_of_time = False

    # --- life cycle ---------------------------------------------------------------------------------
    def start(self) -> "Consumer":
        self.thread = threading.Thread(target=self._run, name=f"consumer-{self.group_id}", daemon=True)
        self.thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        if self.thread:
            self.thread.join(timeout)

    @property
    def alive(self) -> bool:
        """The loop runs and has turned recently (a stuck handler or a dead thread is not alive)."""
        return (self.thread is not None and self.thread.is_alive()
                and time.monotonic() - self.last_turn < self.policy.liveness_s)

    @property
    def healthy(self) -> bool:
        return self.alive and self.health()["state"] == "running"

    @property
    def processed(self) -> int:
        return self.progress.processed

    @property
    def dead_lettered(self) -> int:
        return self.progress.dead_lettered

    def health(self) -> dict:
        return self.progress.health(alive=self.alive or self.thread is None)

    # --- the loop -----------------------------------------------------------------------------------
    def _run(self) -> None:
        attempt = 0
        while not self.stop_event.is_set():
            self.last_turn = started = time.monotonic()
            try:
                self._connected_session()
                return
            except Exception as exc:   # the broker went away under the consumer: build a new one
                if time.monotonic() - started > RECONNECTED_AFTER_S:
                    attempt = 0   # it ran well for a while: a new outage starts with a short pause
                self.progress.pausing(exc)
                self.stop_event.wait(_backoff(attempt, 0.5, self.policy.max_pause_s))
                attempt += 1

    def _connected_session(self) -> None:
        consumer = KafkaConsumer(
            *self.topic_names, bootstrap_servers=self.bootstrap, group_id=self.group_id, enable_auto_commit=False,
            auto_offset_reset="earliest", client_id=f"{self.service}-{self.group_id}",
            max_poll_records=self.max_poll_records, request_timeout_ms=10_000,
            fetch_max_wait_ms=self.pace.wait_ms(time.monotonic()), **FAST_GROUP)
        producer = self.producer or _producer(self.bootstrap, f"{self.service}-{self.group_id}")
        next_probe, pause_attempt, joined = 0.0, 0, time.monotonic()
        try:
            while not self.stop_event.is_set():
                self.last_turn = time.monotonic()
                # kafka-python reads its fetcher's config at each fetch request it builds
                consumer._fetcher.config["fetch_max_wait_ms"] = self.pace.wait_ms(self.last_turn)
                batch = consumer.poll(timeout_ms=self.pace.poll_ms(self.last_turn))
                if consumer.assignment() and not self.ready.is_set():
                    self.ready.set()
                    next_probe = 0.0
                elif not consumer.assignment() and self.progress.state == "starting" \
                        and time.monotonic() - joined > 15:
                    self.progress.progressed(0)   # a member with no partition (more members than partitions) is idle
                    self.ready.set()
                records = [r for part in batch.values() for r in part]
                if records:
                    self.pace.saw_records(time.monotonic())
                    done = self._handle_records(records, producer)
                    if done is not None:
                        producer.flush(timeout=10)
                        lost = self._dead_letter_lost()
                        if lost is not None:   # never committed past a record neither handled nor dead-lettered:
                            raise lost         # a new session (a new producer) reads this poll again
                        self._commit(consumer, done)
                    if done is not None and len(done) < len(records) and self.out_of_time:
                        self._rewind_and_pause(consumer, records, done, 0, pause=False)
                        continue   # the rest at the next poll, which keeps the member in its group
                    if done is None or len(done) < len(records):
                        self._rewind_and_pause(consumer, records, done or [], pause_attempt)
                        pause_attempt += 1
                        continue
                    pause_attempt = 0
                    self.progress.progressed(len(records))
                if time.monotonic() >= next_probe:
                    next_probe = time.monotonic() + self.policy.probe_every_s
                    self._probe(consumer)
        finally:
            CONNECTED.labels(self.service, self.group_id).set(0)
            consumer.close(autocommit=False)
            if self.producer is None:
                producer.close(timeout=5)

    def _probe(self, consumer: KafkaConsumer) -> None:
        """Lag of the assigned partitions; a broker that does not answer turns the state to reconnecting."""
        assigned = consumer.assignment()
        if not assigned:
            return
        try:
            timeout = 3000 + self.pace.idle_ms   # answered after the fetch in flight
            ends = consumer.end_offsets(list(assigned), timeout_ms=timeout)
            lag = sum(max(0, end - consumer.position(tp, timeout_ms=timeout)) for tp, end in ends.items())
        except KafkaError as exc:
            if self.progress.state != "reconnecting":
                self.progress.pausing(exc)
            return
        self.progress.lagging(lag)

    def _commit(self, consumer: KafkaConsumer, done: list) -> None:
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for record in done:
            tp = TopicPartition(record.topic, record.partition)
            if tp not in offsets or offsets[tp].offset <= record.offset:
                offsets[tp] = OffsetAndMetadata(record.offset + 1, "", -1)
        if offsets:
            consumer.commit(offsets, timeout_ms=10_000)

    def _dead_letter_lost(self) -> Exception | None:
        """Why a dead letter of this poll was not taken by the broker (after the flush), or None."""
        sends, self.dead_letter_sends = self.dead_letter_sends, []
        failed = next((f for f in sends if not f.is_done or f.failed()), None)
        if failed is None:
            return None
        return KafkaError(f"lettre morte non reçue par le broker: {failed.exception or 'pas de réponse'}")

    def _rewind_and_pause(self, consumer: KafkaConsumer, records: list, done: list, attempt: int,
                          pause: bool = True) -> None:
        """Infrastructure failed mid-poll: start again at the first record not handled, after a pause."""
        handled = {(r.topic, r.partition, r.offset) for r in done}
        first: dict[TopicPartition, int] = {}
        for r in records:
            if (r.topic, r.partition, r.offset) not in handled:
                tp = TopicPartition(r.topic, r.partition)
                first[tp] = min(first.get(tp, r.offset), r.offset)
        assigned = consumer.assignment()
        for tp, offset in first.items():
            if tp in assigned:
                consumer.seek(tp, offset)
        # Every partition waits, not only those that failed: a record polled while waiting would be dropped.
        if not pause:
            return
        consumer.pause(*assigned)
        deadline = time.monotonic() + _backoff(attempt, self.policy.first_retry_s * 2, self.policy.max_pause_s)
        while time.monotonic() < deadline and not self.stop_event.is_set():
            self.last_turn = time.monotonic()
            arrived = consumer.poll(timeout_ms=200)   # stays in the group while paused
            for tp, part in arrived.items():   # a partition a rebalance assigned meanwhile: read again later
                consumer.seek(tp, min(r.offset for r in part))
                consumer.pause(tp)
        consumer.resume(*consumer.assignment())

    # --- handling -----------------------------------------------------------------------------------
    def _handle_records(self, records: list, producer) -> list | None:
        """The records handled or dead-lettered, in order; shorter than `records` (or None) when the
        broker or the database failed: the rest is handled after a pause."""
        items: list[Item] = []
        done: list = []
        self.out_of_time = False
        deadline = time.monotonic() + RETRY_BUDGET_S
        for record in records:
            if record.value is None and self.on_tombstone is not None:
                items.append(Item(record, record.key, tombstone=True))
                continue
            try:
                items.append(Item(record, self.decoder(record)))
            except Exception as exc:
                if is_infrastructure(exc):
                    self.progress.pausing(exc)
                    return None
                self._dead_letter(producer, record, reason_of(exc), "invalid", 1)
        if self.handle_batch is not None and items and not any(i.tombstone for i in items):
            try:
                self.handle_batch([i.value for i in items])
                return list(records)
            except Exception as exc:
                if is_infrastructure(exc):
                    self.progress.pausing(exc)
                    return None
                log.warning("batch failed; handling one record at a time",
                            extra={"group": self.group_id, "error": reason_of(exc)[:200]})
        by_offset = {(i.record.topic, i.record.partition, i.record.offset) for i in items}
        for record in records:
            if (record.topic, record.partition, record.offset) not in by_offset:
                done.append(record)   # dead-lettered while decoding
                continue
            if done and time.monotonic() > deadline:   # retries took long: back to poll() before the group
                self.out_of_time = True                 # drops this member (and its work is done again)
                return done
            item = next(i for i in items if i.record is record)
            if not self._handle_one(item, producer):
                return done
            done.append(record)
        return done

    def _handle_one(self, item: Item, producer) -> bool:
        """Handle one record with bounded retries; False: infrastructure failed, pause and retry later."""
        for attempt in range(self.policy.max_attempts):
            try:
                if item.tombstone:
                    if item.value:
                        self.on_tombstone(item.value)
                elif self.handle_batch is not None and self.handle is None:
                    self.handle_batch([item.value])
                else:
                    self.handle(item.value)
                return True
            except Exception as exc:
                if is_infrastructure(exc):
                    self.progress.pausing(exc)
                    return False
                if is_invalid(exc):
                    self._dead_letter(producer, item.record, reason_of(exc), "invalid", attempt + 1)
                    return True
                self.progress.retried()
                log.warning("handler failed; retrying", extra={"group": self.group_id, "attempt": attempt + 1,
                                                               "error": reason_of(exc)[:200]})
                if attempt + 1 < self.policy.max_attempts:
                    self.last_turn = time.monotonic()
                    if self.stop_event.wait(_backoff(attempt, self.policy.first_retry_s, self.policy.max_retry_s)):
                        return False
                else:
                    self._dead_letter(producer, item.record, f"échec après {attempt + 1} tentatives: "
                                      f"{reason_of(exc)}", "failing", attempt + 1)
        return True

    def _dead_letter(self, producer, record, reason: str, kind: str, attempts: int) -> None:
        self.dead_letter_sends.append(dead_letter(
            producer, record.topic, record, reason, self.service,
            extra=[("dlq.kind", kind.encode()), ("dlq.attempts", str(attempts).encode()),
                   ("dlq.group", self.group_id.encode())]))
        self.progress.dead_lettered_one(kind)
        log.warning("record dead-lettered", extra={"topic": record.topic, "partition": record.partition,
                                                   "offset": record.offset, "kind": kind, "reason": reason[:200]})


def dead_letter_headers(record, reason: str, service: str, extra: Iterable[tuple[str, bytes]] = ()) -> list:
    """The record's own headers, then the reason and where it came from (one shape for every service)."""
    own = record.headers or []
    own = own.items() if isinstance(own, dict) else own
    return [(k, v) for k, v in own if not k.startswith("dlq.")] + [
        ("dlq.reason", reason.encode("utf-8", "replace")[:1000]),
        ("dlq.source_topic", record.topic.encode()),
        ("dlq.partition", str(record.partition).encode()),
        ("dlq.offset", str(record.offset).encode()),
        ("dlq.service", service.encode()),
        *extra,
    ]


# Room left for the dead letter's headers under a producer's max_request_size (1 MiB by default): a record the
# source topic took, with the headers added, could be too large for its dead-letter topic and block its partition.
DEAD_LETTER_MAX_VALUE = 1_048_576 - 64 * 1024


def dead_letter_record(record, reason: str, service: str,
                       extra: Iterable[tuple[str, bytes]] = ()) -> tuple[bytes | None, bytes | None, list]:
    """(key, value, headers) of a record's dead letter: its original bytes (cut, and said so, when they would
    not fit), the reason and where it came from."""
    value, extra = record.value, list(extra)
    if value is not None and len(value) + len(record.key or b"") > DEAD_LETTER_MAX_VALUE:
        extra.append(("dlq.truncated_from", str(len(value)).encode()))
        value = value[:DEAD_LETTER_MAX_VALUE - len(record.key or b"")]
    return record.key, value, dead_letter_headers(record, reason, service, extra)


def dead_letter(producer: KafkaProducer, topic: str, record, reason: str, service: str,
                extra: Iterable[tuple[str, bytes]] = ()):
    """Send the record's dead letter to `<topic>.dlq`."""
    key, value, headers = dead_letter_record(record, reason, service, extra)
    return producer.send(f"{topic}.dlq", key=key, value=value, headers=headers)


def _producer(bootstrap: str, client_id: str) -> KafkaProducer:
    from dyade.kafka import make_producer
    return make_producer(bootstrap, client_id=client_id)


def consumers_health(consumers: Iterable[Consumer]) -> list[dict]:
    return [c.health() for c in consumers if c is not None]
