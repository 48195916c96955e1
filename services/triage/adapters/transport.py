"""faust's aiokafka consumer, made safe for at-least-once and quick on Tansu.

Offsets. faust commits the first run of acknowledged offsets of a partition, even when that run does not
start at the committed offset, and treats a jump in the offsets it reads as a compaction gap to commit
over. Around a restart (rebalance, flow control suspended while records are in flight) records can be
dropped on their way to the agent: faust then commits past them and they are never handled — calls with
no decision, no log line and no lag (the fault suite's kill -9 of triage, one run in four). Here:
- on a topic that is not compacted, a jump is not a gap: it is records not handled;
- no commit past an offset that was not acknowledged: the committed offset stays below the hole;
- a hole that stays (`HOLE_S`) is read again: the partition is sought back to its committed offset (records
  after the hole are handled twice; triage's handlers and event ids are idempotent). A hole below the log
  start (retention) is closed instead. If reading again does not fill it, the stuck committed offset fails
  /healthz (services/triage/adapters/lag.py) and supervision restarts the worker;
- and a record after a hole is not handled before the hole is filled (`InOrder`): a call decided before an
  earlier call of its place or person would be decided without it — the same decision id with another
  content (seen after a kill -9: a call about nobody decided twice, the two payloads different).

Fetch wait. faust hard-codes `fetch_max_wait_ms=1500`; Tansu answers a waiting fetch only when the wait runs
out (not when a record arrives), so each of triage's two stages waited up to 1.5 s for a record already
there (bench.pipeline: place stage → decision p50 758 ms → 33 ms with 50 ms). Triage is on the alert's path:
its wait follows the consumer kernel's pace (dyade/consumer.py FetchPace: short while calls flow, longer
once idle)."""
from __future__ import annotations

import logging
import time

from faust.transport.drivers import aiokafka as faust_aiokafka
from mode import Service

from dyade.consumer import FetchPace
from dyade.contracts.topics import TOPICS
from services.triage.adapters.metrics import REREADS

log = logging.getLogger("dyade.triage")
COMPACTED = frozenset(t.name for t in TOPICS if t.compacted)
HOLE_S = 10.0
REREADS_BEFORE_GIVING_UP = 3


def is_compacted(topic: str) -> bool:
    return topic in COMPACTED or topic.endswith("-changelog")


def hole_at_head(committed: int | None, acked: list[int]) -> bool:
    """Records from `committed` on were not all acknowledged, yet later ones were."""
    return committed is not None and bool(acked) and min(acked) > committed


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.pace = FetchPace.for_path(on_alert_path=True)

    def _create_worker_consumer(self, transport):
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = self.pace.wait_ms(time.monotonic())
        return consumer

    async def getmany(self, active_partitions, timeout):
        records = await super().getmany(active_partitions, timeout)
        now = time.monotonic()
        if records:
            self.pace.saw_records(now)
        fetcher = getattr(self._consumer, "_fetcher", None)
        if fetcher is not None:   # aiokafka reads it at each fetch request it builds
            self._pace_on_data(fetcher)
            fetcher._fetch_max_wait_ms = self.pace.wait_ms(now)
        return records

    def _pace_on_data(self, fetcher) -> None:
        """The pace turns busy as soon as a fetch brings records, before aiokafka builds the next request: that
        request would otherwise still wait the idle wait, while the place stage's output for the person stage
        arrives on it — the first call after a quiet spell paid the idle wait twice inside triage."""
        if getattr(fetcher, "_dyade_paced", False):
            return
        fetch, pace = fetcher._proc_fetch_request, self.pace

        async def fetch_then_pace(assignment, node_id, request):
            brought = await fetch(assignment, node_id, request)
            if brought:
                now = time.monotonic()
                pace.saw_records(now)
                fetcher._fetch_max_wait_ms = pace.wait_ms(now)
            return brought
        fetcher._proc_fetch_request = fetch_then_pace
        fetcher._dyade_paced = True


