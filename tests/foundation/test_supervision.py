"""Supervision by `dyade up`: the policy (dyade/supervision.py, milliseconds, no process), then the real
thing — `dyade up --no-demo` as a subprocess, a service killed with SIGKILL comes back while the others
keep their pids, a frozen service (SIGSTOP) is stopped and restarted, the embedded broker killed comes
back on the same port with its topics, and Ctrl-C still leaves no process and no run.json."""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time

import httpx
import pytest

from dyade.kafka import wait_until
from dyade.process import alive, children_of
from dyade.supervision import Action, Phase, Policy, Supervised, backoff_delay

P = Policy()


# -- the policy ------------------------------------------------------------------------------------

def running(name="svc", policy=P, now=0.0, probe=True) -> Supervised:
    sup = Supervised(name, policy, probe=probe)
    assert sup.tick(now) is Action.START  # a new Supervised starts at once
    sup.started(now)
    return sup


def ready(now=0.0, **kw) -> Supervised:
    sup = running(now=now, **kw)
    assert sup.ready(now)
    return sup


def test_backoff_doubles_from_one_second_up_to_thirty():
    assert [backoff_delay(n) for n in range(0, 9)] == [0, 1, 2, 4, 8, 16, 30, 30, 30]
    assert backoff_delay(10_000) == 30
    assert backoff_delay(3, Policy(backoff_initial_s=0.5, backoff_max_s=1.5)) == 1.5


def test_a_process_that_ends_is_restarted_after_the_backoff_whatever_its_exit_code():
    for reason in ("code de sortie 0", "code de sortie 1", "tué par SIGKILL"):
        sup = ready()
        assert sup.exited(10.0, reason) == 1.0
        assert sup.phase is Phase.WAITING and sup.reason == reason
        assert sup.tick(10.9) is Action.NONE
        assert sup.tick(11.0) is Action.START
        sup.started(11.0)
        assert sup.restarts == 1 and sup.phase is Phase.STARTING


def test_failures_in_a_row_wait_longer_and_sixty_seconds_of_readiness_resets_the_delay():
    sup, now, delays = ready(), 0.0, []
    for _ in range(7):  # dies 5 s after each restart, before being ready
        now += 5
        delays.append(sup.exited(now, "code de sortie 1"))
        now += delays[-1]
        sup.started(now)
    assert delays == [1, 2, 4, 8, 16, 30, 30]
    sup.ready(now)
    assert sup.exited(now + 59, "code de sortie 1") == 30, "ready 59 s is not stable yet"
    sup.started(now + 100)
    sup.ready(now + 100)
    assert sup.exited(now + 160, "code de sortie 1") == 1, "ready 60 s: the delay starts again"


def test_a_ready_service_failing_healthz_three_times_in_a_row_is_stopped_then_killed_then_restarted():
    sup = ready()
    assert sup.tick(1.0) is Action.NONE, "liveness every 5 s"
    assert sup.tick(5.0) is Action.PROBE
    assert sup.liveness(5.0, False, "HTTP 500") is Action.NONE
    assert sup.liveness(10.0, True) is Action.NONE and sup.misses == 0, "a success resets the count"
    assert sup.liveness(15.0, False) is Action.NONE
    assert sup.liveness(20.0, False) is Action.NONE
    assert sup.liveness(25.0, False, "pas de réponse en 3 s") is Action.TERMINATE
    assert sup.phase is Phase.STOPPING and "pas de réponse" in sup.reason
    assert sup.tick(30.0) is Action.NONE, "no probe while it stops"
    assert sup.tick(35.0) is Action.KILL, "SIGKILL 10 s after SIGTERM"
    assert sup.tick(35.1) is Action.NONE, "killed once"
    assert sup.exited(35.2, "tué par SIGKILL") == 1.0, "counted once, when it was stopped"
    assert sup.failures == 1 and "/healthz" in sup.reason


def test_healthz_only_counts_after_the_service_was_ready():
    sup = running()
    for t in (1, 2, 3, 4, 5):
        assert sup.liveness(float(t), False) is Action.NONE
    assert sup.phase is Phase.STARTING and sup.misses == 0
    assert sup.tick(6.0) is Action.PROBE, "a starting service is probed for readiness every second"


