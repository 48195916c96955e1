"""The consumer kernel (dyade.consumer) on the real embedded broker: invalid records dead-lettered at once,
failing ones after bounded retries, infrastructure failures paused and resumed, offsets committed only after
success, and a consumer that never stops because of what is in a topic."""
from __future__ import annotations

import threading
import time
import uuid

import pytest
from sqlalchemy.exc import OperationalError

from dyade.consumer import Consumer, Invalid, Policy
from dyade.contracts.topics import Topic
from dyade.contracts import CallReceived
from dyade.kafka import create_topics, make_producer, publish, wait_until
from tests.foundation.test_kafka_plumbing import a_call, read_all

FAST = Policy(max_attempts=3, first_retry_s=0.05, max_retry_s=0.2, max_pause_s=0.5, dead_letter_alarm=20)


@pytest.fixture
def scratch_topic(broker, unique) -> Topic:
    topic = Topic(f"test.{unique}.v1", "call_id", (CallReceived,), "scratch", partitions=2, dlq=True)
    create_topics(broker.bootstrap_servers, [topic])
    return topic


@pytest.fixture
def producer(broker):
    p = make_producer(broker.bootstrap_servers)
    yield p
    p.close(timeout=5)


def consumer(broker, topic, unique, **kw) -> Consumer:
    kw.setdefault("policy", FAST)
    return Consumer(broker.bootstrap_servers, f"g-{unique}", (topic,), service="test", **kw).start()


def dlq_headers(broker, topic) -> list[dict]:
    return [dict(r.headers) for r in read_all(broker.bootstrap_servers, topic.dlq_name)]


def test_undecodable_records_are_dead_lettered_with_their_bytes_and_the_rest_is_handled(broker, scratch_topic,
                                                                                         unique, producer):
    events = [a_call(f"{unique}-{i}") for i in range(20)]
    for e in events[:10]:
        publish(producer, e, scratch_topic)
    producer.send(scratch_topic.name, key=b"bad", value=b"{not json")
    producer.send(scratch_topic.name, key=b"nul", value=b"\x00\xff\xfe")
    for e in events[10:]:
        publish(producer, e, scratch_topic)
    producer.flush()
    seen: list[str] = []
    loop = consumer(broker, scratch_topic, unique, handle=lambda e: seen.append(e.payload.call_id))
    try:
        wait_until(lambda: len(seen) == 20 and loop.dead_lettered == 2, timeout=30)
    finally:
        loop.stop()
    assert sorted(seen) == sorted(e.payload.call_id for e in events)
    dlq = read_all(broker.bootstrap_servers, scratch_topic.dlq_name)
    assert sorted(r.value for r in dlq) == [b"\x00\xff\xfe", b"{not json"]
    for r in dlq:
        h = dict(r.headers)
        assert h["dlq.kind"] == b"invalid" and h["dlq.source_topic"] == scratch_topic.name.encode()
        assert h["dlq.reason"] and h["dlq.offset"].isdigit() and h["dlq.partition"].isdigit()


def test_a_record_that_keeps_failing_is_dead_lettered_after_bounded_retries(broker, scratch_topic, unique, producer):
    poison = a_call(f"{unique}-poison")
    good = [a_call(f"{unique}-{i}") for i in range(5)]
    for e in [poison, *good]:
        publish(producer, e, scratch_topic)
    producer.flush()
    attempts: dict[str, int] = {}
    handled: list[str] = []

    def handle(event):
        cid = event.payload.call_id
        attempts[cid] = attempts.get(cid, 0) + 1
        if cid == poison.payload.call_id:
            raise RuntimeError("bug in the handler")
        handled.append(cid)

    loop = consumer(broker, scratch_topic, unique, handle=handle)
    try:
        wait_until(lambda: len(handled) == 5 and loop.dead_lettered == 1, timeout=30)
        # still consuming (a rebalance on a loaded machine may show "starting" for a moment)
        wait_until(lambda: loop.health()["state"] == "running", timeout=30)
    finally:
        loop.stop()
    assert attempts[poison.payload.call_id] == FAST.max_attempts
    [h] = dlq_headers(broker, scratch_topic)
    assert h["dlq.kind"] == b"failing" and h["dlq.attempts"] == b"3" and b"RuntimeError" in h["dlq.reason"]


