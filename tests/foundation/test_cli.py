"""The `dyade` command as a user runs it: clear one-line errors, and `dyade up` stopping cleanly."""
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from dyade.broker import free_port
from dyade.kafka import wait_until
from dyade.process import alive, children_of


def dyade(*args, env=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "dyade.cli.main", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def test_bad_bootstrap_servers_is_one_clear_line_and_nonzero(tmp_path):
    port = free_port()
    r = dyade("up", "--no-demo", env={"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}", "DYADE_HOME": str(tmp_path),
                                      "DATABASE_URL": f"sqlite:///{tmp_path}/d.db"})
    assert r.returncode != 0
    assert "aucun broker Kafka ne répond" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_refused_database_is_one_clear_line_and_nonzero(tmp_path):
    port = free_port()
    r = dyade("up", "--no-demo", env={"DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/nope",
                                      "DYADE_HOME": str(tmp_path)})
    assert r.returncode != 0
    assert "base de données inaccessible" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_unknown_role_for_a_token_is_refused():
    r = dyade("token", "mayor")
    assert r.returncode == 2 and "rôle inconnu" in r.stderr


def up_env(tmp_path) -> dict[str, str]:
    env = {"DYADE_HOME": str(tmp_path / "home"), "DATABASE_URL": f"sqlite:///{tmp_path}/dyade.db"}
    for name in ("INTAKE", "TRIAGE", "INFOSOCIAL", "NOTIFIER", "ANALYTICS"):
        env[f"{name}_PORT"] = str(free_port())
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    return env


@pytest.mark.slow
def test_dyade_up_on_the_embedded_default_then_ctrl_c_leaves_no_process(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    env.update(up_env(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "dyade.cli.main", "up", "--no-demo"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{env['INTAKE_PORT']}/readyz"

        def ready():
            try:
                return httpx.get(url, timeout=1).status_code == 200
            except httpx.HTTPError:
                return proc.poll() is not None
        wait_until(ready, timeout=120, interval=0.3)
        assert proc.poll() is None, proc.stdout.read()
        descendants = children_of(proc.pid)
        assert len(descendants) >= 2  # the broker and at least one service
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "Dyade arrêtée" in out
    time.sleep(0.2)
    assert [p for p in descendants if alive(p)] == []
