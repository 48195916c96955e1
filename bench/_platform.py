"""What the platform benchmarks share: `dyade up --no-demo` on free ports in a home of its own (embedded
Tansu, SQLite), and the wait until every service answers /readyz."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx

from dyade.broker import free_port
from dyade.cli.up import available_services


def start_embedded(home: str, **popen) -> tuple[subprocess.Popen, dict[str, int]]:
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")}
    env["DYADE_HOME"] = home
    ports = {s.name: free_port() for s in available_services()}
    env.update({f"{n.upper()}_PORT": str(p) for n, p in ports.items()})
    proc = subprocess.Popen([sys.executable, "-m", "dyade.cli.main", "up", "--no-demo"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **popen)
    return proc, ports


def wait_ready(ports: dict[str, int], timeout: float, interval: float = 0.05) -> set[str]:
    """Polls every service's /readyz until all answer 200 or `timeout` runs out; returns those still not ready."""
    deadline, pending = time.monotonic() + timeout, set(ports)
    while pending and time.monotonic() < deadline:
        for name in list(pending):
            try:
                if httpx.get(f"http://127.0.0.1:{ports[name]}/readyz", timeout=1).status_code == 200:
                    pending.discard(name)
            except httpx.HTTPError:
                pass
        time.sleep(interval)
    return pending
