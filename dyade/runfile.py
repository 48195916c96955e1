"""`DYADE_HOME/run.json`: what a running `dyade up` started, for the other `dyade` commands.

`dyade up` writes it (mode 0600) once the broker answers, rewrites it when a service is restarted, and
removes it when it stops. It holds the bootstrap servers (the embedded broker's port is chosen free at
each start), each service's URL, pid, state and restarts. A file left by a `dyade up` that was killed
is ignored (its pid no longer runs `dyade`)."""
from __future__ import annotations

import json
import os
from pathlib import Path

from dyade.process import alive

NAME = "run.json"


def path_of(home: Path | str) -> Path:
    return Path(home) / NAME


def write(home: Path | str, doc: dict) -> Path:
    """Atomically (re)write the file, readable by its owner only."""
    path = path_of(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{NAME}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def remove(home: Path | str, pid: int | None = None) -> None:
    """Remove the file if it is ours (`pid`), or in any case without `pid`."""
    path = path_of(home)
    if pid is not None:
        doc = _load(path)
        if doc is not None and doc.get("pid") != pid:
            return
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _load(path: Path) -> dict | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _runs_dyade(pid: int) -> bool:
    if not alive(pid):
        return False
    try:
        return b"dyade" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # not Linux /proc: trust the pid


def running(home: Path | str) -> dict | None:
    """The run.json of a `dyade up` that is still running for this DYADE_HOME, or None."""
    doc = _load(path_of(home))
    if doc is None or not isinstance(doc.get("pid"), int) or not _runs_dyade(doc["pid"]):
        return None
    return doc


def bootstrap_servers(home: Path | str) -> str | None:
    """The bootstrap servers of the running `dyade up` of this DYADE_HOME (its embedded broker)."""
    doc = running(home)
    value = doc.get("bootstrap_servers") if doc else None
    return value if isinstance(value, str) and value else None


def service_urls(home: Path | str) -> dict[str, str]:
    """name → URL of the services the running `dyade up` of this DYADE_HOME started ({} if none)."""
    doc = running(home)
    services = doc.get("services") if doc else None
    if not isinstance(services, dict):
        return {}
    return {name: s["url"] for name, s in services.items() if isinstance(s, dict) and isinstance(s.get("url"), str)}
