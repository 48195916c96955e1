"""`dyade up`: broker (embedded Tansu unless KAFKA_BOOTSTRAP_SERVERS is set), database, migrations,
topics, every service as its own process, the demo stream; then supervises them until Ctrl-C or
SIGTERM stops everything.

Supervision (policy in dyade/supervision.py): a service that ends, whatever its exit code, is restarted
with a growing delay while the others keep running; a service that no longer answers /healthz is
stopped and restarted; the embedded broker is restarted on the same port and its topics re-created.
What is running is written to DYADE_HOME/run.json (dyade/runfile.py) for `dyade status` and
`dyade topics`; every supervision event is printed here and appended to logs/<service>.log."""
from __future__ import annotations

import ctypes
import dataclasses
import functools
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dyade import runfile
from dyade.files import open_private_append, private_dir
from dyade.broker import BrokerError, EmbeddedBroker, wait_for_port
from dyade.db import DatabaseError, migrate
from dyade.kafka import BrokerUnreachable, create_topics
from dyade.service import SERVICES, ServiceSpec
from dyade.settings import Settings
from dyade.supervision import DEFAULT, PHASE_FR, Action, Phase, Policy, Supervised
from dyade.clock import utcnow

console = Console(stderr=True)

# PR_SET_PDEATHSIG: a child gets SIGTERM when the thread that started it ends, even if `dyade up` is
# killed by SIGKILL. Every process is started from the main thread, which lives as long as `dyade up`.
# prctl is looked up here, not in the child: between fork and exec the child only makes the bare call
# (the probe threads may hold locks a dlopen would need).
try:
    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # pragma: no cover - not Linux
    _PRCTL = None
_PR_SET_PDEATHSIG, _SIGTERM = 1, int(signal.SIGTERM)

BROKER_POLICY = Policy(max_failures=5)  # after 5 failed starts in a row, `dyade up` gives up
LOOP_S = 0.2


def _die_with_parent() -> None:  # runs in the child
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, _SIGTERM)


def available_services() -> list[ServiceSpec]:
    def runnable(spec: ServiceSpec) -> bool:
        try:
            return importlib.util.find_spec(f"{spec.module}.__main__") is not None
        except ModuleNotFoundError:
            return False
    return [s for s in SERVICES if runnable(s)]


def exit_reason(code: int | None) -> str:
    if code is None:
        return "raison inconnue"
    if code < 0:
        try:
            return f"tué par {signal.Signals(-code).name}"
        except ValueError:
            return f"tué par le signal {-code}"
    return f"code de sortie {code}"


@functools.cache
def _http() -> httpx.Client:
    """One client for every probe: a new one per GET costs an SSL context and a read of the environment
    (most of the supervisor's idle CPU). A kept connection is dropped before uvicorn closes it (5 s idle): a
    probe sent as the server closes it would read as a failed probe."""
    return httpx.Client(trust_env=False, limits=httpx.Limits(keepalive_expiry=2.0))


def probe(url: str, timeout: float) -> tuple[bool, str]:
    """GET url: (answered 200, what went wrong in French)."""
    try:
        response = _http().get(url, timeout=timeout)
    except httpx.TimeoutException:
        return False, f"pas de réponse en {timeout:.0f} s"
    except httpx.HTTPError as exc:
        return False, f"injoignable ({type(exc).__name__})"
    if response.status_code == 200:
        return True, ""
    detail = ""
    try:
        doc = response.json()
        if isinstance(doc, dict):
            detail = str(doc.get("detail") or doc.get("message") or "")[:300]
    except ValueError:
        pass
    return False, f"HTTP {response.status_code}" + (f" : {detail}" if detail else "")


def _seconds(delay: float | None) -> str:
    return "—" if delay is None else f"{delay:.0f} s"


