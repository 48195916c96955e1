"""The worker's lag as an operator sees it: the group's committed offsets against the end of the partitions
this worker holds (kafka-python, in a thread: faust's own read offsets change meaning after a seek). The
client names the group but never joins it: it only reads the group's offsets, all in one request (asked one
partition at a time, they were most of what the idle platform asked of the broker)."""
from __future__ import annotations

import time

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition


class GroupLag:
    def __init__(self, bootstrap: str, group: str):
        self.bootstrap, self.group = bootstrap, group
        self._client: KafkaConsumer | None = None
        self._admin: KafkaAdminClient | None = None
        self._moved: dict[TopicPartition, tuple[int, float]] = {}  # committed offset, since when
        # the longest a partition of this worker has had records waiting with its committed offset unmoved:
        # one partition left behind while the others go on (seen after a kill -9 restart) shows only here
        self.oldest_waiting_s = 0.0

    def __call__(self, partitions: list[tuple[str, int]], handled_at: dict[tuple[str, int], float] | None = None) -> int:
        """Records not yet committed on `partitions`; raises KafkaError when the broker does not answer."""
        if not partitions:
            return 0
        if self._client is None:
            self._client = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=self.group,
                                         enable_auto_commit=False, request_timeout_ms=5000,
                                         client_id=f"{self.group}-lag")
        if self._admin is None:
            self._admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=3000,
                                           client_id=f"{self.group}-lag")
        tps = [TopicPartition(t, p) for t, p in partitions]
        ends = self._client.end_offsets(tps, timeout_ms=3000)
        offsets = self._admin.list_group_offsets({self.group: tps}).get(self.group, {})
        lag, now, oldest = 0, time.monotonic(), 0.0
        for tp in tps:
            found = offsets.get(tp)
            committed = found.offset if found is not None and found.offset >= 0 else 0
            waiting = max(0, ends.get(tp, 0) - committed)
            lag += waiting
            last, since = self._moved.get(tp, (None, now))
            if committed != last:
                since = now
            self._moved[tp] = (committed, since)
            # a record handled lately on the partition counts as moving, whatever faust has committed
            since = max(since, (handled_at or {}).get((tp.topic, tp.partition), since))
            if waiting:
                oldest = max(oldest, now - since)
        self.oldest_waiting_s = oldest
        return lag

    def close(self) -> None:
        if self._client is not None:
            self._client.close(autocommit=False)
        if self._admin is not None:
            self._admin.close()
