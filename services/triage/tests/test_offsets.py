"""The worker never commits past a record it did not handle (services/triage/adapters/transport.py)."""
from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace

from faust.types import TP
from intervaltree import IntervalTree

from services.triage.adapters.transport import HOLE_S, InOrder, _Consumer, hole_at_head, is_compacted

CALLS = TP("calls.received.v2", 0)
FRAMES = TP("frames.current.v1", 0)


def consumer(committed: dict, acked: dict) -> _Consumer:
    c = object.__new__(_Consumer)   # the offset book-keeping only, no broker
    c._committed_offset = defaultdict(lambda: None, committed)
    c._acked = defaultdict(list, {tp: list(v) for tp, v in acked.items()})
    c._acked_index = defaultdict(set, {tp: set(v) for tp, v in acked.items()})
    c._gap = defaultdict(IntervalTree)
    return c


def test_a_run_of_acknowledged_offsets_from_the_committed_one_is_committed():
    assert consumer({CALLS: 289}, {CALLS: [289, 290, 291]})._new_offset(CALLS) == 292


def test_records_dropped_before_the_agent_are_not_committed_over():
    assert consumer({CALLS: 289}, {CALLS: range(307, 346)})._new_offset(CALLS) is None
    # faust's own check lets a hole of one through: it would commit 292, and 289 would never be handled
    assert consumer({CALLS: 289}, {CALLS: [290, 291]})._new_offset(CALLS) is None


def test_a_fetched_batch_cut_short_by_a_rebalance_is_not_a_gap_to_commit_over():
    # faust stops handing a fetched batch to the agent when the generation changes; the fetch position has
    # moved past the batch, so the next record read jumps, and faust would record the jump as a compaction
    # gap and commit over the records never handled
    c = consumer({CALLS: 289}, {CALLS: range(289, 296)})
    asyncio.run(c._add_gap(CALLS, 296, 307))
    c._acked[CALLS].extend(range(307, 320))
    assert c._new_offset(CALLS) == 296
    c._committed_offset[CALLS] = 296        # as faust's commit records it
    assert c._new_offset(CALLS) is None     # 296..306 are read again, not skipped


def test_a_jump_in_offsets_is_a_gap_only_on_a_compacted_topic():
    c = consumer({CALLS: 10, FRAMES: 10}, {CALLS: [10], FRAMES: [10]})
    asyncio.run(c._add_gap(CALLS, 11, 20))
    asyncio.run(c._add_gap(FRAMES, 11, 20))
    assert not c._gap[CALLS] and c._gap[FRAMES]
    c._acked[FRAMES].append(21)
    assert c._new_offset(FRAMES) == 22      # compaction: the gap is committed over, as faust does


def test_holes_and_compaction():
    assert hole_at_head(5, [7, 8]) and not hole_at_head(5, [5, 6]) and not hole_at_head(None, [7])
    assert not hole_at_head(5, [])
    assert is_compacted("frames.current.v1") and is_compacted("dyade-triage-places-changelog")
    assert not is_compacted("calls.received.v2")


class Holes(_Consumer):
    """The hole watch without a broker: records what it seeks."""

    def __init__(self, committed: dict, acked: dict, log_start: int = 0):
        book = consumer(committed, acked)
        self.__dict__.update(book.__dict__)
        self.holes, self.sought, self.log_start = {}, [], log_start

    def assignment(self):
        return set(self._committed_offset)

    async def seek(self, tp, offset):
        self.sought.append((tp, offset))

    async def earliest_offsets(self, *tps):
        return {tp: self.log_start for tp in tps}


def test_a_hole_that_stays_is_read_again_from_the_committed_offset_and_then_left_to_supervision():
    c = Holes({CALLS: 213}, {CALLS: range(236, 240)})
    asyncio.run(c.reread_holes(100.0))
    assert c.sought == []                              # seen once: may be records on their way
    asyncio.run(c.reread_holes(111.0))
    assert c.sought == [(CALLS, 213)]
    for t in (122.0, 133.0, 144.0, 155.0):
        asyncio.run(c.reread_holes(t))
    assert c.sought == [(CALLS, 213)] * 3              # then the stuck committed offset fails /healthz


def test_a_hole_below_the_log_start_is_closed_not_read_again():
    c = Holes({CALLS: 213}, {CALLS: range(236, 240)}, log_start=300)
    asyncio.run(c.reread_holes(100.0))
    asyncio.run(c.reread_holes(111.0))
    assert c.sought == [] and c._committed_offset[CALLS] == 236
    assert c._new_offset(CALLS) == 240


