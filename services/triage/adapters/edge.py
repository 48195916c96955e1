"""The worker's edge: decode bytes into contract events (or dead-letter them with the reason) and
publish contract events as bytes keyed as their topic declares."""
from __future__ import annotations

import contextlib
import logging
from contextvars import ContextVar

import faust
from aiokafka.structs import TopicPartition

from dyade.contracts import Event, EventError, decode
from dyade.contracts.topics import Topic, topic_for
from dyade.consumer import Progress, dead_letter_record
from dyade.kafka import key_of
from services.triage.adapters.metrics import DEAD_LETTERS

log = logging.getLogger("dyade.triage")
SERVICE = "triage"
_OUTBOX: ContextVar[list | None] = ContextVar("triage_outbox", default=None)
# How long the producer's batches wait to fill follows what a batch of calls sends: a few records (calls trickling
# in, each alone on the alert's path) go after QUICK_LINGER_S; from BURST_RECORDS on, batches wait the configured
# linger (TRIAGE_PRODUCER_LINGER) and fill up — at 1 ms throughout, a backfill sent twice as many requests and the
# broker used twice the CPU per call (bench.triage: 89 → 183 µs).
QUICK_LINGER_S, BURST_RECORDS = 0.001, 24


class Edge:
    def __init__(self, app, progress: Progress | None = None):
        self.app, self.progress = app, progress
        self._topics: dict[str, object] = {}
        self._headers: dict[type, list] = {}
        self._known: set[str] = set()     # topics whose metadata the producer has

    def topic(self, name: str):
        if name not in self._topics:
            self._topics[name] = self.app.topic(name, key_serializer="raw", value_serializer="raw")
        return self._topics[name]

    async def dead_letter(self, message, reason: str, dlq_of: str | None = None, kind: str = "invalid") -> None:
        """Original bytes to `<topic>.dlq` with the headers every Dyade consumer writes."""
        source = dlq_of or message.topic
        key, value, headers = dead_letter_record(message, reason, SERVICE, [("dlq.kind", kind.encode()),
                                                                            ("dlq.group", self.app.conf.id.encode())])
        await self.topic(f"{source}.dlq").send(key=key, value=value, headers=headers)
        DEAD_LETTERS.labels(source).inc()
        if self.progress is not None:
            self.progress.dead_lettered_one(kind)
        log.warning("event dead-lettered", extra={"topic": message.topic, "offset": message.offset,
                                                  "kind": kind, "reason": reason[:200]})

    async def decode(self, message, expect: tuple[type[Event], ...]) -> Event | None:
        try:
            if message.value is None:
                raise EventError("valeur vide (tombstone) inattendue sur ce topic")
            return decode(message.value, expect)
        except EventError as exc:
            await self.dead_letter(message, exc.reason)
            return None

    async def publish(self, event: Event, topic: Topic | None = None, payload_json: bytes | None = None) -> None:
        """Hands the event to the producer without waiting for the broker: faust flushes the producer before
        it commits an input offset (at_least_once), so a kill -9 loses nothing, and the agent does not wait a
        broker round trip per record (bench.triage: 79 calls/s when it did). `payload_json`: its payload's JSON
        when the caller has it already (contracts' `payload_json_of`)."""
        topic = topic or topic_for(type(event))
        headers = self._headers.get(type(event))
        if headers is None:
            headers = self._headers[type(event)] = [("type", event.TYPE.encode()),
                                                    ("schema_version", str(event.VERSION).encode())]
        await self.send(topic.name, key_of(event, topic), event.to_bytes(payload_json), headers)

    async def send(self, topic: str, key: bytes | None, value: bytes | None, headers: list | None = None, *,
                   partition: int | None = None) -> None:
        """Bytes to the app's producer (faust's `app.producer`, what `Topic.send` ends in, without a channel's
        per-record future, callbacks and sensors), partitioned by key as faust's topics are when `partition` is
        None. Inside `outbox()` (a batch of records) they are kept and handed over together when it closes.
        Flushed by faust before it commits (consumer.commit → producer.flush)."""
        producer = self._producer
        if producer is None:  # an app without faust's producer (tests): through its topics
            extra = {} if partition is None else {"partition": partition}
            await self.topic(topic).send(key=key, value=value, headers=headers, **extra)
            return
        box = _OUTBOX.get()
        if box is not None:
            box.append((topic, partition, key, value, headers))
            return
        await producer.send(topic, key, value, partition, None, headers)

    @contextlib.asynccontextmanager
    async def outbox(self):
        """What is sent in the block goes to the producer when it ends, one record batch per topic partition
        (aiokafka's `create_batch`/`send_batch`, through faust's producer) instead of one `send` per record —
        one by one into the partition's waiting batch when it has one (the other agent's, say: a second batch
        would wait for the first to leave). The caller's task only (a context variable): the two agents'
        batches never mix. Delivery is what faust's commit waits for (producer.flush), as for any send."""
        token = _OUTBOX.set([])
        try:
            yield
        finally:
            box = _OUTBOX.get()
            _OUTBOX.reset(token)
            if box:
                await self._send_batches(box)

    async def _send_batches(self, box: list) -> None:
        producer = self._producer
        aio = producer._ensure_producer()   # faust's aiokafka producer (faust exposes no batch send)
        by_tp: dict[tuple[str, int], list] = {}
        for topic, partition, key, value, headers in box:
            if partition is None:
                if topic not in self._known:   # the partitioner needs the topic's metadata
                    await aio.client._wait_on_metadata(topic)
                    self._known.add(topic)
                partition = producer.key_partition(topic, key).partition
            records = by_tp.get((topic, partition))
            if records is None:
                by_tp[(topic, partition)] = [(key, value, headers)]
            else:
                records.append((key, value, headers))
        accumulator = aio._message_accumulator   # aiokafka reads its linger as each batch is created
        accumulator._linger_time = QUICK_LINGER_S if len(box) < BURST_RECORDS else self.app.conf.producer_linger
        pending = accumulator._batches
        for (topic, partition), records in by_tp.items():
            if pending.get(TopicPartition(topic, partition)):
                # a batch of this partition is still waiting for the sender: a new one would wait for it to
                # leave; the records go into it (or the next) one by one instead
                for key, value, headers in records:
                    await producer.send(topic, key, value, partition, None, headers)
                continue
            batch = aio.create_batch()
            for key, value, headers in records:
                if batch.append(key=key, value=value, timestamp=None, headers=headers or []) is None:
                    await aio.send_batch(batch, topic, partition=partition)   # full: the next one
                    batch = aio.create_batch()
                    if batch.append(key=key, value=value, timestamp=None, headers=headers or []) is None:
                        await producer.send(topic, key, value, partition, None, headers)  # larger than a batch
            if batch.record_count():
                await aio.send_batch(batch, topic, partition=partition)

    @property
    def _producer(self):
        return self.app.producer if isinstance(self.app, faust.App) else None
