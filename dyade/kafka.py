"""Kafka plumbing shared by the services (kafka-python): topics and producers. Consumers run on the
kernel in `dyade.consumer`."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Iterable, NamedTuple

from kafka import KafkaAdminClient, KafkaProducer
from kafka.errors import KafkaError, TopicAlreadyExistsError

from dyade.contracts import TOPICS, Event, Topic
from dyade.contracts.topics import all_topic_names

log = logging.getLogger("dyade.kafka")



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