def test_time_spent_failing_healthz_is_not_time_ready():
    sup = ready()
    sup.liveness(50.0, False)
    sup.liveness(55.0, False)
    assert sup.liveness(61.0, False) is Action.TERMINATE
    sup.exited(62.0, "code 0")
    sup.started(63.0)
    assert sup.exited(64.0, "code de sortie 1") == 2.0, "healthy only 50 s before failing: no reset"


def test_a_restarted_service_never_ready_is_stopped_after_the_start_timeout_but_not_the_first_start():
    policy = Policy(start_timeout_s=90)
    first = running(policy=policy)
    assert first.tick(200.0) is Action.PROBE, "the first start is `dyade up`'s own wait"
    sup = ready(policy=policy)
    sup.exited(10.0, "tué par SIGKILL")
    sup.started(11.0)
    assert sup.tick(100.0) is Action.PROBE
    assert sup.tick(101.0) is Action.TERMINATE and "pas prêt" in sup.reason


def test_a_process_that_cannot_start_is_retried_and_with_max_failures_given_up():
    sup = running(policy=Policy(max_failures=3), probe=False)
    assert sup.phase is Phase.READY, "no probe: ready once started"
    assert sup.tick(100.0) is Action.NONE
    assert sup.exited(1.0, "tué par SIGKILL") == 1.0
    assert sup.start_failed(2.0, "port pris") == 2.0
    assert sup.start_failed(4.0, "port pris") == 4.0
    assert sup.start_failed(8.0, "port pris") is None
    assert sup.phase is Phase.FAILED and sup.tick(1000.0) is Action.NONE
    again = running(policy=Policy(max_failures=2), probe=False)
    again.start_failed(1.0, "x")
    again.started(2.0)
    assert again.start_failures == 0, "a successful start resets the count"


def test_an_exit_reported_twice_is_counted_once():
    sup = ready()
    assert sup.exited(1.0, "code 1") == 1.0
    assert sup.exited(1.5, "code 1") == 0.5
    assert sup.failures == 1


# -- the real `dyade up` ---------------------------------------------------------------------------

def up_env(tmp_path) -> dict[str, str]:
    from dyade.broker import free_port
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS" and not k.endswith("_PORT")}
    env.update(DYADE_HOME=str(tmp_path / "home"), DATABASE_URL=f"sqlite:///{tmp_path}/dyade.db", COLUMNS="250")
    for name in ("INTAKE", "TRIAGE", "INFOSOCIAL", "NOTIFIER", "ANALYTICS"):
        env[f"{name}_PORT"] = str(free_port())
    return env