def test_a_batch_that_fails_is_handled_one_record_at_a_time(broker, scratch_topic, unique, producer):
    events = [a_call(f"{unique}-{i}") for i in range(8)]
    for e in events:
        publish(producer, e, scratch_topic)
    producer.flush()
    stored: list[str] = []
    bad = events[3].payload.call_id

    def handle_batch(batch):
        if any(e.payload.call_id == bad for e in batch):
            raise Invalid("valeur impossible")
        stored.extend(e.payload.call_id for e in batch)

    loop = consumer(broker, scratch_topic, unique, handle_batch=handle_batch)
    try:
        wait_until(lambda: len(stored) == 7 and loop.dead_lettered == 1, timeout=30)
    finally:
        loop.stop()
    assert bad not in stored


def test_infrastructure_failures_pause_without_dead_letter_nor_commit_then_resume(broker, scratch_topic, unique,
                                                                                   producer):
    for i in range(5):
        publish(producer, a_call(f"{unique}-{i}"), scratch_topic)
    producer.flush()
    down = threading.Event()
    down.set()
    attempts: list[str] = []

    def handle(event):
        attempts.append(event.payload.call_id)
        if down.is_set():
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("database away"))

    loop = consumer(broker, scratch_topic, unique, handle=handle)
    try:
        wait_until(lambda: len(attempts) >= 6, timeout=30)   # more attempts than records: retried, not dropped
        assert loop.processed == 0 and loop.dead_lettered == 0
        health = loop.health()
        assert health["state"] == "reconnecting" and "injoignable" in health["message"]
        down.clear()
        wait_until(lambda: loop.processed == 5, timeout=30)
        wait_until(lambda: loop.health()["state"] == "running", timeout=15)
    finally:
        loop.stop()
    assert loop.dead_lettered == 0
    # committed: a new member of the group gets only what comes next
    again: list[str] = []
    loop2 = consumer(broker, scratch_topic, unique, handle=lambda e: again.append(e.payload.call_id))
    try:
        wait_until(loop2.ready.is_set, timeout=30)
        publish(producer, a_call(f"{unique}-late"), scratch_topic)
        producer.flush()
        wait_until(lambda: again, timeout=30)
    finally:
        loop2.stop()
    assert again == [f"{unique}-late"]


def test_records_of_other_partitions_arriving_during_a_pause_are_not_lost(broker, scratch_topic, unique, producer):
    """The database fails on one partition's records; while the consumer waits to retry them, calls keep coming
    on the other partition: they are held back with the rest and handled once the database is back."""
    from dyade.kafka import record_of

    def send_to(partition: int, call_id: str) -> None:
        r = record_of(a_call(call_id), scratch_topic)
        producer.send(r.topic, key=r.key, value=r.value, headers=r.headers, partition=partition)
        producer.flush()

    down, handled = threading.Event(), []

    def handle(event):
        if down.is_set():
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("database away"))
        handled.append(event.payload.call_id)

    loop = consumer(broker, scratch_topic, unique, handle=handle, policy=Policy(
        max_attempts=3, first_retry_s=0.5, max_retry_s=1.0, max_pause_s=2.0, dead_letter_alarm=20))
    try:
        wait_until(loop.ready.is_set, timeout=30)
        down.set()
        send_to(0, f"{unique}-p0")
        wait_until(lambda: loop.health()["state"] == "reconnecting", timeout=30)
        during = [f"{unique}-p1-{i}" for i in range(8)]
        for call_id in during:   # arrive while the consumer waits to retry partition 0
            send_to(1, call_id)
            time.sleep(0.25)
        down.clear()
        wait_until(lambda: set(during) | {f"{unique}-p0"} <= set(handled), timeout=30)
    finally:
        loop.stop()
    assert loop.dead_lettered == 0


