"""Every service has the same shape (ARCHITECTURE.md), its domain is pure, and the files ARCHITECTURE.md
names exist: the page a newcomer follows cannot rot."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "triage", "infosocial", "notifier", "analytics")
SHAPE = {"__init__.py", "__main__.py", "bootstrap.py", "domain", "adapters", "entrypoints", "tests"}
ALSO_ALLOWED = {"config.py", "runtime.py", "migrations", "mappings", "templates", "static", "README.md",
                "__pycache__"}
IO_MODULES = ("sqlalchemy", "kafka", "aiokafka", "faust", "fastapi", "starlette", "httpx", "uvicorn",
              "psycopg", "requests", "dyade.db", "dyade.kafka", "dyade.outbox", "dyade.consumer")


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_the_same_skeleton(service):
    here = ROOT / "services" / service
    entries = {p.name for p in here.iterdir()}
    assert SHAPE <= entries, f"{service}: missing {sorted(SHAPE - entries)}"
    assert entries <= SHAPE | ALSO_ALLOWED, f"{service}: modules outside the skeleton {sorted(entries - SHAPE - ALSO_ALLOWED)}"
    main = (here / "__main__.py").read_text()
    assert f"services.{service}.bootstrap" in main, f"{service}/__main__.py does not start from bootstrap"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("service", SERVICES)
def test_the_domain_does_no_io_and_imports_no_other_layer(service):
    for path in (ROOT / "services" / service / "domain").glob("*.py"):
        for name in _imports(path):
            assert not any(name == m or name.startswith(m + ".") for m in IO_MODULES), f"{path.name} imports {name}"
            assert not re.match(rf"services\.{service}\.(adapters|entrypoints|bootstrap|runtime)\b", name), \
                f"{path.name} imports {name}"


@pytest.mark.parametrize("service", SERVICES)
def test_adapters_do_not_reach_into_entrypoints(service):
    for path in (ROOT / "services" / service / "adapters").rglob("*.py"):
        for name in _imports(path):
            allowed = name == f"services.{service}.entrypoints.views"  # what a push message shows
            assert allowed or not name.startswith(f"services.{service}.entrypoints"), f"{path.name} imports {name}"


def test_files_named_in_architecture_md_exist():
    text = (ROOT / "ARCHITECTURE.md").read_text()
    named = set(re.findall(r"`((?:services|dyade|docs|deploy)/[\w./-]+)`", text))
    assert len(named) > 10
    service = None
    missing = []
    for line in text.splitlines():  # `domain/x.py` in a step means the service the step is in
        m = re.search(r"services/(\w+)/", line)
        service = m.group(1) if m else service
        for rel in re.findall(r"`((?:domain|adapters|entrypoints)/[\w.]+\.py)`", line):
            if service and not (ROOT / "services" / service / rel).exists():
                missing.append(f"services/{service}/{rel}")
    missing += [p for p in named if not (ROOT / p).exists()]
    assert not missing, missing
