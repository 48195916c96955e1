"""A faust agent that does nothing but count the calls it reads: what faust itself costs per record on this
machine (bench.triage's second baseline).

    python -m bench._faust_noop BOOTSTRAP N     prints the records/s of the agent, then exits
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid

import faust

from dyade.contracts import topics as T


def main() -> None:
    bootstrap, n = sys.argv[1], int(sys.argv[2])
    app = faust.App(f"noop-{uuid.uuid4().hex[:6]}", broker=f"kafka://{bootstrap}", store="memory://", web_enabled=False,
              autodiscover=False, datadir=tempfile.mkdtemp(prefix="faust-noop-"), consumer_auto_offset_reset="earliest",
              broker_session_timeout=6.0, broker_heartbeat_interval=0.5, broker_rebalance_timeout=6.0,
              stream_wait_empty=False, key_serializer="raw", value_serializer="raw")
    seen = {"n": 0, "t0": 0.0}

    @app.agent(app.topic(T.CALLS_RECEIVED.name, key_serializer="raw", value_serializer="raw"))
    async def count(stream):
        async for _ in stream.events():
            if not seen["n"]:
                seen["t0"] = time.perf_counter()
            seen["n"] += 1
            if seen["n"] >= n:
                print(f"RATE {(n - 1) / (time.perf_counter() - seen['t0']):.1f}", flush=True)
                os._exit(0)

    sys.argv = [sys.argv[0], "worker", "-l", "warn", "--without-web"]
    app.main()


if __name__ == "__main__":
    main()