def test_no_hole_nothing_is_sought():
    c = Holes({CALLS: 213, FRAMES: 5}, {CALLS: range(213, 220), FRAMES: [9]})
    for t in (100.0, 111.0, 122.0):
        asyncio.run(c.reread_holes(t))
    assert c.sought == []


def msg(offset: int, topic: str = CALLS.topic, partition: int = 0):
    return SimpleNamespace(topic=topic, partition=partition, offset=offset)


def offsets(msgs) -> list[int]:
    return [m.offset for m in msgs]


def test_a_record_after_one_dropped_before_the_agent_waits_for_it_and_the_partition_is_read_again():
    # faust dropped 12 on its way to the agent (a rebalance cut a fetched batch short); 13 and 14 would be
    # decided without it — a call decided without an earlier call of its place
    order = InOrder()
    committed = {(CALLS.topic, 0): 10}.get
    keep, seek = order.admit([msg(10), msg(11), msg(13), msg(14)], lambda t, p: committed((t, p)), now=0.0)
    assert offsets(keep) == [10, 11] and seek == {(CALLS.topic, 0): 12}
    # what was already fetched after the hole comes first: not handled, not sought again
    keep, seek = order.admit([msg(15)], lambda t, p: None, now=1.0)
    assert keep == [] and seek == {}
    # read again from 12: in order, and what was handled already is handled again (the stages are idempotent)
    keep, seek = order.admit([msg(12), msg(13), msg(14), msg(15)], lambda t, p: None, now=2.0)
    assert offsets(keep) == [12, 13, 14, 15] and seek == {}
    keep, _ = order.admit([msg(11), msg(12), msg(16)], lambda t, p: None, now=3.0)   # a seek back: read again
    assert offsets(keep) == [11, 12]     # 16 comes after 13, not 12: a hole again
    assert order.sought == {(CALLS.topic, 0): (13, 3.0)}


def test_a_hole_still_there_a_while_after_reading_again_lets_the_partition_go_on_and_compacted_gaps_pass():
    order = InOrder()
    keep, seek = order.admit([msg(5), msg(20, FRAMES.topic)], lambda t, p: 3, now=0.0)
    assert offsets(keep) == [20] and seek == {(CALLS.topic, 0): 3}
    assert order.admit([msg(6)], lambda t, p: 3, now=HOLE_S - 1) == ([], {})
    # gone from the log (retention), or faust keeps dropping it: the hole is left to `reread_holes`
    keep, seek = order.admit([msg(6), msg(7)], lambda t, p: 3, now=HOLE_S)
    assert offsets(keep) == [6, 7] and seek == {} and order.sought == {}
    keep, _ = order.admit([msg(3, partition=1)], lambda t, p: None, now=0.0)  # another partition, unknown: handled
    assert offsets(keep) == [3]
    order.reset()   # partitions assigned again: faust reads each from its committed offset
    assert offsets(order.admit([msg(7)], lambda t, p: 7, now=0.0)[0]) == [7]


async def test_a_fetch_that_brings_records_makes_the_next_request_wait_briefly():
    """aiokafka builds the next fetch request as soon as a response is processed, before the agent reads the
    records: the pace turns busy there, so the person stage's input (the place stage's output, on the same
    consumer) is not fetched with the idle wait after a quiet spell."""
    from dyade.consumer import FetchPace
    from services.triage.adapters.transport import _ConsumerThread
    brought = [False, True]

    class Fetcher:
        _fetch_max_wait_ms = 500

        async def _proc_fetch_request(self, assignment, node_id, request):
            return brought.pop(0)
    thread = object.__new__(_ConsumerThread)   # the pacing only, no consumer
    thread.pace = FetchPace(busy_ms=50, idle_ms=500)
    fetcher = Fetcher()
    thread._pace_on_data(fetcher)
    installed = fetcher._proc_fetch_request
    thread._pace_on_data(fetcher)
    assert fetcher._proc_fetch_request is installed   # installed once, not wrapped again at each poll
    assert await fetcher._proc_fetch_request(None, 0, None) is False
    assert fetcher._fetch_max_wait_ms == 500   # nothing came: still idle
    assert await fetcher._proc_fetch_request(None, 0, None) is True
    assert fetcher._fetch_max_wait_ms == 50