def test_retries_longer_than_the_poll_interval_commit_what_is_done_and_go_on(broker, scratch_topic, unique, producer,
                                                                           monkeypatch):
    """Five records that keep failing take ~10 s of retries, past the poll interval (6 s here, 60 s in
    production): the member would leave its group, its commit fail and the same poll come back for ever. Out of
    time, the kernel commits what it did and polls again: each record tried its 3 times and dead-lettered once."""
    import dyade.consumer as kernel
    from kafka import KafkaConsumer, TopicPartition
    monkeypatch.setattr(kernel, "FAST_GROUP", {**kernel.FAST_GROUP, "max_poll_interval_ms": 6000})
    monkeypatch.setattr(kernel, "RETRY_BUDGET_S", 3.0)
    from dyade.kafka import record_of
    for i in range(5):
        r = record_of(a_call(f"{unique}-poison-{i}"), scratch_topic)
        producer.send(r.topic, key=r.key, value=r.value, headers=r.headers, partition=0)
    r = record_of(a_call(f"{unique}-good"), scratch_topic)
    producer.send(r.topic, key=r.key, value=r.value, headers=r.headers, partition=0)
    producer.flush()
    attempts: dict[str, int] = {}

    def handle(event):
        call_id = event.payload.call_id
        attempts[call_id] = attempts.get(call_id, 0) + 1
        if "poison" in call_id:
            raise RuntimeError("bug in the handler")

    loop = consumer(broker, scratch_topic, unique, handle=handle, policy=Policy(
        max_attempts=3, first_retry_s=1.0, max_retry_s=1.0, max_pause_s=1.0, dead_letter_alarm=20))
    try:
        wait_until(lambda: attempts.get(f"{unique}-good"), timeout=60)
        time.sleep(2)
    finally:
        loop.stop()
    assert attempts == {**{f"{unique}-poison-{i}": 3 for i in range(5)}, f"{unique}-good": 1}
    assert loop.dead_lettered == 5 and len(dlq_headers(broker, scratch_topic)) == 5
    probe = KafkaConsumer(bootstrap_servers=broker.bootstrap_servers, group_id=f"g-{unique}", enable_auto_commit=False)
    assert probe.committed(TopicPartition(scratch_topic.name, 0)) == 6
    probe.close()


def test_a_dead_letter_the_broker_did_not_take_is_not_committed_over(broker, scratch_topic, unique, producer):
    """The send to the dead-letter topic failed: the offset stays, the record is read again and dead-lettered."""
    from dyade.kafka import make_producer

    class FirstDeadLetterFails:
        def __init__(self, inner):
            self.inner, self.failed = inner, False

        def send(self, topic, **kw):
            if topic.endswith(".dlq") and not self.failed:
                self.failed = True
                return _Failed()
            return self.inner.send(topic, **kw)

        def __getattr__(self, name):
            return getattr(self.inner, name)

    class _Failed:
        is_done, exception = True, RuntimeError("dead-letter topic unavailable")

        def failed(self):
            return True

    inner = make_producer(broker.bootstrap_servers)
    producer.send(scratch_topic.name, key=b"bad", value=b"{not json", partition=0)
    publish(producer, a_call(f"{unique}-after"), scratch_topic)
    producer.flush()
    seen: list[str] = []
    loop = consumer(broker, scratch_topic, unique, handle=lambda e: seen.append(e.payload.call_id),
                    producer=FirstDeadLetterFails(inner))
    try:
        wait_until(lambda: loop.dead_lettered == 2 and seen, timeout=30)
        wait_until(lambda: len(dlq_headers(broker, scratch_topic)) == 1, timeout=30)
    finally:
        loop.stop()
        inner.close(timeout=5)
    assert f"{unique}-after" in seen


def test_a_record_too_large_for_its_dead_letter_is_cut_not_left_blocking_its_partition(broker, scratch_topic, unique,
                                                                                       producer):
    """Just under the 1 MiB the source topic takes, plus the dead letter's headers, would be over it."""
    big = b"{" + b" " * 1_040_000 + b"}x"
    producer.send(scratch_topic.name, key=b"big", value=big, partition=0)
    from dyade.kafka import record_of
    r = record_of(a_call(f"{unique}-behind"), scratch_topic)
    producer.send(r.topic, key=r.key, value=r.value, headers=r.headers, partition=0)
    producer.flush()
    seen: list[str] = []
    loop = consumer(broker, scratch_topic, unique, handle=lambda e: seen.append(e.payload.call_id))
    try:
        wait_until(lambda: seen, timeout=30)
    finally:
        loop.stop()
    assert seen == [f"{unique}-behind"]
    [letter] = read_all(broker.bootstrap_servers, scratch_topic.dlq_name)
    headers = dict(letter.headers)
    assert headers["dlq.truncated_from"] == str(len(big)).encode() and big.startswith(letter.value)


