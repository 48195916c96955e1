"""The agents' take sleeps while nothing comes (services/triage/adapters/batching.py): faust's take asks its
stream to wait for a full buffer with a timeout; with nothing arrived since the last batch, the stream first
waits for a record without one. (The worker's own tests — test_worker.py — take real records through it.)"""
from __future__ import annotations

import asyncio

import faust
import pytest

from services.triage.adapters.batching import QUIET_WITHIN_S, TRICKLE, Stream


@pytest.fixture
def waits(monkeypatch):
    """The stream with faust's own wait replaced by a log of what it was asked to wait for."""
    log: list = []

    async def wait_for_stopped(self, *coros, timeout=None):
        log.append((coros, timeout))
        coro = coros[0]
        if isinstance(coro, asyncio.Event):
            await coro.wait()   # what faust would wait for
        return self.stopping

    monkeypatch.setattr(faust.Stream, "wait_for_stopped", wait_for_stopped)
    stream = object.__new__(Stream)   # the waiting logic only, no app
    stream.stopping = False
    stream._arrived = asyncio.Event()
    stream._trickle = False   # traffic as after a large batch: the take's own delay
    return stream, log


async def test_an_idle_take_waits_for_a_record_without_a_timeout_then_for_more_within_its_delay(waits):
    stream, log = waits
    full = asyncio.Event()
    take = asyncio.ensure_future(stream.wait_for_stopped(full, timeout=0.02))
    await asyncio.sleep(0.05)
    assert log == [((stream._arrived,), None)] and not take.done()   # asleep: no timer running
    await stream._note_arrival("a record")
    full.set()
    assert await take is False
    assert log[1] == ((full,), 0.02)           # the batch's delay starts with its first record
    assert not stream._arrived.is_set()        # the next take sleeps again unless records come meanwhile


async def test_records_that_came_during_a_batch_are_taken_without_sleeping(waits):
    stream, log = waits
    await stream._note_arrival("came while the last batch was handled")
    full = asyncio.Event()
    full.set()
    await stream.wait_for_stopped(full, timeout=0.02)
    assert log == [((full,), 0.02)]


async def test_a_stream_stopped_while_asleep_does_not_wait_for_a_batch(waits):
    stream, log = waits
    stream.stopping = True

    async def stop_soon():   # faust ends a stream's waits when it stops
        await asyncio.sleep(0.01)
        stream._arrived.set()
    asyncio.ensure_future(stop_soon())
    assert await stream.wait_for_stopped(asyncio.Event(), timeout=0.02) is True
    assert len(log) == 1


async def test_outside_a_take_waits_are_faust_s_own(waits):
    stream, log = waits
    stream._arrived = None
    done = asyncio.Event()
    done.set()
    await stream.wait_for_stopped(done, timeout=1.0)
    assert log == [((done,), 1.0)]


async def test_while_calls_trickle_in_a_batch_waits_only_a_moment_for_more(waits):
    stream, log = waits
    stream._trickle = True
    await stream._note_arrival("a lone call")
    full = asyncio.Event()
    full.set()
    await stream.wait_for_stopped(full, timeout=0.02)
    assert log == [((full,), QUIET_WITHIN_S)]


async def test_the_size_of_each_batch_decides_how_long_the_next_one_waits(monkeypatch):
    async def batches(self, max_, within):   # faust's take, yielding batches of these sizes
        for n in (1, TRICKLE, TRICKLE - 1):
            yield [object()] * n
    monkeypatch.setattr(faust.Stream, "take_events", batches)
    stream = object.__new__(Stream)
    stream._processors = []
    seen = [stream._trickle]
    async for _ in stream.take_events(500, 0.01):
        seen.append(stream._trickle)
    assert seen == [True, True, False, True]
