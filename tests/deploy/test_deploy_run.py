"""The image's commands, run for real from what the Dockerfile copies (no Docker engine here): the
build context is assembled from the Dockerfile's COPY lines minus .dockerignore, then the compose jobs
and the five services are started with docker-compose.yml's own commands and environment — only the
broker (a Tansu of this test), the database (a fresh PostgreSQL database), the ports and replication 1
differ. Each service must pass its compose healthcheck (liveness) and become ready (`dyade-healthcheck
<name> readyz`), then stop cleanly on SIGTERM."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dyade.broker import EmbeddedBroker, free_port
from dyade.kafka import wait_until
from dyade.service import SERVICES
from dyade.db import scratch_database

from deploy_files import ROOT, compose, resolve
from test_deploy_compose import FAKE_ENV
from test_deploy_image import dockerignored, instructions

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


def build_context(dest: Path) -> Path:
    """/app of the image: what the Dockerfile COPYs, minus what .dockerignore leaves out."""
    app = dest / "app"
    app.mkdir()
    for word, args in instructions():
        if word != "COPY" or "--from=" in args:
            continue
        *sources, target = args.split()
        for source in sources:
            src = ROOT / source
            if target.startswith("/"):  # a single file placed elsewhere (the healthcheck)
                (dest / "bin").mkdir(exist_ok=True)
                shutil.copy(src, dest / "bin" / Path(target).name)
                (dest / "bin" / Path(target).name).chmod(0o755)  # as the Dockerfile's RUN chmod does
                continue
            for path in ([src] if src.is_file() else sorted(p for p in src.rglob("*") if p.is_file())):
                rel = path.relative_to(ROOT).as_posix()
                if not dockerignored(rel) and not any(dockerignored(str(Path(*path.relative_to(ROOT).parts[:i])))
                                                      for i in range(1, len(path.relative_to(ROOT).parts))):
                    out = app / rel
                    out.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(path, out)
    return app


@pytest.fixture(scope="module")
def fresh_database():
    url, drop = scratch_database("dyade_deploy", migrated=False)  # the image's own migrate job runs
    yield url
    drop()


@pytest.fixture(scope="module")
def image(tmp_path_factory, fresh_database):
    root = tmp_path_factory.mktemp("image")
    app = build_context(root)
    with EmbeddedBroker(log_path=root / "tansu.log") as broker:
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("DYADE_", "KAFKA_", "TRIAGE_", "NOTIFIER_", "INTAKE_", "DATABASE_"))
                and not k.endswith("_PORT")}
        base.update(PATH=f"{root / 'bin'}:{BIN}:{base.get('PATH', '')}", PYTHONPATH=str(app),
                    PYTHONUNBUFFERED="1", DYADE_HOME=str(root / "home"))
        overrides = {"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers, "DATABASE_URL": fresh_database,
                     "DYADE_HOST": "127.0.0.1", "DYADE_HOME": str(root / "home"), "DYADE_TOPIC_REPLICATION": "1",
                     **{f"{s.name.upper()}_PORT": str(free_port()) for s in SERVICES}}
        yield {"root": root, "app": app, "base": base, "overrides": overrides}


def env_of(image, name: str) -> dict[str, str]:
    environment = compose()["services"][name]["environment"]
    env = {**image["base"], **{k: resolve(v, FAKE_ENV) for k, v in environment.items()}, **image["overrides"]}
    return env


def command_of(name: str) -> list[str]:
    cmd = list(compose()["services"][name]["command"])
    cmd[0] = sys.executable if cmd[0] == "python" else str(BIN / cmd[0])
    return cmd


def test_the_code_in_the_image_is_the_copied_code(image):
    out = subprocess.run([sys.executable, "-c", "import dyade, services.triage; print(dyade.__file__); "
                          "print(services.triage.__file__)"], env=env_of(image, "intake"), cwd=image["app"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert all(line.startswith(str(image["app"])) for line in out.stdout.split()), out.stdout
    assert (image["root"] / "bin" / "dyade-healthcheck").exists()
    assert not list(image["app"].glob("services/*/tests")), "tests stay out of the image"


def test_the_jobs_migrate_the_database_and_create_the_topics(image):
    for job in ("migrate", "topics"):
        out = subprocess.run(command_of(job), env=env_of(image, job), cwd=image["app"], capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, f"{job}: {out.stdout}\n{out.stderr}"
    assert "absent" not in out.stdout, out.stdout


def test_the_five_services_start_from_the_image_become_ready_and_stop_on_sigterm(image):
    logs = image["root"] / "logs"
    logs.mkdir(exist_ok=True)
    procs: dict[str, subprocess.Popen] = {}
    try:
        for spec in SERVICES:
            log = open(logs / f"{spec.name}.log", "wb")
            procs[spec.name] = subprocess.Popen(command_of(spec.name), env=env_of(image, spec.name),
                                                cwd=image["app"], stdout=log, stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL)

        def healthy(name: str) -> bool:
            if procs[name].poll() is not None:
                raise AssertionError(f"{name} exited ({procs[name].returncode}):\n{tail(logs / (name + '.log'))}")
            check = compose()["services"][name]["healthcheck"]["test"][1:]  # liveness (/healthz)
            ready = ["dyade-healthcheck", name, "readyz"]
            return all(subprocess.run(c, env=env_of(image, name), capture_output=True, timeout=30).returncode == 0
                       for c in (check, ready))

        pending = set(procs)
        try:
            wait_until(lambda: not [pending.discard(n) for n in list(pending) if healthy(n)] and not pending,
                       timeout=240, interval=1.0)
        except TimeoutError:
            pytest.fail("not ready: " + "; ".join(f"{n}:\n{tail(logs / (n + '.log'))}" for n in sorted(pending)))
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = {}
        for name, proc in procs.items():
            try:
                codes[name] = proc.wait(30)  # compose's stop_grace_period
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[name] = "killed after 30 s"
    assert all(code in (0, -signal.SIGTERM) for code in codes.values()), codes


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
