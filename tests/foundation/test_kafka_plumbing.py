"""Kafka plumbing on the real embedded broker: producer, consumer loop, dead letters, topic creation."""
import threading
from datetime import datetime, timezone

import pytest
from kafka import KafkaConsumer, TopicPartition

from dyade.broker import EmbeddedBroker
from dyade.contracts import CallCategory, CallPayload, CallReceived, Location, decode
from dyade.contracts.topics import CALLS_RECEIVED, Topic
from dyade.kafka import BrokerUnreachable, ConsumerLoop, create_topics, make_producer, publish, wait_until


def a_call(call_id: str) -> CallReceived:
    return CallReceived.new(
        payload=CallPayload(call_id=call_id, nature_code="EMP", category=CallCategory.ETAT_MENTAL_PERTURBE,
                            location=Location(location_key="l_x")),
        occurred_at=datetime.now(timezone.utc), source="test", correlation_id=call_id)


def read_all(bootstrap: str, topic: str) -> list:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=1500)
    parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
    consumer.assign(parts)
    consumer.seek_to_beginning()
    records = list(consumer)
    consumer.close()
    return records


@pytest.fixture
def scratch_topic(broker, unique) -> Topic:
    """A fresh topic per test, shaped like calls.received.v2."""
    topic = Topic(f"test.{unique}.v1", "call_id", (CallReceived,), "scratch", partitions=2, dlq=True)
    create_topics(broker.bootstrap_servers, [topic])
    return topic


def test_consumer_loop_handles_events_and_dead_letters_the_rest(broker, scratch_topic, unique):
    producer = make_producer(broker.bootstrap_servers)
    events = [a_call(f"{unique}-{i}") for i in range(20)]
    for e in events[:10]:
        publish(producer, e, scratch_topic)
    producer.send(scratch_topic.name, key=b"bad", value=b"{not json")
    for e in events[10:]:
        publish(producer, e, scratch_topic)
    producer.flush()

    seen: list[str] = []
    loop = ConsumerLoop(broker.bootstrap_servers, f"g-{unique}", (scratch_topic,), lambda e: seen.append(e.payload.call_id),
                        service="test").start()
    try:
        wait_until(lambda: len(seen) == 20, timeout=30)
        wait_until(lambda: loop.dead_lettered == 1, timeout=10)
    finally:
        loop.stop()
    assert sorted(seen) == sorted(e.payload.call_id for e in events)
    dlq = read_all(broker.bootstrap_servers, scratch_topic.dlq_name)
    assert [r.value for r in dlq] == [b"{not json"]
    headers = dict(dlq[0].headers)
    assert b"JSON invalide" in headers["dlq.reason"]
    assert headers["dlq.source_topic"] == scratch_topic.name.encode()


def test_offsets_are_committed_only_after_the_handler_succeeds(broker, scratch_topic, unique):
    producer = make_producer(broker.bootstrap_servers)
    for i in range(5):
        publish(producer, a_call(f"{unique}-{i}"), scratch_topic)
    producer.flush()

    attempts: list[str] = []
    failing = threading.Event()
    failing.set()

    def handler(event):
        attempts.append(event.payload.call_id)
        if failing.is_set():
            raise RuntimeError("database unavailable")

    loop = ConsumerLoop(broker.bootstrap_servers, f"g-{unique}", (scratch_topic,), handler, service="test").start()
    try:
        wait_until(lambda: len(attempts) >= 2, timeout=30)
        assert loop.processed == 0  # nothing committed while the handler fails
        failing.clear()
        wait_until(lambda: loop.processed == 5, timeout=30)
    finally:
        loop.stop()
    # a new member of the same group starts after the committed offsets: nothing is redelivered
    again: list = []
    loop2 = ConsumerLoop(broker.bootstrap_servers, f"g-{unique}", (scratch_topic,), again.append, service="test").start()
    try:
        wait_until(loop2.ready.is_set, timeout=30)
        publish(producer, a_call(f"{unique}-late"), scratch_topic)
        producer.flush()
        wait_until(lambda: again, timeout=30)
    finally:
        loop2.stop()
    assert [e.payload.call_id for e in again] == [f"{unique}-late"]


def test_a_consumer_stops_rather_than_dead_letter_a_whole_stream(broker, scratch_topic, unique):
    producer = make_producer(broker.bootstrap_servers)
    for i in range(30):
        producer.send(scratch_topic.name, key=str(i).encode(), value=b"garbage")
    producer.flush()
    loop = ConsumerLoop(broker.bootstrap_servers, f"g-{unique}", (scratch_topic,), lambda e: None,
                        service="test").start()
    wait_until(lambda: loop.error is not None, timeout=30)
    assert "invalides" in str(loop.error)
    assert not loop.healthy


def test_publish_keys_by_the_topic_key(broker, unique):
    producer = make_producer(broker.bootstrap_servers)
    event = a_call(f"{unique}-k")
    meta = publish(producer, event).get(timeout=10)
    assert meta.topic == CALLS_RECEIVED.name
    ours = [r for r in read_all(broker.bootstrap_servers, CALLS_RECEIVED.name) if decode(r.value).event_id == event.event_id]
    assert ours and ours[0].key == event.payload.location.location_key.encode()  # calls are keyed by location
    assert dict(ours[0].headers)["type"] == b"call.received"


def test_create_topics_is_idempotent(broker, scratch_topic):
    assert create_topics(broker.bootstrap_servers, [scratch_topic]) == []


def test_unreachable_broker_is_a_clear_error():
    from dyade.broker import free_port
    with pytest.raises(BrokerUnreachable, match="aucun broker"):
        create_topics(f"127.0.0.1:{free_port()}")


def test_embedded_broker_starts_refuses_a_taken_port_and_stops(broker):
    with pytest.raises(Exception, match="déjà pris"):
        EmbeddedBroker(port=broker.port).start()
    b = EmbeddedBroker().start()
    assert b.running
    b.stop()
    assert not b.running