def test_a_burst_of_garbage_degrades_health_but_never_stops_the_consumer(broker, scratch_topic, unique, producer):
    for i in range(30):
        producer.send(scratch_topic.name, key=str(i).encode(), value=b"garbage")
    producer.flush()
    seen: list[str] = []
    loop = consumer(broker, scratch_topic, unique, handle=lambda e: seen.append(e.payload.call_id))
    try:
        wait_until(lambda: loop.dead_lettered == 30, timeout=30)
        # (a rebalance on a loaded machine may show "starting" for a moment)
        health = wait_until(lambda: (h := loop.health())["state"] == "degraded" and h, timeout=30)
        assert health["dead_letters_last_5min"] == 30
        assert "lettres mortes" in health["message"]
        publish(producer, a_call(f"{unique}-after"), scratch_topic)
        producer.flush()
        wait_until(lambda: seen == [f"{unique}-after"], timeout=30)
        assert loop.alive
    finally:
        loop.stop()


def test_tombstones_go_to_their_handler_or_to_the_dead_letter_topic(broker, scratch_topic, unique, producer):
    producer.send(scratch_topic.name, key=b"k1", value=None)
    producer.flush()
    gone: list[bytes] = []
    loop = consumer(broker, scratch_topic, unique, handle=lambda e: None, on_tombstone=gone.append)
    try:
        wait_until(lambda: gone == [b"k1"], timeout=30)
    finally:
        loop.stop()
    loop = Consumer(broker.bootstrap_servers, f"g2-{unique}", (scratch_topic,), service="test",
                    handle=lambda e: None, policy=FAST).start()
    try:
        wait_until(lambda: loop.dead_lettered == 1, timeout=30)
    finally:
        loop.stop()


def test_health_reports_lag_and_progress(broker, scratch_topic, unique, producer):
    release = threading.Event()
    loop = consumer(broker, scratch_topic, unique, handle=lambda e: release.wait(30))
    try:
        wait_until(lambda: loop.health()["state"] == "running", timeout=30)
        health = loop.health()
        assert health["lag"] == 0 and health["last_progress_age_s"] is not None
    finally:
        release.set()
        loop.stop()


def test_a_loop_that_turns_without_moving_fails_liveness_once_stuck():
    """Records waiting (a lag measured lately) and nothing handled: stalled (/readyz 503) after stall_s,
    not live (/healthz 500, the supervisor restarts it) after stuck_s — but a lag measured long ago, or
    no lag at all, never fails liveness (an idle consumer, a lag probe that cannot reach the broker)."""
    import time as _time
    from dyade.consumer import Policy, Progress
    progress = Progress("test", f"stuck-{uuid.uuid4().hex[:6]}", ["t"], Policy(stall_s=10, stuck_s=60))
    progress.lagging(5)
    assert progress.health()["state"] == "running" and progress.health()["live"]
    progress.last_progress = _time.time() - 30
    assert progress.health()["state"] == "stalled" and progress.health()["live"]
    progress.last_progress = _time.time() - 90
    h = progress.health()
    assert h["state"] == "stalled" and not h["live"] and "redémarrage" in h["message"]
    progress.lag_at = _time.time() - 600          # the lag is old news: not a reason to restart
    assert progress.health()["live"]
    progress.lagging(0)                           # nothing waiting: idle, not stuck
    progress.last_progress = _time.time() - 900
    assert progress.health()["state"] == "running" and progress.health()["live"]


@pytest.mark.parametrize("state, code, live", [("running", 200, True), ("degraded", 200, True),
                                               ("starting", 503, True), ("reconnecting", 503, True),
                                               ("stalled", 503, True), ("stalled", 503, False)])
