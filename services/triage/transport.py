"""faust's consumer with a leaner inner loop (faust-streaming 0.15.3, pinned in pyproject.toml).

faust's `Consumer._drain_messages` hands every fetched record to the conductor through
`wait_first(callback(message), suspend_flow.wait())`: two tasks and an `asyncio.wait` per record, so that
a rebalance can interrupt a callback that waits (on the conductor's routing lock, or on the app's flow
control, both held during a rebalance). Measured on this machine (`python -m bench._faust_noop`): a
do-nothing agent reads about 7 k records/s that way against 59 k/s for a bare kafka-python loop, and the
wait is most of the difference. The callback only waits in those two cases, so the loop below awaits it
directly when neither holds (checked without yielding, so nothing changes in between) and keeps faust's
`wait_first` otherwise. Everything else is faust's loop, line for line. (A first version awaited the
callback unconditionally: the kill -9 restart test caught the deadlock that `wait_first` exists for.)
"""
from __future__ import annotations

import asyncio

import faust
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka


class LeanConsumer(faust_aiokafka.Consumer):
    async def _drain_messages(self, fetcher) -> None:  # pragma: no cover - exercised by every worker test
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        suspended = self.suspend_flow.is_set
        flowing = self.app.flow_control.is_active
        routing_locked = self.app.topics._tp_to_callback_lock.locked
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        acks_enabled_for = self.app.topics.acks_enabled_for
        commit_every = self._commit_every
        since_yield = 0
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                self.diag.set_flag(CONSUMER_FETCHING)
                records = getmany(timeout=1.0)
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in records:
                        since_yield += 1
                        if since_yield > 100:
                            await asyncio.sleep(0)
                            since_yield = 0
                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            if r_offset and offset - r_offset > 1 and acks_enabled_for(message.topic):
                                await self._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                            if flowing() and not suspended() and not routing_locked():
                                await callback(message)  # cannot wait on a rebalance: awaited directly
                            else:
                                await self.wait_first(callback(message), self.suspend_flow.wait())
                            set_read_offset(tp, offset)
                    self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)


class LeanTransport(faust_aiokafka.Transport):
    Consumer = LeanConsumer


class TriageApp(faust.App):
    def _new_transport(self):
        return LeanTransport(self.conf.broker_consumer, self)
