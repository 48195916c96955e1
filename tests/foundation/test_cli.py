"""The `dyade` command as a user runs it: clear one-line errors, and `dyade up` stopping cleanly."""
import json
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


# -- run.json: how the other commands find a running `dyade up` -------------------------------------

@pytest.fixture
def fake_up(tmp_path):
    """A live process whose command line names dyade, standing for a running `dyade up`."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "dyade", "up"])
    yield proc
    proc.kill()
    proc.wait()


def write_run(home, pid, **doc):
    from dyade import runfile
    return runfile.write(home, {"pid": pid, **doc})


def test_run_json_is_private_and_ignored_once_its_dyade_up_is_gone(tmp_path, fake_up):
    import stat

    from dyade import runfile
    path = write_run(tmp_path, fake_up.pid, bootstrap_servers="127.0.0.1:1",
                     services={"intake": {"url": "http://127.0.0.1:2"}})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert runfile.bootstrap_servers(tmp_path) == "127.0.0.1:1"
    assert runfile.service_urls(tmp_path) == {"intake": "http://127.0.0.1:2"}
    runfile.remove(tmp_path, pid=fake_up.pid + 1)
    assert path.exists(), "only the `dyade up` that wrote it removes it"
    fake_up.kill()
    fake_up.wait()
    assert runfile.running(tmp_path) is None and runfile.bootstrap_servers(tmp_path) is None
    path.write_text("{not json")
    assert runfile.running(tmp_path) is None


def test_dyade_topics_finds_the_broker_of_a_running_dyade_up(tmp_path, fake_up, broker):
    env = {"DYADE_HOME": str(tmp_path), "KAFKA_BOOTSTRAP_SERVERS": ""}
    r = dyade("topics", env=env)
    assert r.returncode == 2 and "aucun `dyade up` ne tourne" in r.stderr
    write_run(tmp_path, fake_up.pid, bootstrap_servers=broker.bootstrap_servers)
    r = dyade("topics", env={**env, "COLUMNS": "250"})
    assert r.returncode == 0, r.stderr
    assert "présent" in r.stdout


def test_a_second_dyade_up_on_the_same_home_is_refused(tmp_path, fake_up):
    write_run(tmp_path, fake_up.pid, bootstrap_servers="127.0.0.1:1")
    r = dyade("up", "--no-demo", env={"DYADE_HOME": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/d.db",
                                      "COLUMNS": "250"})
    assert r.returncode == 2 and f"pid {fake_up.pid}" in r.stderr and "tourne déjà" in r.stderr
    assert (tmp_path / "run.json").exists(), "the running one's file is left alone"


# -- dyade status ---------------------------------------------------------------------------------

def test_ago_says_how_long_ago_in_french():
    from dyade.cli.main import ago
    assert [ago(v) for v in (0, 3.7, 59.9, 125, 3725, 90000)] == [
        "il y a 0 s", "il y a 3 s", "il y a 59 s", "il y a 2 min", "il y a 1 h 02", "il y a 1 j"]
    assert {ago(v) for v in (None, -1, "3", True, float("nan"))} == {"—"}


def test_readiness_is_read_defensively():
    from dyade.cli.main import readiness_rows
    assert readiness_rows(200, {"status": "ok", "checks": {"database": "ok"}})[0] is True
    assert readiness_rows(200, {"status": "ok"})[0] is True, "a service not yet upgraded: no consumers"
    assert readiness_rows(200, None)[0] is True
    assert readiness_rows(503, {"status": "unavailable", "checks": {"broker": "injoignable"}})[:3] == (
        False, "[red]indisponible[/]", "broker: injoignable")
    assert readiness_rows(500, "<html>")[0] is False
    assert readiness_rows(None, None)[:3] == (False, "[red]arrêté[/]", "ne répond pas")
    ok, state, _, rows = readiness_rows(200, {"status": "ok", "consumers": [
        {"group": "g1", "state": "running", "lag": 0, "last_progress_age_s": 1.2, "dead_letters_last_5min": 0,
         "message": "à jour"},
        "garbage", {"state": 3}, {"group": "g2", "state": "reconnecting", "lag": None}]})
    assert ok is False, "a consumer that is not running is not ok"
    assert rows[0] == ("g1", "[green]actif[/]", "0", "il y a 1 s", "0", "à jour")
    assert rows[1][0] == "?" and rows[2][1:5] == ("[yellow]reconnexion[/]", "—", "—", "—")


class FakeService:
    """An HTTP server answering /readyz with a given status code and body."""

    def __init__(self, code: int, doc):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        body = json.dumps(doc).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


OK_CONSUMER = {"group": "notifier", "state": "running", "lag": 0, "last_progress_age_s": 2.0,
               "dead_letters_last_5min": 0, "message": "à jour"}


@pytest.fixture
def services():
    made: list[FakeService] = []

    def make(answers: dict[str, tuple[int, object]]) -> dict[str, str]:
        env = {}
        for name in ("intake", "triage", "infosocial", "notifier", "analytics"):
            if name in answers:
                made.append(FakeService(*answers[name]))
                env[f"{name.upper()}_PORT"] = str(made[-1].port)
            else:
                env[f"{name.upper()}_PORT"] = str(free_port())  # nothing listens
        return env
    yield make
    for s in made:
        s.close()


def test_dyade_status_shows_each_consumer_and_exits_1_when_one_is_stalled(tmp_path, services):
    ok = (200, {"status": "ok", "service": "x", "checks": {"database": "ok"}, "consumers": [OK_CONSUMER]})
    stalled = (503, {"status": "degraded", "service": "notifier", "checks": {"database": "ok", "broker": "ok"},
                     "consumers": [{"group": "notifier-alerts", "state": "stalled", "lag": 42,
                                    "last_progress_age_s": 185.0, "dead_letters_last_5min": 3,
                                    "message": "42 événements en attente, rien de traité depuis 3 min"}]})
    old = (200, {"status": "ok", "service": "analytics", "checks": {"database": "ok"}})
    env = services({"intake": ok, "triage": ok, "infosocial": ok, "notifier": stalled, "analytics": old})
    r = dyade("status", env={**env, "DYADE_HOME": str(tmp_path), "COLUMNS": "250"})
    assert r.returncode == 1, r.stdout + r.stderr
    line = next(l for l in r.stdout.splitlines() if "notifier-alerts" in l)
    for expected in ("bloqué", "42", "il y a 3 min", "3", "rien de traité depuis 3 min"):
        assert expected in line, line
    assert "dégradé" in r.stdout and "analytics" in r.stdout and "Traceback" not in r.stderr

    all_ok = services({name: ok for name in ("intake", "triage", "infosocial", "notifier", "analytics")})
    r = dyade("status", env={**all_ok, "DYADE_HOME": str(tmp_path), "COLUMNS": "250"})
    assert r.returncode == 0, r.stdout
    assert r.stdout.count("actif") == 5 and "il y a 2 s" in r.stdout


def test_dyade_status_reports_a_service_that_does_not_answer(tmp_path, services):
    env = services({})
    r = dyade("status", env={**env, "DYADE_HOME": str(tmp_path), "COLUMNS": "250"})
    assert r.returncode == 1 and r.stdout.count("arrêté") == 5


CLEAN = ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "DYADE_TOKEN_SECRET", "DYADE_PSEUDONYM_KEY",
         "DYADE_TOKEN_MAX_HOURS", "DYADE_TOKEN_MAX_HOURS_SYSTEM", "DYADE_EMBEDDED")


def token(*args, env: dict[str, str]):
    """`dyade token …` in the embedded default, plus `env`."""
    clean = {k: v for k, v in os.environ.items() if k not in CLEAN}
    return subprocess.run([sys.executable, "-m", "dyade.cli.main", "token", *args], capture_output=True, text=True,
                          env={**clean, **env}, timeout=60)


def token_env(tmp_path, **extra) -> dict[str, str]:
    return {"DYADE_HOME": str(tmp_path / "home"), **extra}


def claims_of(token: str, tmp_path) -> dict:
    import jwt
    secret = (tmp_path / "home" / "secrets" / "dyade_token_secret").read_text().strip()
    return jwt.decode(token, secret, algorithms=["HS256"], issuer="dyade", options={"verify_aud": False})


def test_a_cli_token_names_its_subject_and_lives_one_shift(tmp_path):
    r = token("admin", env=token_env(tmp_path))
    assert r.returncode == 2 and "--subject" in r.stderr and "Traceback" not in r.stderr
    r = token("admin", "--subject", "adm-tremblay", env=token_env(tmp_path))
    assert r.returncode == 0, r.stderr
    claims = claims_of(r.stdout.strip(), tmp_path)
    assert claims["sub"] == "adm-tremblay" and claims["exp"] - claims["iat"] == 12 * 3600


def test_a_hundred_year_token_is_refused(tmp_path):
    r = token("admin", "--subject", "adm", "--hours", "876000", env=token_env(tmp_path))
    assert r.returncode == 2 and r.stdout == ""
    assert "au plus 12 h" in r.stderr and "DYADE_TOKEN_MAX_HOURS" in r.stderr
    assert token("dyad", "--subject", "d", "--hours", "13", env=token_env(tmp_path)).returncode == 2
    assert token("officer", "--subject", "o", "--hours", "0", env=token_env(tmp_path)).returncode == 2


def test_system_tokens_have_their_own_longer_bound_and_both_are_configured(tmp_path):
    r = token("dispatch", "--subject", "rao-laval", "--hours", "720", env=token_env(tmp_path))
    assert r.returncode == 0, r.stderr
    assert claims_of(r.stdout.strip(), tmp_path)["exp"] - claims_of(r.stdout.strip(), tmp_path)["iat"] == 720 * 3600
    r = token("dispatch", "--subject", "rao-laval", "--hours", "721", env=token_env(tmp_path))
    assert r.returncode == 2 and "DYADE_TOKEN_MAX_HOURS_SYSTEM" in r.stderr
    env = token_env(tmp_path, DYADE_TOKEN_MAX_HOURS="8")
    assert token("social_worker", "--subject", "sw", "--hours", "9", env=env).returncode == 2
    r = token("social_worker", "--subject", "sw", env=env)  # default: the bound when it is lower
    assert r.returncode == 0 and claims_of(r.stdout.strip(), tmp_path)["exp"] - \
        claims_of(r.stdout.strip(), tmp_path)["iat"] == 8 * 3600


def test_the_cli_refuses_a_short_secret_outside_the_embedded_default(tmp_path):
    env = token_env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path}/d.db", DYADE_TOKEN_SECRET="court")
    r = token("officer", "--subject", "agent-1", env=env)
    assert r.returncode == 2 and "DYADE_TOKEN_SECRET" in r.stderr and "32" in r.stderr and r.stdout == ""
