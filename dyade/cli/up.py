"""`dyade up`: broker (embedded Tansu unless KAFKA_BOOTSTRAP_SERVERS is set), database, migrations,
topics, every service as its own process, the demo stream; Ctrl-C stops everything."""
from __future__ import annotations

import ctypes
import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import typer
from rich.console import Console
from rich.table import Table

from dyade.broker import BrokerError, EmbeddedBroker, wait_for_port
from dyade.db import DatabaseError, migrate
from dyade.kafka import BrokerUnreachable, create_topics
from dyade.service import SERVICES, ServiceSpec
from dyade.settings import Settings

console = Console(stderr=True)


def _die_with_parent() -> None:  # runs in the child: killed if `dyade up` dies, even by SIGKILL
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def available_services() -> list[ServiceSpec]:
    def runnable(spec: ServiceSpec) -> bool:
        try:
            return importlib.util.find_spec(f"{spec.module}.__main__") is not None
        except ModuleNotFoundError:
            return False
    return [s for s in SERVICES if runnable(s)]


class Platform:
    """Everything `dyade up` started, stopped in reverse order."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.broker: EmbeddedBroker | None = None
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs = settings.dyade_home / "logs"

    def start_broker(self) -> str:
        if self.settings.kafka_bootstrap_servers:
            bootstrap = self.settings.kafka_bootstrap_servers
            create_topics(bootstrap, partitions=self.settings.dyade_topic_partitions,
                          replication=self.settings.dyade_topic_replication)
            return bootstrap
        self.logs.mkdir(parents=True, exist_ok=True)
        port = int(os.environ.get("DYADE_BROKER_PORT", "0"))
        self.broker = EmbeddedBroker(port=port, log_path=self.logs / "tansu.log").start()
        create_topics(self.broker.bootstrap_servers, partitions=self.settings.dyade_topic_partitions)
        return self.broker.bootstrap_servers

    def start_service(self, spec: ServiceSpec, env: dict[str, str]) -> None:
        port = self.settings.port_of(spec.name)
        if wait_for_port(self.settings.dyade_host, port, 0.05):
            raise BrokerError(f"le port {port} de {spec.name} est déjà pris (réglez {spec.name.upper()}_PORT)")
        log = open(self.logs / f"{spec.name}.log", "ab")
        self.processes[spec.name] = subprocess.Popen(
            [sys.executable, "-m", spec.module], env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)

    def wait_ready(self, timeout: float) -> dict[str, float]:
        t0, ready = time.monotonic(), {}
        while len(ready) < len(self.processes) and time.monotonic() - t0 < timeout:
            for name, proc in self.processes.items():
                if name in ready:
                    continue
                if proc.poll() is not None:
                    raise BrokerError(f"le service {name} s'est arrêté au démarrage "
                                      f"(code {proc.returncode}); voir {self.logs / (name + '.log')}")
                try:
                    if httpx.get(f"{self.settings.url_of(name)}/readyz", timeout=1).status_code == 200:
                        ready[name] = time.monotonic() - t0
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        missing = set(self.processes) - set(ready)
        if missing:
            raise BrokerError(f"pas prêt(s) après {timeout:.0f} s: {', '.join(sorted(missing))}")
        return ready

    def stop(self) -> None:
        for name, proc in reversed(list(self.processes.items())):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.broker:
            self.broker.stop()


def up(
    demo: bool = typer.Option(True, "--demo/--no-demo", help="Lancer un flux d'appels de démonstration."),
    demo_rate: float = typer.Option(0.5, help="Appels par seconde du flux de démonstration."),
    ready_timeout: float = typer.Option(90.0, help="Délai maximal de démarrage des services (s)."),
) -> None:
    settings = Settings()
    platform = Platform(settings)
    stopping = False

    def _on_signal(signum, _frame):
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _on_signal)
    t_start = time.monotonic()
    try:
        with console.status("Démarrage de Dyade…") as status:
            status.update("Base de données…")
            migrate(settings.db_url)
            status.update("Broker Kafka…")
            bootstrap = platform.start_broker()
            env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "DATABASE_URL": settings.db_url,
                   "DYADE_HOME": str(Path(settings.dyade_home).resolve()), "PYTHONUNBUFFERED": "1"}
            services = available_services()
            for spec in services:
                status.update(f"Service {spec.name}…")
                platform.start_service(spec, env)
            status.update("Attente des services…")
            ready = platform.wait_ready(ready_timeout)
        _print_summary(settings, bootstrap, platform, ready, time.monotonic() - t_start)
        demo_proc = _start_demo(settings, env, demo_rate) if demo else None
        if demo_proc:
            platform.processes["demo"] = demo_proc
        console.print("[dim]Ctrl-C pour tout arrêter.[/]")
        while True:
            for name, proc in list(platform.processes.items()):
                if proc.poll() is not None and name != "demo":
                    console.print(f"[red]le service {name} s'est arrêté (code {proc.returncode}); "
                                  f"voir {platform.logs / (name + '.log')}[/]")
                    raise typer.Exit(1)
            time.sleep(0.5)
    except KeyboardInterrupt:
        console.print("\nArrêt de Dyade…")
    except (BrokerError, BrokerUnreachable, DatabaseError) as exc:
        console.print(f"[bold red]erreur:[/] {exc}")
        raise typer.Exit(2)
    finally:
        platform.stop()
    console.print("[green]Dyade arrêtée.[/]")


def _start_demo(settings: Settings, env: dict[str, str], rate: float) -> subprocess.Popen | None:
    if importlib.util.find_spec("dyade.simulation") is None:
        return None
    log = open(settings.dyade_home / "logs" / "demo.log", "ab")
    return subprocess.Popen([sys.executable, "-m", "dyade.cli.main", "demo", "--rate", str(rate)], env=env,
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            preexec_fn=_die_with_parent)


def _print_summary(settings: Settings, bootstrap: str, platform: Platform, ready: dict[str, float],
                   elapsed: float) -> None:
    table = Table("composant", "adresse", "prêt en", title="Dyade est prête")
    kind = "Tansu (embarqué, en mémoire)" if platform.broker else "Kafka"
    table.add_row(f"broker {kind}", bootstrap,
                  f"{platform.broker.started_in * 1000:.0f} ms" if platform.broker else "—")
    table.add_row("base de données", _safe_url(settings.db_url), "")
    for name, secs in ready.items():
        table.add_row(name, settings.url_of(name), f"{secs:.1f} s")
    Console().print(table)
    console.print(f"Démarrage complet en {elapsed:.1f} s. Journaux: {platform.logs}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url
    return make_url(url).render_as_string(hide_password=True)