def ready_at(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


class Up:
    def __init__(self, tmp_path):
        self.env = up_env(tmp_path)
        self.home = tmp_path / "home"
        self.out = tmp_path / "up.out"
        self.proc = subprocess.Popen([sys.executable, "-m", "dyade.cli.main", "up", "--no-demo"], env=self.env,
                                     stdout=open(self.out, "w"), stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.out.read_text(errors="replace")

    def run(self) -> dict:
        return json.loads((self.home / "run.json").read_text())

    def pids(self) -> dict[str, int]:
        return {name: s["pid"] for name, s in self.run()["services"].items()}

    def dyade(self, *args, drop=()) -> subprocess.CompletedProcess:
        env = {k: v for k, v in self.env.items() if k not in drop}
        return subprocess.run([sys.executable, "-m", "dyade.cli.main", *args], env=env, capture_output=True,
                              text=True, timeout=60)

    def all_ready(self) -> bool:
        assert self.proc.poll() is None, self.output()
        try:
            run = self.run()
        except (OSError, ValueError):
            return False
        services = run["services"]
        return bool(services) and all(s["state"] == "ready" and ready_at(s["url"]) for s in services.values())


@pytest.fixture(scope="module")
def up(tmp_path_factory):
    platform = Up(tmp_path_factory.mktemp("supervised"))
    try:
        wait_until(platform.all_ready, timeout=150, interval=0.5)
        yield platform
    finally:
        if platform.proc.poll() is None:
            platform.proc.kill()
            platform.proc.wait()


@pytest.mark.slow
def test_dyade_up_writes_run_json_for_the_other_commands(up):
    path = up.home / "run.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    run = up.run()
    assert run["pid"] == up.proc.pid and run["broker"]["kind"] == "embedded"
    assert set(run["services"]) >= {"intake", "notifier"}
    assert set(up.pids().values()) <= set(children_of(up.proc.pid))
    assert run["bootstrap_servers"].startswith("127.0.0.1:")
    # neither KAFKA_BOOTSTRAP_SERVERS nor the ports: both commands find this `dyade up` in run.json
    ports = tuple(k for k in up.env if k.endswith("_PORT"))
    topics = up.dyade("topics", drop=ports)
    assert topics.returncode == 0, topics.stderr
    assert "présent" in topics.stdout and "absent" not in topics.stdout
    status = up.dyade("status", drop=ports)
    assert "arrêté" not in status.stdout, status.stdout
    for name in run["services"]:
        assert name in status.stdout
    assert "dyade up" in status.stderr and run["bootstrap_servers"] in status.stderr


@pytest.mark.slow
def test_a_service_killed_with_sigkill_comes_back_and_the_others_keep_running(up):
    before = up.pids()
    os.kill(before["intake"], signal.SIGKILL)
    wait_until(lambda: up.pids()["intake"] not in (None, before["intake"]) and up.all_ready(), timeout=90,
               interval=0.3)
    after = up.pids()
    assert {n: p for n, p in after.items() if n != "intake"} == {n: p for n, p in before.items() if n != "intake"}
    assert up.proc.poll() is None
    out = up.output()
    assert "intake : le processus s'est arrêté (tué par SIGKILL) ; redémarrage dans 1 s" in out, out
    assert "intake : de nouveau prêt" in out
    log = (up.home / "logs" / "intake.log").read_text()
    assert "tué par SIGKILL" in log and '"logger": "dyade.up"' in log
    assert up.run()["services"]["intake"]["restarts"] == 1


@pytest.mark.slow
def test_a_frozen_service_fails_healthz_and_is_stopped_and_restarted(up):
    before = up.pids()
    os.kill(before["notifier"], signal.SIGSTOP)  # alive, port open, answers nothing
    try:
        wait_until(lambda: up.pids()["notifier"] not in (None, before["notifier"]) and up.all_ready(),
                   timeout=120, interval=0.5)
    finally:
        if alive(before["notifier"]):
            os.kill(before["notifier"], signal.SIGKILL)
    out = up.output()
    assert "notifier : /healthz en échec (1/3)" in out and "notifier : /healthz en échec 3 fois de suite" in out, out
    assert {n: p for n, p in up.pids().items() if n not in ("notifier", "intake")} == \
        {n: p for n, p in before.items() if n not in ("notifier", "intake")}


@pytest.mark.slow
def test_the_embedded_broker_killed_comes_back_on_the_same_port_with_its_topics(up):
    run = up.run()
    os.kill(run["broker"]["pid"], signal.SIGKILL)
    wait_until(lambda: up.run()["broker"]["pid"] not in (None, run["broker"]["pid"]), timeout=60, interval=0.3)
    assert up.run()["bootstrap_servers"] == run["bootstrap_servers"]
    topics = up.dyade("topics")
    assert topics.returncode == 0 and "absent" not in topics.stdout, topics.stdout + topics.stderr
    assert "broker relancé sur " + run["bootstrap_servers"] in up.output()
    assert up.proc.poll() is None


@pytest.mark.slow
def test_ctrl_c_still_stops_everything_and_removes_run_json(up):
    descendants = children_of(up.proc.pid)
    up.proc.send_signal(signal.SIGINT)
    assert up.proc.wait(60) == 0, up.output()
    assert "Dyade arrêtée" in up.output()
    time.sleep(0.2)
    assert [p for p in descendants if alive(p)] == []
    assert not (up.home / "run.json").exists()
