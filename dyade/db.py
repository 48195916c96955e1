"""Database plumbing: engines, sessions, and migrations (Alembic, one branch per service).

Every engine is made with `hide_parameters=True`: a database error's message (logged, or raised up to a
500) never quotes the statement's parameters — names, birth dates, narratives. What a log line may say of
a database error is `describe_db_error(exc)`: class, SQLSTATE and the schema objects named, never the
server's message (its DETAIL may quote the row: "Failing row contains (...)")."""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from sqlalchemy import Table, create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from dyade.files import private_file
from dyade.settings import normalise_db_url

ROOT = Path(__file__).resolve().parent.parent
SERVICES_DIR = ROOT / "services"


class DatabaseError(RuntimeError):
    """The database refused or could not be reached; the message is meant for the user."""


def secure_sqlite_file(url: str) -> None:
    """A SQLite database file is created 0600 before SQLite opens it (its -wal and -shm files take its mode),
    or closed to its owner if it exists more open. In-memory databases and missing folders are left to SQLite."""
    from sqlalchemy.engine import make_url
    try:
        parsed = make_url(url)
    except Exception:
        return
    database = parsed.database
    if not parsed.drivername.startswith("sqlite") or not database or database == ":memory:" \
            or database.startswith("file:") or parsed.query.get("mode") == "memory":
        return
    path = Path(database)
    if path.parent.is_dir():
        private_file(path)


def make_engine(url: str, **kw) -> Engine:
    url = normalise_db_url(url)
    if url.startswith("sqlite"):
        secure_sqlite_file(url)
        kw.setdefault("hide_parameters", True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kw)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _):  # WAL: readers do not block the writer
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
        return engine
    kw.setdefault("hide_parameters", True)
    return create_engine(url, pool_pre_ping=True, pool_size=kw.pop("pool_size", 10),
                         max_overflow=kw.pop("max_overflow", 20), **kw)


def describe_db_error(exc: BaseException) -> str:
    """What a log line may say about an error, a database's included: its class, SQLSTATE, and the table,
    column and constraint it names. Never the message (a server's DETAIL quotes values; a statement
    error quotes its parameters unless hidden)."""
    orig = getattr(exc, "orig", None)
    parts = [type(exc).__name__ + (f" ({type(orig).__module__}.{type(orig).__name__})" if orig is not None else "")]
    source = orig if orig is not None else exc
    code = getattr(source, "sqlstate", None) or getattr(source, "pgcode", None)
    if code:
        parts.append(f"SQLSTATE {code}")
    diag = getattr(source, "diag", None)
    for attr, label in (("table_name", "table"), ("column_name", "colonne"), ("constraint_name", "contrainte")):
        value = getattr(diag, attr, None)
        if value:
            parts.append(f"{label}={value}")
    return " ".join(parts)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session], bind=None) -> Iterator[Session]:
    """A transaction: committed if the block succeeds, rolled back otherwise. `bind`: run it on a
    connection the caller holds instead of one from the pool."""
    session = factory(bind=bind) if bind is not None else factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def insert_ignoring_duplicates(bind: Session | Connection | str, table, index_elements: list[str] | None = None):
    """`INSERT ... ON CONFLICT DO NOTHING` on the two databases Dyade runs on (PostgreSQL, SQLite): the one
    place that knows each dialect's construct. `bind`: a session, a connection or the dialect's name; `table`:
    a Table or a mapped class."""
    if isinstance(bind, str):
        dialect = bind
    else:
        dialect = bind.get_bind().dialect.name if isinstance(bind, Session) else bind.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - Dyade runs on these two
        raise RuntimeError(f"base non prise en charge: {dialect}")
    return insert(table).on_conflict_do_nothing(index_elements=index_elements)


def insert_ignore(session: Session, table: Table, values: dict) -> bool:
    """One row, kept unless it is a duplicate; True when the row was inserted."""
    return bool(session.execute(insert_ignoring_duplicates(session, table).values(**values)).rowcount)


def insert_ignore_returning(session: Session, table: Table, rows: list[dict], column) -> set:
    """Many rows, duplicates dropped: the values of `column` actually inserted."""
    return {r[0] for r in session.execute(insert_ignoring_duplicates(session, table).returning(column), rows)}


def check_database(url: str, timeout: float = 3.0) -> None:
    url = normalise_db_url(url)
    kw = {"connect_args": {"connect_timeout": int(max(1, timeout))}} if url.startswith("postgresql") else {}
    if url.startswith("sqlite"):
        secure_sqlite_file(url)
    try:
        engine = create_engine(url, hide_parameters=True, **kw)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        raise DatabaseError(f"base de données inaccessible ({_redact(url)}): {_first_line(exc)}") from exc


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "URL invalide"


def _first_line(exc: BaseException) -> str:
    msg = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return msg[0] if msg else type(exc).__name__


def migration_locations() -> list[str]:
    return sorted(str(p) for p in SERVICES_DIR.glob("*/migrations") if p.is_dir() and any(p.glob("*.py")))


def alembic_config(url: str):
    from alembic.config import Config
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "dyade" / "migrations"))
    cfg.set_main_option("version_locations", " ".join(migration_locations()))
    cfg.set_main_option("path_separator", "space")
    cfg.set_main_option("sqlalchemy.url", normalise_db_url(url).replace("%", "%%"))
    return cfg


def migrate(url: str) -> None:
    """Bring every service's tables to the newest revision (all branch heads)."""
    from alembic import command
    check_database(url)
    command.upgrade(alembic_config(url), "heads")


PG_ADMIN_URL = os.environ.get("DYADE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def scratch_database(prefix: str = "dyade_scratch", *, migrated: bool = True,
                     admin_url: str = PG_ADMIN_URL) -> tuple[str, Callable[[], None]]:
    """A new PostgreSQL database (tests, benchmarks), migrated to every service's head, and the function
    that drops it."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", hide_parameters=True)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()

    if migrated:
        try:
            migrate(url)
        except BaseException:
            drop()
            raise
    return url, drop
