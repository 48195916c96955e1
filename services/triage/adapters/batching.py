"""The agents' stream: faust's, whose batch reading sleeps while nothing comes.

faust's `take_events(max_, within)` waits `within` for its buffer to fill, then yields what it holds, or loops
when it holds nothing: on an idle stream it wakes every `within` (50 times a second per agent at 20 ms, a few
tasks created each time; about 1.7 % of a core for the idle worker). Here an empty buffer waits for its first
record without a timeout, and only then `within` for more: a lone record waits `within` from its arrival (no
longer than before), a backlog still goes `max_` at a time, and an idle worker sleeps. (A batch of just what
was fetched, with no wait at all, is no option: faust hands records to the stream one at a time, yielding to
the loop between them, so the stream's queue looks drained after every record.)

How long a batch waits for more follows the traffic, as the outbox relays' linger does: after a batch of a few
records (calls trickling in, each alone), the next waits `QUIET_WITHIN_S`, a lone call's whole delay at this
stage; after a larger one (a burst, a backlog, a backfill), the take's own `within`, so batches fill up to
`max_` and each key's state is still read and written once per many records.
"""
from __future__ import annotations

import asyncio

import faust


QUIET_WITHIN_S = 0.002
TRICKLE = 8   # a batch of fewer records: traffic is a trickle


class Stream(faust.Stream):
    """The app's stream class (`Stream=` setting)."""

    _arrived: asyncio.Event | None = None
    _trickle = True   # a stream starts as if it were quiet: its first batch shows what is coming

    async def take_events(self, max_, within):
        self._arrived = asyncio.Event()
        self.add_processor(self._note_arrival)   # ahead of the take's own buffering processor
        try:
            async for events in super().take_events(max_, within):
                self._trickle = len(events) < TRICKLE
                yield events
        finally:
            self._processors.remove(self._note_arrival)
            self._arrived = None

    async def _note_arrival(self, value):
        self._arrived.set()
        return value

    async def wait_for_stopped(self, *coros, timeout=None) -> bool:
        """The take's wait for a full buffer (its only caller in a stream): first, while nothing has arrived
        since the last batch, a wait without timeout; then the batch's delay, short while traffic trickles."""
        arrived = self._arrived
        if arrived is not None and timeout is not None:
            if not arrived.is_set() and await super().wait_for_stopped(arrived):
                return True
            arrived.clear()
            if self._trickle:
                timeout = min(timeout, QUIET_WITHIN_S)
        return await super().wait_for_stopped(*coros, timeout=timeout)
