"""Code tables: the shipped ones in services/intake/mappings/, a city's own files in INTAKE_MAPPINGS_DIR,
and the tables loaded at run time through `PUT /v1/code-tables/{name}` (code_table_api.py), kept in a
versioned, audited store (table `intake_code_tables`, one row per version; `intake_code_table_audit`, one
row per change request, made by migrations/intake_0005_code_tables.py). A stored table overrides a file of
the same name, and every intake process sees a new version within `refresh_s` seconds: no restart.

A request names its table (`code_table=berkeley`); otherwise INTAKE_CODE_TABLE (default `quebec`, from
mappings/default.yaml) applies."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import yaml
from sqlalchemy import JSON, BigInteger, Column, DateTime, Integer, String, Table, Text, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from services.intake.domain.codes import CodeTable
from services.intake.adapters.models import metadata
from dyade.clock import utcnow

log = logging.getLogger("intake.code_tables")
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "mappings"
DEFAULT_TABLE = "quebec"
TZ = DateTime(timezone=True)
SEQ = BigInteger().with_variant(Integer, "sqlite")

versions = Table(
    "intake_code_tables", metadata,
    Column("name", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("content", JSON, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_role", String(30), nullable=False),
    Column("reason", Text),
)
audit = Table(
    "intake_code_table_audit", metadata,
    Column("id", SEQ, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("action", String(20), nullable=False),  # created | unchanged
    Column("sha256", String(64), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("role", String(30), nullable=False),
    Column("reason", Text),
    Column("at", TZ, nullable=False),
)


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
    skip = data.get("skip") or []
    if not isinstance(skip, list):
        raise MappingError(f"{origin}: `skip` doit être une liste de codes (p. ex. skip: [T, 1194B])")
    labels = data.get("labels") or {}
    try:
        return CodeTable.build(name.strip(), {str(k): v for k, v in codes.items()}, data.get("unknown_code", "reject"),
                               labels if isinstance(labels, dict) else {},
                               str(data.get("source_system") or "cad"), [str(s) for s in skip],
                               str(data.get("description") or ""))
    except ValueError as exc:
        raise MappingError(f"{origin}: {exc}") from exc


def load_table(path: str | Path) -> CodeTable:
    path = Path(path)
    return table_from(read_yaml(path), str(path))


def content_hash(content: dict) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass(frozen=True)
class StoredTable:
    name: str
    version: int
    content: dict
    sha256: str
    created_at: datetime
    created_by: str
    created_role: str
    reason: str | None

    def as_json(self) -> dict:
        return {"name": self.name, "version": self.version, "sha256": self.sha256,
                "created_at": self.created_at.isoformat(), "created_by": self.created_by,
                "created_role": self.created_role, "reason": self.reason}


def _stored(row) -> StoredTable:
    at = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=timezone.utc)
    return StoredTable(row.name, row.version, row.content, row.sha256, at, row.created_by, row.created_role,
                       row.reason)


class CodeTableStore:
    """Versions of the tables loaded by API: a new version only when the content changes; every request to
    change one (new version or same content again) is written to the audit table with who, role and why."""

    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    def put(self, table: CodeTable, *, subject: str, role: str, reason: str | None,
            now: datetime | None = None) -> tuple[StoredTable, bool]:
        """(the version now current, whether it was created)."""
        now = now or utcnow()
        content = table.as_content()
        digest = content_hash(content)
        with self.sessions.begin() as session:
            if session.bind.dialect.name == "postgresql":  # one writer per table name at a time
                session.execute(select(func.pg_advisory_xact_lock(func.hashtext("intake_code_tables:" + table.name))))
            latest = session.execute(select(versions).where(versions.c.name == table.name)
                                     .order_by(versions.c.version.desc()).limit(1)).first()
            created = latest is None or latest.sha256 != digest
            if created:
                version = (latest.version if latest else 0) + 1
                session.execute(insert(versions).values(
                    name=table.name, version=version, content=content, sha256=digest, created_at=now,
                    created_by=subject[:200], created_role=role[:30], reason=reason))
            else:
                version = latest.version
            session.execute(insert(audit).values(name=table.name, version=version,
                                                 action="created" if created else "unchanged", sha256=digest,
                                                 subject=subject[:200], role=role[:30], reason=reason, at=now))
        current = self.get(table.name, version)
        assert current is not None
        return current, created

    def get(self, name: str, version: int | None = None) -> StoredTable | None:
        q = select(versions).where(versions.c.name == name)
        q = q.where(versions.c.version == version) if version else q.order_by(versions.c.version.desc()).limit(1)
        with self.sessions() as session:
            row = session.execute(q).first()
        return _stored(row) if row else None

    def history(self, name: str) -> list[dict]:
        with self.sessions() as session:
            rows = session.execute(select(audit).where(audit.c.name == name).order_by(audit.c.id)).all()
        return [{"version": r.version, "action": r.action, "sha256": r.sha256, "subject": r.subject,
                 "role": r.role, "reason": r.reason,
                 "at": (r.at if r.at.tzinfo else r.at.replace(tzinfo=timezone.utc)).isoformat()} for r in rows]

    def latest_versions(self) -> dict[str, int]:
        with self.sessions() as session:
            return {n: v for n, v in session.execute(
                select(versions.c.name, func.max(versions.c.version)).group_by(versions.c.name))}


class CodeTables:
    """Every known table by name, and the default one. With a store attached (`attach`), the stored
    tables join (and override) the files', and a new stored version is picked up within `refresh_s`."""

    def __init__(self, tables: dict[str, CodeTable], default: str):
        if default not in tables:
            raise MappingError(f"table de codes par défaut inconnue: {default!r} (connues: {', '.join(sorted(tables))})")
        self._tables = dict(tables)
        self.default = default
        self.store: CodeTableStore | None = None
        self.stored: dict[str, int] = {}  # name → version loaded from the store
        self.refresh_s = 5.0
        self._checked = 0.0
        self._lock = threading.Lock()

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

    # --- the store --------------------------------------------------------------------------------------
    def attach(self, store: CodeTableStore, *, refresh_s: float = 5.0) -> "CodeTables":
        self.store, self.refresh_s = store, refresh_s
        try:
            self.refresh(force=True)
        except Exception as exc:  # the database may not be up yet: the next lookup tries again
            log.warning("tables de codes enregistrées non chargées (%s); nouvel essai au prochain appel",
                        type(exc).__name__)
        return self

    def refresh(self, *, force: bool = False) -> None:
        if self.store is None or (not force and time.monotonic() - self._checked < self.refresh_s):
            return
        with self._lock:
            if not force and time.monotonic() - self._checked < self.refresh_s:
                return
            latest = self.store.latest_versions()
            for name, version in latest.items():
                if self.stored.get(name) != version:
                    row = self.store.get(name, version)
                    if row is not None:
                        self.install(CodeTable.from_content(name, row.content), version)
            self._checked = time.monotonic()

    def install(self, table: CodeTable, version: int) -> None:
        """A stored version, in use at once by this process (the others within `refresh_s`)."""
        self._tables[table.name] = table
        self.stored[table.name] = version

    def _fresh(self) -> None:
        try:
            self.refresh()
        except Exception as exc:  # the tables in memory stay in use
            log.warning("rafraîchissement des tables de codes impossible (%s)", type(exc).__name__)
            self._checked = time.monotonic()

    # --- lookups ----------------------------------------------------------------------------------------
    @property
    def tables(self) -> dict[str, CodeTable]:
        self._fresh()
        return self._tables

    def get(self, name: str | None) -> CodeTable:
        self._fresh()
        if not name:
            return self._tables[self.default]
        table = self._tables.get(name)
        if table is None and self.store is not None:  # put a moment ago through another process
            self._checked = 0.0
            self._fresh()
            table = self._tables.get(name)
        if table is None:
            raise KeyError(name)
        return table

    def origin(self, name: str) -> str:
        return f"api v{self.stored[name]}" if name in self.stored else "fichier"

    def names(self) -> list[str]:
        return sorted(self._tables)
