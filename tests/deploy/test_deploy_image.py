"""The Dockerfile against the code: what it copies exists and is not docker-ignored, it runs as a
non-root user, exposes the services' ports, and the commands compose and Kubernetes give it are real
(`python -m services.<name>` has a `__main__`, `dyade-healthcheck` answers like the containers expect)."""
from __future__ import annotations

import ast
import fnmatch
import http.server
import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
import tomllib

import pytest

from dyade.broker import free_port
from dyade.service import SERVICES
from dyade.settings import Settings

from deploy_files import ROOT, compose, dyade_containers, k8s, workloads

HEALTHCHECK = ROOT / "deploy" / "docker" / "healthcheck.py"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    out, current = [], ""
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("#") and not current:
            continue
        current += line.rstrip("\\").strip() + " " if line.rstrip().endswith("\\") else line.strip()
        if not line.rstrip().endswith("\\"):
            if current.strip():
                word, _, rest = current.strip().partition(" ")
                out.append((word.upper(), rest.strip()))
            current = ""
    return out


def final_stage() -> list[tuple[str, str]]:
    ins = instructions()
    last_from = max(i for i, (word, _) in enumerate(ins) if word == "FROM")
    return ins[last_from:]


def dockerignored(path: str) -> bool:
    ignored = False
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, pattern + "/*") \
                or path.startswith(pattern + "/"):
            ignored = not negate
    return ignored


def test_what_the_image_copies_exists_and_reaches_the_build_context():
    copies = [args.split() for word, args in instructions() if word == "COPY" and "--from=" not in args]
    assert copies
    for parts in copies:
        for source in parts[:-1]:
            assert (ROOT / source).exists(), f"COPY {source}: no such path"
            assert not dockerignored(source), f"COPY {source}: excluded by .dockerignore"
    for needed in ("dyade/settings.py", "services/triage/__main__.py", "pyproject.toml"):
        assert not dockerignored(needed), needed
    assert dockerignored(".env") and dockerignored(".venv") and dockerignored(".git"), "keep secrets out of the image"


def test_the_image_runs_as_an_unprivileged_user_with_the_container_settings():
    stage = final_stage()
    (user,) = [args for word, args in stage if word == "USER"]
    assert user.split(":")[0] not in ("0", "root")
    env = " ".join(args for word, args in stage if word == "ENV")
    assert "DYADE_HOST=0.0.0.0" in env and "DYADE_HOME=/var/lib/dyade" in env and "PYTHONPATH=/app" in env
    assert "PATH=/opt/venv/bin:" in env, "`dyade` and `dyade-healthcheck` are found on PATH"
    assert ("COPY", "--from=build /opt/venv /opt/venv") in stage and ("COPY", "--from=build /app /app") in stage
    (expose,) = [args for word, args in stage if word == "EXPOSE"]
    defaults = Settings(_env_file=None)
    assert sorted(int(p) for p in expose.split()) == sorted(defaults.port_of(s.name) for s in SERVICES)
    (cmd,) = [args for word, args in stage if word == "CMD"]
    assert json.loads(cmd)[0] == "dyade"


def test_the_dependencies_installed_are_those_of_pyproject():
    build = " ".join(args for word, args in instructions() if word == "RUN")
    assert "tomllib" in build and "['project']['dependencies']" in build
    assert "pip install --no-deps -e ." in build, "installs the `dyade` command"


def commands() -> list[list[str]]:
    cmds = [svc["command"] for svc in dyade_containers().values()]
    for workload in workloads().values():
        cmds += [c["command"] for c in workload["spec"]["template"]["spec"]["containers"]]
    for job in k8s("Job"):
        cmds += [c["command"] for c in job["spec"]["template"]["spec"]["containers"]]
    return cmds


