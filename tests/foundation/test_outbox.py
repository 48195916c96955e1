"""The shared outbox relay (dyade.outbox) without a broker: rows go out in order, what the broker
acknowledged is marked sent even when a batch stops short, and the rest goes out on the next try."""
from types import SimpleNamespace

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, bindparam, create_engine, select
from sqlalchemy.orm import sessionmaker

from dyade.kafka import Record
from dyade.outbox import OutboxRelay

metadata = MetaData()
outbox = Table("test_outbox", metadata, Column("id", Integer, primary_key=True), Column("key", String(20)),
               Column("sent_at", DateTime(timezone=True)), Column("offset", Integer))


class Future:
    def __init__(self, offset: int | None):
        self.offset = offset

    def get(self, timeout=None):
        if self.offset is None:
            raise TimeoutError("broker away")
        return SimpleNamespace(topic="t", partition=0, offset=self.offset)


class Producer:
    def __init__(self, fail_from: int | None = None):
        self.sent: list[bytes] = []
        self.fail_from = fail_from

    def send(self, topic, key, value, headers):
        self.sent.append(key)
        failing = self.fail_from is not None and len(self.sent) > self.fail_from
        return Future(None if failing else len(self.sent) - 1)


class Relay(OutboxRelay):
    def __init__(self, sessions):
        super().__init__(sessions, "unused:9092", outbox, name="test", batch_size=10)
        self.seen: list[list[str]] = []

    def records(self, session, rows):
        return [Record("t", row.key.encode(), b"{}", []) for row in rows]

    def sent_values(self):
        return {"offset": bindparam("b_offset")}

    def on_sent(self, rows):
        self.seen.append([row.key for row in rows])


@pytest.fixture
def relay(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(outbox.insert(), [{"key": f"k{i}"} for i in range(5)])
    yield Relay(sessionmaker(engine))
    engine.dispose()


def marked(relay) -> list[tuple[str, int | None]]:
    with relay.sessions() as s:
        return [(r.key, r.offset) for r in s.execute(select(outbox).where(outbox.c.sent_at.is_not(None))
                                                      .order_by(outbox.c.id))]


def test_rows_go_out_in_order_and_are_marked_sent(relay):
    relay.producer = Producer()
    assert relay.relay_once() == 5 and relay.backlog() == 0
    assert relay.producer.sent == [f"k{i}".encode() for i in range(5)]
    assert marked(relay) == [(f"k{i}", i) for i in range(5)]
    assert relay.relay_once() == 0
    assert relay.seen == [[f"k{i}" for i in range(5)], []]  # [] : nothing was left to send


def test_a_batch_that_stops_short_keeps_what_was_acknowledged(relay):
    relay.producer = Producer(fail_from=2)
    with pytest.raises(TimeoutError):
        relay.relay_once()
    assert marked(relay) == [("k0", 0), ("k1", 1)] and relay.backlog() == 3
    relay.producer = Producer()
    assert relay.relay_once() == 3
    assert relay.producer.sent == [b"k2", b"k3", b"k4"]
    assert relay.seen == [["k0", "k1"], ["k2", "k3", "k4"]]


def test_a_relay_that_cannot_reach_the_broker_says_so_then_a_stopped_one_fails_liveness(tmp_path, monkeypatch):
    """What was accepted is safe in the database; /readyz says it waits for the broker (degraded), and a relay
    that no longer runs fails /healthz so that supervision restarts the service."""
    import dyade.outbox
    from dyade.broker import free_port
    from dyade.kafka import wait_until
    monkeypatch.setattr(dyade.outbox, "DEGRADED_AFTER_S", 0.5)
    engine = create_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(outbox.insert(), [{"key": f"k{i}"} for i in range(3)])
    relay = Relay(sessionmaker(engine))
    relay.bootstrap = f"127.0.0.1:{free_port('127.0.0.1')}"   # nothing listens there
    relay.start()
    try:
        health = wait_until(lambda: (h := relay.health())["state"] == "degraded" and h, timeout=60, interval=0.2)
        assert health["live"] and health["backlog"] == 3 and "3 événement(s) accepté(s) en attente" in health["message"]
    finally:
        relay.stop(timeout=1)
    not_running = Relay(sessionmaker(engine)).health()
    assert not_running["state"] == "stalled" and not_running["live"] is False
    engine.dispose()


held_outbox = Table("test_outbox_held", MetaData(), Column("id", Integer, primary_key=True),
                    Column("key", String(20)), Column("sent_at", DateTime(timezone=True)), Column("offset", Integer))


def test_a_relay_finding_the_outbox_held_by_another_replica_says_so_and_tries_again_soon(pg_url):
    """Another replica's batch holds the advisory lock: this relay sends nothing, and its loop waits a moment
    (HELD_RETRY_S), not the slow poll, before trying again — that batch may have been read before this
    process's commit; once the lock is free, the rows go out."""
    from sqlalchemy import text

    from dyade.outbox import HELD_RETRY_S
    engine = create_engine(pg_url)
    held_outbox.drop(engine, checkfirst=True)
    held_outbox.create(engine)
    try:
        with engine.begin() as conn:
            conn.execute(held_outbox.insert(), [{"key": f"k{i}"} for i in range(3)])
        relay = OutboxRelay(sessionmaker(engine), "unused:9092", held_outbox, name="test-held", lock_key=0x7E57,
                            idle_s=60.0)
        relay.records = lambda session, rows: [Record("t", row.key.encode(), b"{}", []) for row in rows]
        relay.producer = Producer()
        with engine.connect() as other:
            other.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": 0x7E57})   # the other replica's batch
            assert relay.relay_once() == 0 and relay.held_elsewhere and relay.producer.sent == []
            waits = []
            relay.stopping.wait = lambda s: (waits.append(s), relay.stopping.set())
            relay._run()   # one turn of the loop: held again, so a short wait
            assert waits == [HELD_RETRY_S] and HELD_RETRY_S < relay.idle_s
            other.rollback()
        assert relay.relay_once() == 3 and not relay.held_elsewhere
        assert relay.producer.sent == [b"k0", b"k1", b"k2"]
    finally:
        held_outbox.drop(engine)
        engine.dispose()
