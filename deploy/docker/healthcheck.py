#!/usr/bin/env python
"""`dyade-healthcheck SERVICE [healthz|readyz]`: exit 0 when the service answers 200 on that route.

Used by the container healthchecks (docker compose); the port is the service's port in Settings, so it
follows INTAKE_PORT, TRIAGE_PORT... like the service itself. Imports only the settings (no web or
Kafka library), since it runs every few seconds in every container."""
from __future__ import annotations

import sys
import urllib.error
import urllib.request

ROUTES = ("healthz", "readyz")


def main(argv: list[str]) -> int:
    from dyade.settings import Settings  # light on purpose: this runs every few seconds in each container
    names = [field[: -len("_port")] for field in Settings.model_fields if field.endswith("_port")]
    if not argv or argv[0] not in names or (len(argv) > 1 and argv[1] not in ROUTES):
        print(f"usage: dyade-healthcheck {{{'|'.join(names)}}} [{'|'.join(ROUTES)}]", file=sys.stderr)
        return 2
    route = argv[1] if len(argv) > 1 else "readyz"
    url = f"http://127.0.0.1:{Settings().port_of(argv[0])}/{route}"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"{argv[0]} /{route}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
