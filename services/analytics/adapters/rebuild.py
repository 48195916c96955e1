"""Rebuild analytics' state by replaying its topics from the start.

A consumer of its own (no group: assign + seek to beginning) reads every partition up to the end offsets
taken after the tables were emptied; the live group's offsets are not touched. Events the live consumer
stores meanwhile are kept (the tables are emptied first) and those in both are dropped by event id.

It is also the repair path of analytics_0002: every row is written again by today's code, so instants are
UTC (a SQLite row of the earlier code kept the source's wall time without its offset) and each call gets
its processing time (`ingested_at`, the `produced_at` its event still carries in the topic).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from dyade.contracts import EventError, decode
from dyade.db import unit_of_work
from services.analytics.adapters import store
from services.analytics.adapters.store import TOPICS

Progress = Callable[[int, int], None]  # (records read so far, records to read)


@dataclass
class RebuildResult:
    records: int = 0
    stored: int = 0
    undecodable: int = 0
    seconds: float = 0.0


def partitions(consumer: KafkaConsumer, topics=TOPICS) -> list[TopicPartition]:
    parts = []
    for t in topics:
        for p in sorted(consumer.partitions_for_topic(t.name) or ()):
            parts.append(TopicPartition(t.name, p))
    return parts


def open_replay(bootstrap: str, topics=TOPICS, **kw) -> tuple[KafkaConsumer, dict[TopicPartition, int], int]:
    """A group-less consumer at the beginning of every partition, the end offsets to read up to, and the
    number of records in between."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                             client_id="analytics-rebuild", max_poll_records=5000,
                             fetch_max_bytes=64 * 1024 * 1024, max_partition_fetch_bytes=16 * 1024 * 1024, **kw)
    parts = partitions(consumer, topics)
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    begin = consumer.beginning_offsets(parts)
    end = {tp: off for tp, off in consumer.end_offsets(parts).items() if off > begin[tp]}
    total = sum(end[tp] - begin[tp] for tp in end)
    return consumer, end, total


def replay(consumer: KafkaConsumer, end: dict[TopicPartition, int], on_batch: Callable[[list], None],
           drain_s: float = 10.0) -> int:
    """Poll until every partition has reached its end offset, then keep reading until a poll comes back
    empty (at most `drain_s`): some brokers (Tansu) report as end offset the start of the last batch, so
    the end offsets alone would miss it. Each batch of records goes to `on_batch`."""
    remaining = dict(end)
    idle = [tp for tp in consumer.assignment() if tp not in remaining]
    if idle:
        consumer.pause(*idle)
    read = 0
    drain_until = None
    while True:
        batch = consumer.poll(timeout_ms=1000 if remaining else 500)
        records = [r for recs in batch.values() for r in recs]
        if records:
            on_batch(records)
            read += len(records)
        for tp, stop in list(remaining.items()):
            if consumer.position(tp) >= stop:
                remaining.pop(tp)
        if remaining:
            continue
        if drain_until is None:
            consumer.resume(*consumer.assignment())
            drain_until = time.monotonic() + drain_s
        elif not records or time.monotonic() > drain_until:
            return read


def rebuild(bootstrap: str, sessions: sessionmaker[Session], *, on_progress: Progress | None = None) -> RebuildResult:
    result = RebuildResult()
    t0 = time.perf_counter()
    with unit_of_work(sessions) as session:
        store.reset(session)
    expected = {t.name: t.events for t in TOPICS}
    consumer, end, total = open_replay(bootstrap)
    if on_progress:
        on_progress(0, total)

    def on_batch(records) -> None:
        events = []
        for r in records:
            try:
                if r.value is None:
                    raise EventError("tombstone")
                events.append(decode(r.value, expected[r.topic]))
            except EventError:
                result.undecodable += 1  # the live consumer has dead-lettered it already
        with unit_of_work(sessions) as session:
            if session.get_bind().dialect.name == "postgresql":
                # A rebuild can be run again: no need to wait for each batch to reach the disk.
                session.execute(text("SET LOCAL synchronous_commit = off"))
            result.stored += store.apply(session, events)
        result.records += len(records)
        if on_progress:
            on_progress(result.records, max(total, result.records))

    try:
        replay(consumer, end, on_batch)
    finally:
        consumer.close()
    result.seconds = time.perf_counter() - t0
    return result