def _terminate(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGCONT: a stopped (SIGSTOP) process handles its SIGTERM once continued."""
    try:
        proc.terminate()
        proc.send_signal(signal.SIGCONT)
    except ProcessLookupError:
        pass


class Platform:
    """Everything `dyade up` started, supervised, then stopped in reverse order."""

    def __init__(self, settings: Settings, policy: Policy = DEFAULT):
        self.settings = settings
        self.policy = policy
        self.home = private_dir(settings.dyade_home).resolve()  # 0700: secrets, database, logs
        self.logs = self.home / "logs"
        self.broker: EmbeddedBroker | None = None
        self.broker_sup: Supervised | None = None
        self.bootstrap: str | None = None
        self.env: dict[str, str] = {}
        self.specs: dict[str, ServiceSpec] = {}
        self.processes: dict[str, subprocess.Popen] = {}
        self.supervised: dict[str, Supervised] = {}
        self.demo: subprocess.Popen | None = None
        self._demo_reported = False
        self._probes: dict[str, tuple[int, str, Future]] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._started_at = utcnow().isoformat(timespec="seconds")

    # -- start -------------------------------------------------------------------------------------
    def start_broker(self) -> str:
        if self.settings.kafka_bootstrap_servers:
            self.bootstrap = self.settings.kafka_bootstrap_servers
            create_topics(self.bootstrap, partitions=self.settings.dyade_topic_partitions,
                          replication=self.settings.dyade_topic_replication)
            return self.bootstrap
        private_dir(self.logs)
        port = int(os.environ.get("DYADE_BROKER_PORT", "0"))
        self.broker = EmbeddedBroker(port=port, log_path=self.logs / "tansu.log").start()
        self.broker_sup = Supervised("broker", BROKER_POLICY, probe=False)
        self.broker_sup.started(time.monotonic())
        create_topics(self.broker.bootstrap_servers, partitions=self.settings.dyade_topic_partitions)
        self.bootstrap = self.broker.bootstrap_servers
        return self.bootstrap

    def start_service(self, spec: ServiceSpec, env: dict[str, str] | None = None) -> subprocess.Popen:
        if env is not None:
            self.env = env
        port = self.settings.port_of(spec.name)
        if wait_for_port(self.settings.dyade_host, port, 0.05):
            raise BrokerError(f"le port {port} de {spec.name} est déjà pris (réglez {spec.name.upper()}_PORT)")
        private_dir(self.logs)
        with open_private_append(self.logs / f"{spec.name}.log") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", spec.module], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        self.specs[spec.name] = spec
        self.processes[spec.name] = proc
        self.supervised.setdefault(spec.name, Supervised(spec.name, self.policy)).started(time.monotonic())
        self.write_runfile()
        return proc

    def wait_ready(self, timeout: float) -> dict[str, float]:
        """The first start: every service ready within `timeout`, or `dyade up` fails with the reason."""
        t0, ready = time.monotonic(), {}
        while len(ready) < len(self.processes) and time.monotonic() - t0 < timeout:
            for name, proc in self.processes.items():
                if name in ready:
                    continue
                if proc.poll() is not None:
                    raise BrokerError(f"le service {name} s'est arrêté au démarrage "
                                      f"({exit_reason(proc.returncode)}); voir {self.logs / (name + '.log')}")
                try:
                    if _http().get(f"{self.settings.url_of(name)}/readyz", timeout=1).status_code == 200:
                        ready[name] = time.monotonic() - t0
                        self.supervised[name].ready(time.monotonic())
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        missing = set(self.processes) - set(ready)
        if missing:
            raise BrokerError(f"pas prêt(s) après {timeout:.0f} s: {', '.join(sorted(missing))}")
        return ready

    # -- supervision -------------------------------------------------------------------------------
    def supervise(self) -> None:
        """Until interrupted (KeyboardInterrupt): restart what ends, stop and restart what no longer
        answers. Raises BrokerError if the embedded broker cannot be brought back."""
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(self.supervised)), thread_name_prefix="dyade-sonde")
        while True:
            now = time.monotonic()
            self._supervise_broker(now)
            for name, sup in self.supervised.items():
                self._supervise_service(name, sup, now)
            self._watch_demo()
            time.sleep(LOOP_S)

    def _supervise_service(self, name: str, sup: Supervised, now: float) -> None:
        proc = self.processes.get(name)
        if proc is not None and sup.phase in (Phase.STARTING, Phase.READY, Phase.STOPPING) \
                and proc.poll() is not None:
            self._probes.pop(name, None)
            reason = exit_reason(proc.returncode)
            forced = sup.phase is Phase.STOPPING
            delay = sup.exited(now, reason)
            what = f"arrêté ({reason})" if forced else f"le processus s'est arrêté ({reason})"
            self.report(name, f"{what} ; redémarrage dans {_seconds(delay)}", "warning")
            self.write_runfile()
            return
        self._collect_probe(name, sup, now)
        self._act(name, sup, sup.tick(now), now)

    def _act(self, name: str, sup: Supervised, action: Action, now: float) -> None:
        proc = self.processes.get(name)
        if action is Action.START:
            self._restart(name, sup, now)
        elif action is Action.PROBE and name not in self._probes and self._pool is not None:
            route = "readyz" if sup.phase is Phase.STARTING else "healthz"
            url = f"{self.settings.url_of(name)}/{route}"
            self._probes[name] = (sup.starts, route, self._pool.submit(probe, url, self.policy.liveness_timeout_s))
        elif action is Action.TERMINATE and proc is not None:
            self.report(name, f"{sup.reason} : arrêt (SIGTERM, SIGKILL dans {self.policy.kill_grace_s:.0f} s "
                              f"s'il ne s'arrête pas) puis redémarrage", "error")
            _terminate(proc)
            self.write_runfile()
        elif action is Action.KILL and proc is not None and proc.poll() is None:
            self.report(name, f"toujours là {self.policy.kill_grace_s:.0f} s après SIGTERM : SIGKILL", "error")
            proc.kill()

    def _collect_probe(self, name: str, sup: Supervised, now: float) -> None:
        pending = self._probes.get(name)
        if pending is None or not pending[2].done():
            return
        del self._probes[name]
        starts, route, future = pending
        if starts != sup.starts:  # a probe of the previous process
            return
        try:
            ok, detail = future.result()
        except Exception as exc:  # pragma: no cover - probe() catches what httpx raises
            ok, detail = False, str(exc)
        if route == "readyz":
            if ok and sup.ready(now):
                self.report(name, f"de nouveau prêt, {now - sup.started_at:.1f} s après son redémarrage "
                                  f"({sup.restarts} redémarrage(s) depuis le lancement)", "info")
                self.write_runfile()
            return
        missed = sup.misses
        action = sup.liveness(now, ok, detail)
        if not ok and action is Action.NONE:
            self.report(name, f"/healthz en échec ({sup.misses}/{self.policy.liveness_failures}) : {detail}",
                        "warning")
        elif ok and missed:
            self.report(name, "/healthz répond de nouveau", "info")
        self._act(name, sup, action, now)

    def _restart(self, name: str, sup: Supervised, now: float) -> None:
        try:
            proc = self.start_service(self.specs[name])
        except (BrokerError, OSError) as exc:
            delay = sup.start_failed(now, str(exc))
            self.report(name, f"redémarrage impossible : {exc} ; nouvel essai dans {_seconds(delay)}", "error")
            return
        self.report(name, f"redémarré (pid {proc.pid}, redémarrage n° {sup.restarts}) ; "
                          f"dernier motif : {sup.reason}", "warning")

    def _supervise_broker(self, now: float) -> None:
        broker, sup = self.broker, self.broker_sup
        if broker is None or sup is None:
            return
        if sup.phase is Phase.READY and not broker.running:
            reason = exit_reason(broker.process.returncode if broker.process else None)
            delay = sup.exited(now, reason)
            self.report("broker", f"le broker Tansu embarqué s'est arrêté ({reason}) : ses topics, en mémoire, "
                                  f"sont perdus ; relance sur {broker.bootstrap_servers} dans {_seconds(delay)}",
                        "error")
            self.write_runfile()
            return
        if sup.tick(now) is not Action.START:
            return
        try:
            broker.start()  # same host and port: the services' clients reconnect to the same address
            created = create_topics(broker.bootstrap_servers, partitions=self.settings.dyade_topic_partitions)
        except (BrokerError, BrokerUnreachable, OSError) as exc:
            broker.stop()
            delay = sup.start_failed(now, str(exc))
            if delay is None:
                raise BrokerError(f"le broker embarqué n'a pas pu être relancé ({sup.start_failures} essais) : "
                                  f"{exc}; voir {self.logs / 'tansu.log'}") from exc
            self.report("broker", f"relance du broker impossible : {exc} ; nouvel essai dans {_seconds(delay)}",
                        "error")
            return
        sup.started(now)
        self.report("broker", f"broker relancé sur {broker.bootstrap_servers} (pid {broker.process.pid}), "
                              f"{len(created)} topic(s) recréé(s) ; les services se reconnectent et intake "
                              f"republie son outbox", "warning")
        self.write_runfile()

    def _watch_demo(self) -> None:
        if self.demo is not None and not self._demo_reported and self.demo.poll() is not None:
            self._demo_reported = True  # not restarted: it would replay its history a second time
            self.report("demo", f"la démo s'est arrêtée ({exit_reason(self.demo.returncode)}) ; elle n'est pas "
                                f"relancée, voir {self.logs / 'demo.log'}", "warning")

    # -- reporting ---------------------------------------------------------------------------------
    def report(self, name: str, message: str, level: str = "info") -> None:
        """On the console and, as a JSON line like the services' own, in logs/<name>.log."""
        colour = {"info": "green", "warning": "yellow", "error": "red"}.get(level, "white")
        console.print(f"[dim]{datetime.now():%H:%M:%S}[/] [{colour}]{escape(name)} : {escape(message)}[/]",
                      highlight=False)
        line = {"ts": utcnow().isoformat(timespec="milliseconds"), "level": level,
                "service": name, "logger": "dyade.up", "msg": message}
        try:
            private_dir(self.logs)
            with open_private_append(self.logs / f"{'tansu' if name == 'broker' else name}.log") as f:
                f.write((json.dumps(line, ensure_ascii=False) + "\n").encode())
        except OSError:
            pass

    def runfile_doc(self) -> dict:
        services = {}
        for name, sup in self.supervised.items():
            proc = self.processes.get(name)
            services[name] = {"url": self.settings.url_of(name),
                              "pid": proc.pid if proc is not None and proc.poll() is None else None,
                              "state": sup.phase.value, "state_fr": PHASE_FR[sup.phase],
                              "restarts": sup.restarts, "last_failure": sup.reason or None,
                              "log": str(self.logs / f"{name}.log")}
        broker: dict = {"kind": "external"}
        if self.broker is not None:
            broker = {"kind": "embedded", "pid": self.broker.process.pid if self.broker.running else None,
                      "restarts": self.broker_sup.restarts if self.broker_sup else 0,
                      "log": str(self.logs / "tansu.log")}
        return {"pid": os.getpid(), "started_at": self._started_at, "dyade_home": str(self.home),
                "bootstrap_servers": self.bootstrap, "broker": broker, "database": _safe_url(self.settings.db_url),
                "logs": str(self.logs), "services": services,
                "demo": {"pid": self.demo.pid} if self.demo is not None and self.demo.poll() is None else None}

    def write_runfile(self) -> None:
        if self.bootstrap:  # only once `dyade up` has a broker (not for a Platform used by tests)
            try:
                runfile.write(self.home, self.runfile_doc())
            except OSError as exc:
                console.print(f"[yellow]impossible d'écrire {runfile.path_of(self.home)} : {escape(str(exc))}[/]")

    # -- stop --------------------------------------------------------------------------------------
    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        procs = [p for p in [self.demo, *reversed(list(self.processes.values()))] if p is not None]
        for proc in procs:
            if proc.poll() is None:
                _terminate(proc)
        deadline = time.monotonic() + 15
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.broker:
            self.broker.stop()
        runfile.remove(self.home, os.getpid())


def up(
    demo: bool = typer.Option(True, "--demo/--no-demo", help="Lancer un flux d'appels de démonstration."),
    demo_speed: float = typer.Option(720.0, min=1.0, help="Horloge de la ville de démonstration: N fois plus vite "
                                     "que l'horloge murale jusqu'à la rattraper (4000: un trimestre en ≈ 33 min)."),
    demo_days: float = typer.Option(91.0, min=0.0, help="Jours de programme joués en accéléré (défaut: un trimestre)."),
    ready_timeout: float = typer.Option(90.0, help="Délai maximal de démarrage des services (s)."),
) -> None:
    settings = Settings()
    other = runfile.running(settings.dyade_home)
    if other:
        console.print(f"[bold red]erreur:[/] `dyade up` tourne déjà pour DYADE_HOME={escape(str(settings.dyade_home))} "
                      f"(pid {other['pid']}) : arrêtez-le (Ctrl-C) ou choisissez un autre DYADE_HOME")
        raise typer.Exit(2)
    platform = Platform(settings, dataclasses.replace(DEFAULT, start_timeout_s=ready_timeout))
    stopping = False

    def _on_signal(signum, _frame):
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    t_start = time.monotonic()
    try:
        with console.status("Démarrage de Dyade…") as status:
            status.update("Base de données…")
            migrate(settings.db_url)
            status.update("Broker Kafka…")
            bootstrap = platform.start_broker()
            env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "DATABASE_URL": settings.db_url,
                   "DYADE_HOME": str(platform.home), "PYTHONUNBUFFERED": "1",
                   # the services see a broker and a database; this tells them it is the embedded default
                   "DYADE_EMBEDDED": "true" if settings.embedded else "false"}
            if demo:  # a fast city clock: the notifier and analytics must take its calls as live
                env.update(_demo_service_env(demo_speed, demo_days))
            platform.env = env
            platform.write_runfile()
            for spec in available_services():
                status.update(f"Service {spec.name}…")
                platform.start_service(spec)
            status.update("Attente des services…")
            ready = platform.wait_ready(ready_timeout)
            platform.write_runfile()
        _print_summary(settings, bootstrap, platform, ready, time.monotonic() - t_start)
        if demo:
            platform.demo = _start_demo(platform, env, demo_speed, demo_days)
            platform.write_runfile()
        console.print("[dim]Un service qui s'arrête ou ne répond plus est relancé. `dyade status` dans un "
                      "autre terminal. Ctrl-C pour tout arrêter.[/]")
        platform.supervise()
    except KeyboardInterrupt:
        console.print("\nArrêt de Dyade…")
    except (BrokerError, BrokerUnreachable, DatabaseError) as exc:
        console.print(f"[bold red]erreur:[/] {escape(str(exc))}")
        raise typer.Exit(2)
    finally:
        stopping = True  # a second Ctrl-C or SIGTERM no longer interrupts the stop
        platform.stop()
    console.print("[green]Dyade arrêtée.[/]")


def _demo_service_env(speed: float, days: float) -> dict[str, str]:
    if importlib.util.find_spec("dyade.simulation") is None:
        return {}
    from dyade.simulation.clock import service_env
    return service_env(speed, days)


def _start_demo(platform: Platform, env: dict[str, str], speed: float, days: float) -> subprocess.Popen | None:
    if importlib.util.find_spec("dyade.simulation") is None:
        return None
    with open_private_append(platform.logs / "demo.log") as log:
        return subprocess.Popen([sys.executable, "-m", "dyade.cli.main", "demo", "--speed", str(speed),
                                 "--days", str(days)], env=env,
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
    console.print(f"Démarrage complet en {elapsed:.1f} s. Journaux: {platform.logs} ; "
                  f"état: {runfile.path_of(platform.home)}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url
    return make_url(url).render_as_string(hide_password=True)
