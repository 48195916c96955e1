"""What the deployment tests read: the deployment files, and what the code says they must agree with
(Settings fields, the services' own option classes, the environment variables the code reads)."""
from __future__ import annotations

import ast
import re
from functools import lru_cache
from pathlib import Path

import yaml

from dyade.service import SERVICES
from dyade.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
SERVICE_NAMES = {s.name for s in SERVICES}
INTERPOLATION = re.compile(r"\$\{([A-Z][A-Z0-9_]*)(?:(:?[-?])([^}]*))?\}")
ENV_LINE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$")
SECRETS = ("DYADE_PSEUDONYM_KEY", "DYADE_TOKEN_SECRET", "POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD")


def load_yaml(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_all(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


@lru_cache
def compose() -> dict:
    return load_yaml(ROOT / "docker-compose.yml")


def compose_text() -> str:
    return (ROOT / "docker-compose.yml").read_text(encoding="utf-8")


def dyade_containers() -> dict[str, dict]:
    """Compose services that run the Dyade image (services and one-shot jobs)."""
    return {name: svc for name, svc in compose()["services"].items()
            if svc.get("build") or str(svc.get("image", "")).startswith("${DYADE_IMAGE")}


def compose_service_of(svc: dict) -> str | None:
    cmd = svc.get("command") or []
    if cmd[:2] == ["python", "-m"] and cmd[2].startswith("services."):
        return cmd[2].split(".", 1)[1]
    return None


def interpolated(text: str) -> dict[str, list[tuple[str, str]]]:
    """Every ${VAR}, ${VAR:-default}, ${VAR:?message} in a text: name → [(operator, argument)]."""
    out: dict[str, list[tuple[str, str]]] = {}
    for m in INTERPOLATION.finditer(text):
        out.setdefault(m.group(1), []).append((m.group(2) or "", m.group(3) or ""))
    return out


def resolve(value: str, env: dict[str, str]) -> str:
    """Compose's interpolation of one value, with `env` as the .env file."""
    def sub(m: re.Match) -> str:
        name, op, arg = m.group(1), m.group(2) or "", m.group(3) or ""
        if env.get(name):
            return env[name]
        if op.endswith("?"):
            raise KeyError(f"{name} is required: {arg}")
        return arg if op.endswith("-") else ""
    return INTERPOLATION.sub(sub, str(value))


def interpolate(doc, env: dict[str, str]):
    """A whole compose document as `docker compose config` sees it with `env` as the .env file."""
    if isinstance(doc, str):
        return resolve(doc, env).replace("$$", "$")
    if isinstance(doc, list):
        return [interpolate(item, env) for item in doc]
    if isinstance(doc, dict):
        return {key: interpolate(value, env) for key, value in doc.items()}
    return doc


@lru_cache
def env_example() -> dict[str, tuple[str, bool]]:
    """.env.example: name → (value, commented)."""
    out = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        m = ENV_LINE.match(line.strip())
        if m:
            out[m.group(1)] = (m.group(2), line.lstrip().startswith("#"))
    return out


def settings_vars() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


def _service_sources():
    """The services' code and the shared package they run on (the consumer kernel reads its own options)."""
    for path in [*sorted((ROOT / "services").glob("*/**/*.py")), *sorted((ROOT / "dyade").glob("**/*.py"))]:
        rel = path.relative_to(ROOT).parts
        if "tests" in rel or "migrations" in rel:
            continue
        yield path


@lru_cache
def service_option_vars() -> dict[str, str]:
    """Environment variables the services read besides Settings: fields of their own pydantic
    BaseSettings classes (with env_prefix) and literal os.environ names. Found by reading the code
    (AST), so a service not written yet simply contributes nothing. name → file."""
    found: dict[str, str] = {}
    for path in _service_sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        rel = str(path.relative_to(ROOT))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(
                    (isinstance(b, ast.Name) and b.id == "BaseSettings")
                    or (isinstance(b, ast.Attribute) and b.attr == "BaseSettings") for b in node.bases):
                prefix = ""
                for stmt in node.body:
                    if isinstance(stmt, ast.Assign) and any(
                            isinstance(t, ast.Name) and t.id == "model_config" for t in stmt.targets):
                        for kw in getattr(stmt.value, "keywords", []):
                            if kw.arg == "env_prefix" and isinstance(kw.value, ast.Constant):
                                prefix = kw.value.value
                for stmt in node.body:
                    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) \
                            and stmt.target.id != "model_config" and not stmt.target.id.startswith("_"):
                        found[(prefix + stmt.target.id).upper()] = rel
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str) and _is_environ_read(node.func):
                found[node.args[0].value] = rel
            if isinstance(node, ast.Subscript) and _is_environ(node.value) \
                    and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                found[node.slice.value] = rel
    return {k: v for k, v in found.items() if re.fullmatch(r"[A-Z][A-Z0-9_]*", k)}


def _is_environ(node) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ"


def _is_environ_read(func) -> bool:
    if isinstance(func, ast.Attribute) and func.attr == "get" and _is_environ(func.value):
        return True
    return isinstance(func, ast.Attribute) and func.attr == "getenv"


def known_app_vars() -> set[str]:
    """Every variable a Dyade process reads."""
    return settings_vars() | set(service_option_vars())


# Variables of the container platform, not of Dyade (documented where they are used).
PROCESS_VARS = {"PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "PYTHONPATH", "PATH", "TZ"}


@lru_cache
def k8s_docs() -> list[dict]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        for d in load_all(path):
            d.setdefault("__file__", path.name)
            docs.append(d)
    return docs


def k8s(kind: str) -> list[dict]:
    return [d for d in k8s_docs() if d["kind"] == kind]


def workloads() -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in k8s_docs() if d["kind"] in ("Deployment", "StatefulSet")}


def without_file(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "__file__"}
