#!/usr/bin/env python
"""`dyade-healthcheck SERVICE [healthz|readyz] [--restart-after N]`: exit 0 when the service answers 200
on that route.

Used by the container healthchecks (docker compose); the port is the service's port in Settings, so it
follows INTAKE_PORT, TRIAGE_PORT... like the service itself. Imports only the settings (no web or
Kafka library), since it runs every few seconds in every container.

Docker marks a container "unhealthy" but never restarts it. `--restart-after N` makes the check act:
once the service has answered at least once, N failures in a row stop it (SIGTERM, then SIGKILL at a
later check 10 s on), so the container exits and `restart: unless-stopped` starts a new one. The
process acted on is the container's service: PID 1 when it is `python -m services.<name>`, or a child
of PID 1 (under `init: true`); anywhere else (a host, a test) no process is found and nothing is
stopped. The count is kept in the temporary directory (tmpfs in the container), per service process."""
from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

ROUTES = ("healthz", "readyz")
KILL_GRACE_S = 10.0


def decide(state: dict, ok: bool, now: float, restart_after: int, grace: float = KILL_GRACE_S) -> tuple[dict, str | None]:
    """Next state and what to do: None, "term" or "kill". Failures count only once the service has
    answered (a service still starting is not stopped)."""
    state = {"seen_ok": False, "failures": 0, "term_at": None, **state}
    if ok:
        return {**state, "seen_ok": True, "failures": 0, "term_at": None}, None
    if not state["seen_ok"]:
        return state, None
    state["failures"] += 1
    if state["term_at"] is not None:
        return state, ("kill" if now - state["term_at"] >= grace else None)
    if state["failures"] >= restart_after:
        state["term_at"] = now
        return state, "term"
    return state, None


def _cmdline(proc: Path, pid: int) -> list[str]:
    try:
        return (proc / str(pid) / "cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _ppid(proc: Path, pid: int) -> int | None:
    try:
        return int((proc / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def target_pid(service: str, proc: Path = Path("/proc")) -> int | None:
    """The container's service process: PID 1, or a child of PID 1, running `-m services.<service>`."""
    def runs_service(pid: int) -> bool:  # python itself, not an init whose arguments name it
        args = _cmdline(proc, pid)
        return len(args) > 2 and Path(args[0]).name.startswith("python") \
            and args[1:3] == ["-m", f"services.{service}"]
    if runs_service(1):
        return 1
    for entry in proc.glob("[0-9]*"):
        pid = int(entry.name)
        if pid != 1 and _ppid(proc, pid) == 1 and runs_service(pid):
            return pid
    return None


def _tell(pid: int, service: str, message: str) -> None:
    """On the service's own stderr (`docker compose logs`) as a JSON line like its logs, and on ours."""
    print(message, file=sys.stderr)
    line = {"ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), "level": "error",
            "service": service, "logger": "dyade.healthcheck", "msg": message}
    try:
        with open(f"/proc/{pid}/fd/2", "a", encoding="utf-8") as err:
            err.write(json.dumps(line, ensure_ascii=False) + "\n")
    except OSError:
        pass


def act(service: str, port: int, ok: bool, restart_after: int, route: str) -> None:
    pid = target_pid(service)
    if pid is None:
        return
    path = Path(tempfile.gettempdir()) / f"dyade-healthcheck-{service}-{port}.json"
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        state = {}
    if state.get("pid") != pid:
        state = {"pid": pid}
    state, action = decide(state, ok, time.time(), restart_after)
    if action == "term":
        _tell(pid, service, f"/{route} en échec {state['failures']} fois de suite : arrêt du service (SIGTERM) "
                            f"pour que le conteneur redémarre")
        os.kill(pid, signal.SIGTERM)
    elif action == "kill":
        _tell(pid, service, f"toujours là {KILL_GRACE_S:.0f} s après SIGTERM : SIGKILL")
        os.kill(pid, signal.SIGKILL)
    try:
        path.write_text(json.dumps(state))
    except OSError:
        pass


def main(argv: list[str]) -> int:
    from dyade.settings import Settings  # light on purpose: this runs every few seconds in each container
    names = [field[: -len("_port")] for field in Settings.model_fields if field.endswith("_port")]
    restart_after = None
    if "--restart-after" in argv:
        i = argv.index("--restart-after")
        try:
            restart_after = int(argv[i + 1])
        except (IndexError, ValueError):
            restart_after = 0
        argv = argv[:i] + argv[i + 2:]
    if not argv or argv[0] not in names or (len(argv) > 1 and argv[1] not in ROUTES) or len(argv) > 2 \
            or (restart_after is not None and restart_after < 1):
        print(f"usage: dyade-healthcheck {{{'|'.join(names)}}} [{'|'.join(ROUTES)}] [--restart-after N]",
              file=sys.stderr)
        return 2
    route = argv[1] if len(argv) > 1 else "readyz"
    port = Settings().port_of(argv[0])
    url = f"http://127.0.0.1:{port}/{route}"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            ok = response.status == 200
    except (urllib.error.URLError, OSError) as exc:  # HTTPError (a 500) is a URLError
        print(f"{argv[0]} /{route}: {exc}", file=sys.stderr)
        ok = False
    if restart_after:
        try:
            act(argv[0], port, ok, restart_after, route)
        except OSError as exc:  # never let the check itself fail differently
            print(f"{argv[0]}: redémarrage impossible: {exc}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