def test_readiness_and_liveness_of_a_service_follow_its_consumers(state, code, live):
    """A burst of dead letters is an alarm (`degraded`, still 200: a worker replaying old poison records keeps
    serving); a consumer starting, reconnecting or stalled is not ready; only one that is not live fails /healthz."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from dyade.observability import health_router
    app = FastAPI()
    loop = {"group": "g", "state": state, "lag": 3, "last_progress_age_s": 1.0, "dead_letters_last_5min": 0,
            "message": "…", "live": live}
    app.include_router(health_router("essai", {}, consumers=lambda: [loop]))
    client = TestClient(app)
    ready = client.get("/readyz")
    assert ready.status_code == code and ready.json()["status"] == ("ok" if state == "running" else "degraded")
    assert client.get("/healthz").status_code == (200 if live else 500)


def test_a_consumer_waiting_for_its_partitions_for_too_long_fails_liveness():
    """Starting (a rebalance, the tables' recovery) is normal for a while; for longer than start_stuck_s it is
    a worker that will not come back by itself (a faust worker can stay "rebalancing" for good after a restart)."""
    import time as _time
    from dyade.consumer import Policy, Progress
    progress = Progress("test", f"start-{uuid.uuid4().hex[:6]}", ["t"], Policy(start_stuck_s=60))
    assert progress.health()["state"] == "starting" and progress.health()["live"]
    progress.starting("rééquilibrage des partitions")
    progress.starting_since = _time.time() - 30
    progress.starting("rééquilibrage des partitions")   # asked again: the wait is not reset
    assert progress.health()["live"] and progress.starting_since < _time.time() - 29
    progress.starting_since = _time.time() - 90
    h = progress.health()
    assert h["state"] == "starting" and not h["live"] and "redémarrage" in h["message"]
    progress.progressed(0)
    assert progress.health()["live"] and progress.starting_since is None


def test_one_partition_left_behind_fails_liveness_while_the_others_move():
    import time as _time
    from dyade.consumer import Policy, Progress
    progress = Progress("test", f"part-{uuid.uuid4().hex[:6]}", ["t"], Policy(stuck_s=60))
    progress.lagging(3, partition_waiting_s=30)
    progress.progressed(5)                     # other partitions go on
    assert progress.health()["live"]
    progress.lagging(3, partition_waiting_s=75)
    progress.progressed(5)
    h = progress.health()
    assert h["state"] == "stalled" and not h["live"] and "partition" in h["message"]
    progress.lag_at = _time.time() - 600      # measured long ago: no reason to restart
    assert progress.health()["live"]


def test_the_alert_path_waits_little_right_after_records_and_long_again_as_the_quiet_lasts():
    from dyade.consumer import FetchPace
    pace = FetchPace(busy_ms=50, idle_ms=500, idle_after_s=5)
    assert pace.wait_ms(now=1000.0) == 500          # nothing seen yet: idle
    pace.saw_records(1000.0)
    assert pace.wait_ms(now=1000.0) == 50           # in a burst: the next record soon
    assert pace.wait_ms(now=1000.05) == 54
    assert pace.wait_ms(now=1002.5) == 275          # the quiet lasts: fewer fetches
    assert pace.wait_ms(now=1005.0) == pace.wait_ms(now=1060.0) == 500
    background = FetchPace.for_path(on_alert_path=False)
    background.saw_records(0.0)
    assert background.wait_ms(0.0) == background.wait_ms(10_000.0) >= FetchPace.for_path(True).busy_ms


def test_a_poll_lasts_about_one_fetch_between_a_fifth_of_a_second_and_a_second():
    from dyade.consumer import FetchPace
    pace = FetchPace(busy_ms=50, idle_ms=500, idle_after_s=5)
    assert pace.poll_ms(now=0.0) == 500             # idle: one poll per fetch
    pace.saw_records(0.0)
    assert pace.poll_ms(now=1.0) == 200             # busy: a poll still gathers a few fetches
    assert FetchPace(busy_ms=2000, idle_ms=2000).poll_ms(now=0.0) == 1000   # the loop turns every second


def test_the_pace_reaches_the_fetch_requests_the_clients_build(broker, scratch_topic, unique, producer):
    """The kernel (and triage's transport) set the fetcher's wait between polls: kafka-python and aiokafka
    must read it when they build each fetch request, and a consumer on the alert path turns busy on records."""
    import inspect

    import aiokafka.consumer.fetcher as aiokafka_fetcher
    import kafka.consumer.fetcher as kafka_fetcher
    assert "max_wait_ms=self.config['fetch_max_wait_ms']" in inspect.getsource(kafka_fetcher.Fetcher)
    assert "self._fetch_max_wait_ms," in inspect.getsource(aiokafka_fetcher.Fetcher._get_actions_per_node)
    seen: list[str] = []
    loop = consumer(broker, scratch_topic, unique, handle=lambda e: seen.append(e.payload.call_id),
                    on_alert_path=True)
    try:
        publish(producer, a_call(f"{unique}-0"), scratch_topic)
        producer.flush()
        wait_until(lambda: seen, timeout=30)
    finally:
        loop.stop()
    assert loop.pace.wait_ms(loop.pace.last_records_at) == loop.pace.busy_ms < loop.pace.idle_ms   # it saw them
