"""Kafka plumbing on the real embedded broker: producer, topic creation, the embedded broker."""
from datetime import datetime, timezone

import pytest
from kafka import KafkaConsumer, TopicPartition

from dyade.broker import EmbeddedBroker
from dyade.contracts import CallCategory, CallPayload, CallReceived, Location, decode
from dyade.contracts.topics import CALLS_RECEIVED, Topic
from dyade.kafka import BrokerUnreachable, create_topics, make_producer, publish


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


def test_publish_keys_by_the_topic_key(broker, unique):
    producer = make_producer(broker.bootstrap_servers)
    event = a_call(f"{unique}-k")
    meta = publish(producer, event).get(timeout=10)
    assert meta.topic == CALLS_RECEIVED.name
    # the topic is shared with the session's other tests, some of which put bad bytes on it on purpose
    ours = [r for r in read_all(broker.bootstrap_servers, CALLS_RECEIVED.name) if str(event.event_id).encode() in (r.value or b"")
            and decode(r.value).event_id == event.event_id]
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