def test_every_command_given_to_the_image_is_a_service_module_or_the_dyade_cli():
    modules = {s.module for s in SERVICES}
    for cmd in commands():
        if cmd[0] == "python":
            assert cmd[1] == "-m" and cmd[2] in modules, cmd
        else:
            assert cmd[0] == "dyade" and cmd[1] in ("migrate", "topics"), cmd


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_each_service_module_has_an_entry_point(spec):
    package = ROOT / spec.module.replace(".", "/")
    main = package / "__main__.py"
    assert main.exists(), f"{spec.module} has no __main__.py: compose and Kubernetes run `python -m {spec.module}`"
    assert importlib.util.find_spec(f"{spec.module}.__main__") is not None
    source = main.read_text(encoding="utf-8")
    compile(source, str(main), "exec")
    assert 'if __name__ == "__main__"' in source, f"{main}: running must be guarded (imported by tools)"


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):  # noqa: N802
        self.send_response(self.status if self.path == "/readyz" else 200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def health_server():
    server = http.server.HTTPServer(("127.0.0.1", free_port()), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def healthcheck(*args: str, port: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "TRIAGE_PORT": str(port), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(HEALTHCHECK), *args], env=env, capture_output=True, text=True,
                          timeout=60, cwd=ROOT)


def test_the_container_healthcheck_follows_the_service_port_and_readiness(health_server):
    port = health_server.server_address[1]
    assert healthcheck("triage", "readyz", port=port).returncode == 0
    _Health.status = 503
    try:
        assert healthcheck("triage", "readyz", port=port).returncode == 1
        assert healthcheck("triage", "healthz", port=port).returncode == 0
    finally:
        _Health.status = 200
    assert healthcheck("triage", port=free_port()).returncode == 1, "nothing listening: unhealthy"
    assert healthcheck("nosuchservice", port=port).returncode == 2
    for spec in SERVICES:
        assert healthcheck(spec.name, port=port).returncode != 2, f"dyade-healthcheck does not know {spec.name}"


def healthcheck_module():
    spec = importlib.util.spec_from_file_location("dyade_healthcheck", HEALTHCHECK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_restart_after_stops_the_service_only_after_n_failures_once_it_had_answered():
    decide = healthcheck_module().decide
    state, action = decide({}, False, 0.0, 3)
    assert action is None and state["failures"] == 0, "still starting: never stopped"
    state, _ = decide(state, True, 10.0, 3)
    for t, expected in ((20.0, None), (30.0, None), (40.0, "term"), (45.0, None), (50.0, "kill")):
        state, action = decide(state, False, t, 3)
        assert action == expected, (t, state)
    state, action = decide(state, True, 60.0, 3)
    assert action is None and state["failures"] == 0 and state["term_at"] is None


def test_restart_after_acts_only_on_the_containers_service_process(tmp_path):
    target_pid = healthcheck_module().target_pid

    def proc(pid: int, ppid: int, *args: str) -> None:
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "cmdline").write_bytes("\0".join(args).encode() + b"\0")
        (tmp_path / str(pid) / "stat").write_text(f"{pid} (x) S {ppid} 0 0")

    proc(1, 0, "/sbin/docker-init", "--", "python", "-m", "services.intake")
    proc(7, 1, "python", "-m", "services.intake")
    proc(9, 7, "python", "-m", "services.intake")
    assert target_pid("intake", tmp_path) == 7, "under `init: true`, the child of PID 1"
    assert target_pid("triage", tmp_path) is None, "another service's container: nothing"
    (tmp_path / "1" / "cmdline").write_bytes(b"python\0-m\0services.triage\0")
    assert target_pid("triage", tmp_path) == 1, "without init, PID 1 itself"


def test_restart_after_on_a_host_stops_nothing(health_server):
    port = health_server.server_address[1]
    _Health.status = 503
    try:
        for _ in range(4):
            assert healthcheck("triage", "readyz", "--restart-after", "3", port=port).returncode == 1
    finally:
        _Health.status = 200
    assert healthcheck("triage", "healthz", "--restart-after", "3", port=port).returncode == 0
    assert healthcheck("triage", "healthz", "--restart-after", "x", port=port).returncode == 2


def test_compose_healthchecks_use_the_installed_healthcheck():
    text = (ROOT / "Dockerfile").read_text()
    assert "deploy/docker/healthcheck.py /opt/venv/bin/dyade-healthcheck" in text
    for name, svc in compose()["services"].items():
        test = (svc.get("healthcheck") or {}).get("test") or []
        if "dyade-healthcheck" in test:
            assert test[2] == name


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_by_the_image() -> set[str]:
    """The distributions `pip install -r <pyproject dependencies>` brings: the closure of the declared ones."""
    from importlib.metadata import PackageNotFoundError, requires
    from packaging.requirements import Requirement
    todo = [Requirement(d) for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]]
    seen: set[str] = set()
    while todo:
        req = todo.pop()
        name = _norm(req.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            subs = requires(req.name) or []
        except PackageNotFoundError:
            continue
        for sub in map(Requirement, subs):
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in (req.extras or {""})):
                todo.append(sub)
    return seen


def test_every_library_the_code_imports_is_installed_by_the_image():
    from importlib.metadata import packages_distributions
    imported: dict[str, str] = {}
    for base in ("dyade", "services"):
        for path in (ROOT / base).rglob("*.py"):
            if "tests" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
                for name in names:
                    imported.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    distributions = packages_distributions()
    available = installed_by_the_image()
    for module, where in sorted(imported.items()):
        if module in sys.stdlib_module_names or module in ("dyade", "services", "__future__"):
            continue
        dists = {_norm(d) for d in distributions.get(module, [])}
        assert dists & available, f"{where} imports {module}, which pyproject.toml's dependencies do not install"
