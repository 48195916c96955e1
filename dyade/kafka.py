"""Kafka plumbing shared by the services (kafka-python): topics, producers, and a consumer loop that
decodes, hands each event to a handler, dead-letters what cannot be decoded and commits only after
the handler has succeeded (at-least-once; handlers drop duplicates by event id)."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable, NamedTuple

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError, TopicAlreadyExistsError

from dyade.contracts import TOPICS, Event, EventError, Topic, decode
from dyade.contracts.topics import all_topic_names

log = logging.getLogger("dyade.kafka")

# Tansu and Kafka both honour these; they make a consumer group ready in seconds instead of ~30 s.
FAST_GROUP = dict(session_timeout_ms=6000, heartbeat_interval_ms=500, max_poll_interval_ms=60_000)


class BrokerUnreachable(RuntimeError):
    """No broker answered at the configured bootstrap servers; the message is meant for the user."""


def admin(bootstrap: str, timeout_ms: int = 5000) -> KafkaAdminClient:
    try:
        return KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms,
                                bootstrap_timeout_ms=timeout_ms, client_id="dyade-admin")
    except (KafkaError, ValueError) as exc:
        raise BrokerUnreachable(f"aucun broker Kafka ne répond à {bootstrap!r}: {exc}") from exc


@dataclass(frozen=True)
class TopicSpec:
    """What `create_topics` asks the broker for: one topic, with its partitions, replication and config."""
    name: str
    partitions: int
    replication: int
    config: dict[str, str]


def topic_specs(topics: Iterable[Topic] = TOPICS, *, partitions: int | None = None,
                replication: int = 1) -> list[TopicSpec]:
    """The declared topics and their dead-letter topics as created on a cluster (deploy/kafka/topics.yaml
    is this list at the production replication factor; a test keeps them equal)."""
    from dyade.contracts.topics import DLQ_CONFIG, DLQ_PARTITIONS, with_min_insync
    specs: list[TopicSpec] = []
    for t in topics:
        specs.append(TopicSpec(t.name, partitions or t.partitions, replication, t.config_for(replication)))
        if t.dlq:
            specs.append(TopicSpec(t.dlq_name, DLQ_PARTITIONS, replication, with_min_insync(DLQ_CONFIG, replication)))
    return specs


def create_topics(bootstrap: str, topics: Iterable[Topic] = TOPICS, *, partitions: int | None = None,
                  replication: int = 1) -> list[str]:
    """Create the declared topics (and their dead-letter topics) that do not exist yet."""
    from kafka.admin import NewTopic
    client = admin(bootstrap)
    try:
        existing = set(client.list_topics())
        wanted = [NewTopic(s.name, s.partitions, s.replication, topic_configs=s.config)
                  for s in topic_specs(topics, partitions=partitions, replication=replication)
                  if s.name not in existing]
        for nt in wanted:  # one at a time: an existing topic must not fail the others
            try:
                client.create_topics([nt])
            except TopicAlreadyExistsError:
                pass
        return [nt.name for nt in wanted]
    finally:
        client.close()


def missing_topics(bootstrap: str) -> list[str]:
    client = admin(bootstrap)
    try:
        existing = set(client.list_topics())
    finally:
        client.close()
    return [n for n in all_topic_names() if n not in existing]


def make_producer(bootstrap: str, **kw) -> KafkaProducer:
    """An idempotent producer with acks=all: a retried send is never written twice."""
    opts = dict(acks="all", enable_idempotence=True, linger_ms=5, retries=2_147_483_647,
                max_in_flight_requests_per_connection=5, request_timeout_ms=10_000,
                client_id="dyade-producer")
    opts.update(kw)
    try:
        return KafkaProducer(bootstrap_servers=bootstrap, **opts)
    except (KafkaError, ValueError) as exc:
        raise BrokerUnreachable(f"aucun broker Kafka ne répond à {bootstrap!r}: {exc}") from exc


def key_of(event: Event, topic: Topic) -> bytes:
    payload = event.payload
    value = getattr(payload, topic.key, None) or event.correlation_id
    return str(value).encode()


class Record(NamedTuple):
    """What `producer.send` gets: topic, key, value (None: a tombstone) and headers."""
    topic: str
    key: bytes
    value: bytes | None
    headers: list[tuple[str, bytes]]


def record_of(event: Event, topic: Topic | None = None) -> Record:
    """An event as a record on its topic, keyed as the topic declares."""
    from dyade.contracts import topic_for
    topic = topic or topic_for(type(event))
    return Record(topic.name, key_of(event, topic), event.to_bytes(),
                  [("type", event.TYPE.encode()), ("schema_version", str(event.VERSION).encode())])


def send(producer: KafkaProducer, record: Record):
    return producer.send(record.topic, key=record.key, value=record.value, headers=record.headers)


def publish(producer: KafkaProducer, event: Event, topic: Topic | None = None):
    """Send an event to its topic, keyed as the topic declares. Returns the send future."""
    return send(producer, record_of(event, topic))


def dead_letter(producer: KafkaProducer, topic: str, record, reason: str, service: str):
    """Send the original bytes to `<topic>.dlq` with the reason in headers."""
    headers = list(record.headers or []) + [
        ("dlq.reason", reason.encode("utf-8", "replace")[:1000]),
        ("dlq.source_topic", record.topic.encode()),
        ("dlq.partition", str(record.partition).encode()),
        ("dlq.offset", str(record.offset).encode()),
        ("dlq.service", service.encode()),
    ]
    return producer.send(f"{topic}.dlq", key=record.key, value=record.value, headers=headers)


Handler = Callable[[Event], None]
RecordHandler = Callable[[list, KafkaProducer], None]


class RecordLoop:
    """One consumer group over some topics, run in a thread: poll → `on_records(records, producer)` →
    flush the producer → commit. Offsets are committed only after `on_records` returned.

    `restart_on_error`: a loop that fails (broker unreachable at start, lost) starts again after a pause
    instead of stopping; `error` holds the last failure while it retries.
    """

    def __init__(self, bootstrap: str, group_id: str, topic_names: tuple[str, ...], on_records: RecordHandler,
                 service: str, *, producer: KafkaProducer | None = None, restart_on_error: bool = False,
                 max_poll_records: int = 500):
        self.bootstrap, self.group_id, self.topic_names = bootstrap, group_id, topic_names
        self.on_records, self.service, self.producer = on_records, service, producer
        self.restart_on_error, self.max_poll_records = restart_on_error, max_poll_records
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.processed = 0

    def start(self):
        self.thread = threading.Thread(target=self._run, name=f"consumer-{self.group_id}", daemon=True)
        self.thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        if self.thread:
            self.thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    @property
    def healthy(self) -> bool:
        return self.alive and self.error is None

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self._loop()
                return
            except BaseException as exc:  # surfaced by /readyz
                self.error = exc
                if not self.restart_on_error:
                    log.exception("consumer loop stopped", extra={"group": self.group_id})
                    return
                log.warning("consumer loop failed; restarting",
                            extra={"group": self.group_id, "error": f"{type(exc).__name__}: {exc}"[:300]})
                self.stop_event.wait(2.0)

    def _loop(self) -> None:
        consumer = KafkaConsumer(
            *self.topic_names, bootstrap_servers=self.bootstrap, group_id=self.group_id, enable_auto_commit=False,
            auto_offset_reset="earliest", client_id=f"{self.service}-{self.group_id}",
            max_poll_records=self.max_poll_records, **FAST_GROUP)
        producer = self.producer or make_producer(self.bootstrap, client_id=f"{self.service}-{self.group_id}")
        try:
            while not self.stop_event.is_set():
                batch = consumer.poll(timeout_ms=200)
                if consumer.assignment():
                    self.ready.set()
                    self.error = None
                if not batch:
                    continue
                records = [r for part in batch.values() for r in part]
                self.on_records(records, producer)
                producer.flush()
                consumer.commit()
                self.processed += len(records)
        finally:
            consumer.close()
            if self.producer is None:
                producer.close(timeout=5)


class ConsumerLoop(RecordLoop):
    """A RecordLoop that decodes events: decode → handler → commit (at least once; handlers drop duplicates
    by event id).

    An event that cannot be decoded goes to its topic's dead-letter topic and the loop goes on; if more
    than `max_bad_share` of a batch is bad, the loop stops rather than dead-letter a whole stream. A handler
    that raises is retried with backoff (offsets not committed). On a compacted topic, `on_tombstone`
    receives the key of each tombstone (a record with no value); without it a tombstone is dead-lettered.
    """

    def __init__(self, bootstrap: str, group_id: str, topics: tuple[Topic, ...], handler: Handler, service: str,
                 producer: KafkaProducer | None = None, max_bad_share: float = 0.5,
                 batch_handler: Callable[[list[Event]], None] | None = None,
                 on_tombstone: Callable[[bytes], None] | None = None):
        super().__init__(bootstrap, group_id, tuple(t.name for t in topics), self._decode_and_handle, service,
                         producer=producer)
        self.topics, self.handler, self.batch_handler = topics, handler, batch_handler
        self.max_bad_share, self.on_tombstone = max_bad_share, on_tombstone
        self.expected = {t.name: t.events for t in topics}
        self.dead_lettered = 0

    def _decode_and_handle(self, records: list, producer: KafkaProducer) -> None:
        events: list[Event] = []
        tombstones: list[bytes] = []
        bad = 0
        for record in records:
            if record.value is None and self.on_tombstone is not None:
                if record.key:
                    tombstones.append(record.key)
                continue
            try:
                if record.value is None:
                    raise EventError("valeur vide (tombstone) inattendue sur ce topic")
                events.append(decode(record.value, self.expected[record.topic] or None))
            except EventError as exc:
                bad += 1
                dead_letter(producer, record.topic, record, exc.reason, self.service)
                self.dead_lettered += 1
                log.warning("event dead-lettered", extra={"topic": record.topic, "offset": record.offset,
                                                          "reason": exc.reason[:200]})
        if len(records) >= 10 and bad / len(records) > self.max_bad_share:
            producer.flush()
            raise RuntimeError(f"{bad}/{len(records)} événements invalides: arrêt du consommateur {self.group_id}")
        self._retrying(lambda: self._deliver(events, tombstones))

    def _deliver(self, events: list[Event], tombstones: list[bytes]) -> None:
        if self.batch_handler:
            self.batch_handler(events)
        else:
            for e in events:
                self.handler(e)
        for key in tombstones:
            self.on_tombstone(key)

    def _retrying(self, step: Callable[[], None]) -> None:
        delay = 0.2
        while True:
            try:
                step()
                return
            except Exception:
                if self.stop_event.is_set():
                    raise
                log.exception("handler failed; retrying", extra={"group": self.group_id})
                self.stop_event.wait(delay)
                delay = min(delay * 2, 10.0)


def wait_until(predicate: Callable[[], object], timeout: float = 20.0, interval: float = 0.05):
    """Poll until predicate() is truthy (tests and readiness checks). Returns its value or raises TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        time.sleep(interval)
