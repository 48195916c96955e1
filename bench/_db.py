"""The benchmarks' database: a scratch PostgreSQL database (migrated, dropped afterwards), or a SQLite file
when no PostgreSQL answers."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable

from dyade.db import migrate, scratch_database


def bench_database(prefix: str) -> tuple[str, Callable[[], None]]:
    try:
        return scratch_database(prefix)
    except Exception:
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
        migrate(url)
        return url, lambda: None
