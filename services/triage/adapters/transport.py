"""faust's aiokafka consumer with a short fetch wait. faust hard-codes `fetch_max_wait_ms=1500`; Tansu
answers a waiting fetch only when the wait runs out (not when a record arrives), so each of triage's
two stages waited up to 1.5 s for a record already there (bench.pipeline: place stage → decision p50
758 ms → 33 ms with 50 ms). The wait is DYADE_FETCH_WAIT_MS, as for the other consumers. aiokafka reads the attribute when the consumer starts."""
from __future__ import annotations

from faust.transport.drivers import aiokafka as faust_aiokafka

from dyade.consumer import FETCH_WAIT_MS as FETCH_MAX_WAIT_MS


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport):
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self):
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


def short_fetch_wait(app) -> None:
    """Call right after `faust.App(...)`, before the first `app.topic(...)`."""
    app.transport = Transport(app.conf.broker_consumer, app)
