"""Test fixtures shared by every service's tests and the cross-service tests (a pytest plugin, loaded
by the root conftest.py): one real Tansu broker per test session, one fresh PostgreSQL database per
test session, tokens by role, readers of a topic from its beginning."""
from __future__ import annotations

import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from dyade.auth import issue_token
from dyade.broker import EmbeddedBroker
from dyade.contracts import Event, Topic, decode
from dyade.db import scratch_database
from dyade.kafka import create_topics, wait_until
from dyade.settings import Settings

T = TypeVar("T")

@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    """A real Tansu broker for the whole session, with every declared topic created."""
    log = tmp_path_factory.mktemp("tansu") / "tansu.log"
    with EmbeddedBroker(log_path=log) as b:
        create_topics(b.bootstrap_servers)
        yield b


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new PostgreSQL database migrated to every service's head; dropped afterwards."""
    url, drop = scratch_database("dyade_test")
    try:
        yield url
    finally:
        drop()


@pytest.fixture(scope="session")
def pg_url():
    """A fresh PostgreSQL database for this session, migrated to every service's head; dropped after."""
    with fresh_database() as url:
        yield url


@pytest.fixture(scope="session")
def dyade_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("dyade-home")


@pytest.fixture(scope="session")
def settings(broker, pg_url, dyade_home) -> Settings:
    """Settings pointing at the session's broker and database (ports chosen free per service)."""
    from dyade.broker import free_port
    return Settings(kafka_bootstrap_servers=broker.bootstrap_servers, database_url=pg_url, dyade_home=dyade_home,
                    dyade_pseudonym_key="test-pseudonym-key-0123456789abcdef", dyade_token_secret="test-token-secret-0123456789abcdefghij",
                    intake_port=free_port(), triage_port=free_port(), infosocial_port=free_port(),
                    notifier_port=free_port(), analytics_port=free_port(), _env_file=None)


@pytest.fixture(scope="session")
def token(settings):
    """token(role, subject="tester", **claims) -> bearer header dict."""
    def make(role: str, subject: str = "tester", **claims) -> dict[str, str]:
        return {"Authorization": "Bearer " + issue_token(settings.dyade_token_secret, subject=subject, role=role, **claims)}
    return make


@pytest.fixture
def unique() -> str:
    """A short unique prefix for ids, so tests sharing the session's broker and database never collide."""
    return uuid.uuid4().hex[:8]


class TopicReader:
    """Reads a topic from the beginning, every partition, without a consumer group (nothing shared with
    other tests). `records` holds every record read so far; `events` the ones that decode."""

    def __init__(self, bootstrap: str, topic: Topic | str, timeout: float = 30):
        name = topic.name if isinstance(topic, Topic) else topic
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                      client_id="dyade-test-reader")
        partitions = wait_until(lambda: self.consumer.partitions_for_topic(name), timeout=timeout)
        self.consumer.assign([TopicPartition(name, p) for p in sorted(partitions)])
        self.consumer.seek_to_beginning()
        self.records: list[ConsumerRecord] = []
        self._events: list[Event] = []

    def poll(self) -> list[ConsumerRecord]:
        """Reads what is new; returns every record read so far."""
        for records in self.consumer.poll(timeout_ms=300).values():
            self.records.extend(records)
            for record in records:
                try:
                    self._events.append(decode(record.value))
                except Exception:  # a tombstone, a dead letter, a test's bad bytes
                    pass
        return self.records

    def events(self, accept: Callable[[Event], object] = lambda e: True) -> list[Event]:
        """Reads what is new; returns the events read so far that `accept` keeps."""
        self.poll()
        return [e for e in self._events if accept(e)]

    def wait(self, predicate: Callable[[list[Event]], T], timeout: float = 60) -> T:
        """Reads until predicate(every event read so far) is truthy; returns that value."""
        return wait_until(lambda: predicate(self.events()), timeout=timeout, interval=0.05)

    def wait_for(self, accept: Callable[[Event], object], count: int = 1, timeout: float = 60) -> list[Event]:
        """Reads until `accept` keeps `count` events; returns all it keeps."""
        return self.wait(lambda events: at_least(count, [e for e in events if accept(e)]), timeout)

    def wait_for_records(self, accept: Callable[[ConsumerRecord], object], count: int = 1,
                         timeout: float = 60) -> list[ConsumerRecord]:
        """The same as `wait_for`, over the records as they are (tombstones, dead letters, headers)."""
        return wait_until(lambda: at_least(count, [r for r in self.poll() if accept(r)]), timeout=timeout,
                          interval=0.05)

    def close(self) -> None:
        self.consumer.close()


def at_least(count: int, items: list) -> list | None:
    return items if len(items) >= count else None


def keyed(*keys: str) -> Callable[[ConsumerRecord], bool]:
    """Accepts the records with one of these keys."""
    wanted = {k.encode() for k in keys}
    return lambda record: record.key in wanted


@pytest.fixture
def reader(broker):
    """reader(topic) -> a TopicReader on the session's broker, closed after the test."""
    opened: list[TopicReader] = []

    def make(topic: Topic | str) -> TopicReader:
        opened.append(TopicReader(broker.bootstrap_servers, topic))
        return opened[-1]
    yield make
    for r in opened:
        r.close()


def no_server_errors(openapi: dict, call, *, examples: int, skip: tuple[str, ...] = ()) -> int:
    """A bounded, reproducible schemathesis run over a service's OpenAPI: `call(case, n)` sends the n-th
    generated request and returns the response. Whatever is sent, no 5xx, and every 4xx says what is wrong
    in `detail`. Returns how many requests were sent."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    schema = schemathesis.openapi.from_dict(openapi)
    failures: list[str] = []
    seen = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in skip:
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            nonlocal seen
            seen += 1
            response = call(case, seen)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.body!r:.200} -> "
                                f"{response.status_code} {response.text[:200]}")
            elif response.status_code >= 400 and not response.json().get("detail"):
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code} sans détail")
        run()
    assert not failures, "\n".join(failures[:10])
    return seen