class _Consumer(faust_aiokafka.Consumer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.holes: dict = {}       # tp → (committed offset, since when, times read again)

    def _new_offset(self, tp):
        if not is_compacted(tp.topic) and hole_at_head(self._committed_offset[tp], self._acked[tp]):
            return None
        return super()._new_offset(tp)

    async def _add_gap(self, tp, offset_from: int, offset_to: int) -> None:
        if is_compacted(tp.topic):
            await super()._add_gap(tp, offset_from, offset_to)

    def _new_consumer_thread(self):
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    @Service.timer(HOLE_S / 2)
    async def _reread_holes_now_and_then(self) -> None:
        if not self.app.rebalancing:
            await self.reread_holes(time.monotonic())

    async def reread_holes(self, now: float) -> None:
        """One look at every assigned partition: a hole seen for HOLE_S is read again (or closed)."""
        seen = {}
        for tp in self.assignment():
            committed, acked = self._committed_offset.get(tp), self._acked.get(tp)
            if is_compacted(tp.topic) or not hole_at_head(committed, acked or []):
                continue
            was = self.holes.get(tp)
            since, rereads = (was[1], was[2]) if was and was[0] == committed else (now, 0)
            seen[tp] = (committed, since, rereads)
            if now - since < HOLE_S or rereads >= REREADS_BEFORE_GIVING_UP:
                continue
            low = await self._log_start(tp)
            if low is not None and low >= min(acked):   # what is missing is gone from the log
                log.warning("offsets manquants sous le début du journal : trou refermé",
                            extra={"topic": tp.topic, "partition": tp.partition, "from": committed, "to": low})
                self._committed_offset[tp] = min(acked)
                seen.pop(tp)
                continue
            log.warning("des événements n'ont pas été traités : relecture depuis l'offset validé",
                        extra={"topic": tp.topic, "partition": tp.partition, "offset": committed,
                               "first_acknowledged": min(acked)})
            await self.seek(tp, committed)
            REREADS.labels(tp.topic).inc()
            seen[tp] = (committed, now, rereads + 1)
        self.holes = seen

    async def _log_start(self, tp) -> int | None:
        try:
            return (await self.earliest_offsets(tp)).get(tp)
        except Exception:  # noqa: BLE001 - unknown for now; read again anyway
            return None


class InOrder:
    """The records of a partition handed to the stages in offset order. A record past the next one expected
    (the first after the committed offset, then the one after the last handled) means faust dropped records
    on their way to the agent: it is not handled, nor what follows it in that partition, and the partition is
    read again from the first one missing, at once. If the hole is still there `HOLE_S` later, the partition
    goes on (as it did before this check) and the hole is left to `reread_holes`. Records read again (at or
    below the next expected) are handled: the stages are idempotent. Compacted topics have real gaps: their
    records pass."""

    def __init__(self) -> None:
        self.next: dict[tuple[str, int], int] = {}
        self.sought: dict[tuple[str, int], tuple[int, float]] = {}   # → (offset sought back to, when)

    def reset(self) -> None:
        """Partitions assigned: faust reads each from its committed offset."""
        self.next.clear()
        self.sought.clear()

    def admit(self, msgs, committed, now: float) -> tuple[list, dict[tuple[str, int], int]]:
        """The records to handle now, and the partitions to read again from an offset (`committed(topic,
        partition)`: the partition's committed offset, None when unknown)."""
        keep, seek = [], {}
        holes: dict[tuple[str, int], int] = {}
        for msg in msgs:
            tp = (msg.topic, msg.partition)
            if is_compacted(msg.topic):
                keep.append(msg)
                continue
            want = holes.get(tp, self.next.get(tp))
            if want is None:
                want = committed(*tp)
            if want is not None and msg.offset > want:
                sought = self.sought.get(tp)
                if sought is None or sought[0] != want:
                    seek[tp] = want
                    self.sought[tp] = (want, now)
                if sought is None or sought[0] != want or now - sought[1] < HOLE_S:
                    holes[tp] = want
                    continue
                # read again and still missing `HOLE_S` later (gone from the log, say): let the partition go on,
                # the commit still waits for the hole (`_new_offset`) and `reread_holes` takes it from there
            keep.append(msg)
            holes.pop(tp, None)
            self.next[tp] = msg.offset + 1
        for tp in self.next.keys() & self.sought.keys():
            if self.next[tp] > self.sought[tp][0]:
                del self.sought[tp]      # the hole is filled
        return keep, seek


class Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


def short_fetch_wait(app) -> None:
    """Call right after `faust.App(...)`, before the first `app.topic(...)`."""
    app.transport = Transport(app.conf.broker_consumer, app)
