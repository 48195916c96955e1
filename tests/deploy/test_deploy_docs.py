"""docs/operations.md against the files: its ready-to-paste Production section explains
`docker compose up` and lists an address for every port compose publishes."""
from __future__ import annotations

import re

from deploy_files import ROOT, compose

OPERATIONS = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")


def production_section() -> str:
    match = re.search(r"^## Production\n(.*?)(?=^## )", OPERATIONS, flags=re.S | re.M)
    assert match, "docs/operations.md must start with a `## Production` section (pasted into the README)"
    return match.group(1)


def test_the_production_section_explains_compose_up_and_every_published_address():
    section = production_section()
    assert "docker compose up" in section and "cp .env.example .env" in section
    for name, svc in compose()["services"].items():
        for mapping in svc.get("ports", []):
            host_port = mapping.split(":")[-2]
            assert f"http://localhost:{host_port}/" in section, f"{name} is published on {host_port}: say where"


def test_the_guide_covers_what_operations_need():
    for heading in ("Mise à l'échelle", "Sauvegardes et restauration", "Mises à niveau", "Ce qu'on surveille",
                    "Rotation des secrets", "Deux modes, un seul code", "Topics"):
        assert re.search(rf"^## {re.escape(heading)}$", OPERATIONS, flags=re.M), heading
    for secret in ("DYADE_PSEUDONYM_KEY", "DYADE_TOKEN_SECRET", "POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD"):
        assert secret in OPERATIONS
