"""Code tables from YAML files: the shipped ones in services/intake/mappings/ and a city's own in
INTAKE_MAPPINGS_DIR. A request names its table (`code_table=berkeley`); otherwise INTAKE_CODE_TABLE
(default `quebec`, from mappings/default.yaml) applies."""
from __future__ import annotations

import os
from pathlib import Path

import yaml

from services.intake.domain.codes import CodeTable

SHIPPED_DIR = Path(__file__).resolve().parent / "mappings"
DEFAULT_TABLE = "quebec"


class MappingError(ValueError):
    """A mapping or code-table file is unreadable or invalid; the message says which and why."""


def read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MappingError(f"{path}: illisible ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: YAML invalide ({exc})") from exc
    if not isinstance(data, dict):
        raise MappingError(f"{path}: un objet YAML (clé: valeur) est attendu")
    return data


def table_from(data: dict, origin: str) -> CodeTable:
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise MappingError(f"{origin}: champ `name` requis")
    codes = data.get("codes") or {}
    if not isinstance(codes, dict):
        raise MappingError(f"{origin}: `codes` doit être une table code → catégorie")
    labels = data.get("labels") or {}
    try:
        return CodeTable.build(name.strip(), {str(k): v for k, v in codes.items()}, data.get("unknown_code", "reject"),
                               labels if isinstance(labels, dict) else {},
                               str(data.get("source_system") or "cad"))
    except ValueError as exc:
        raise MappingError(f"{origin}: {exc}") from exc


def load_table(path: str | Path) -> CodeTable:
    path = Path(path)
    return table_from(read_yaml(path), str(path))


class CodeTables:
    """Every known table by name, and the default one."""

    def __init__(self, tables: dict[str, CodeTable], default: str):
        if default not in tables:
            raise MappingError(f"table de codes par défaut inconnue: {default!r} (connues: {', '.join(sorted(tables))})")
        self.tables = tables
        self.default = default

    @classmethod
    def load(cls, extra_dirs: list[Path] | None = None, default: str | None = None) -> "CodeTables":
        dirs = [SHIPPED_DIR]
        env_dir = os.environ.get("INTAKE_MAPPINGS_DIR")
        if env_dir:
            dirs += [Path(d) for d in env_dir.split(os.pathsep) if d]
        dirs += extra_dirs or []
        tables: dict[str, CodeTable] = {}
        for d in dirs:
            for path in sorted(Path(d).glob("*.y*ml")):
                table = load_table(path)
                tables[table.name] = table  # a city's own file overrides a shipped table of the same name
        return cls(tables, default or os.environ.get("INTAKE_CODE_TABLE") or DEFAULT_TABLE)

    def get(self, name: str | None) -> CodeTable:
        if not name:
            return self.tables[self.default]
        table = self.tables.get(name)
        if table is None:
            raise KeyError(name)
        return table

    def names(self) -> list[str]:
        return sorted(self.tables)
