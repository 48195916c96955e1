"""Small database helpers that work the same on PostgreSQL and SQLite."""
from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.orm import Session


def insert_ignore(session: Session, table: Table, values: dict) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when the row was inserted."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - Dyade runs on these two
        raise RuntimeError(f"base non prise en charge: {dialect}")
    result = session.execute(insert(table).values(**values).on_conflict_do_nothing())
    return bool(result.rowcount)


def insert_ignore_returning(session: Session, table: Table, rows: list[dict], column) -> set:
    """Many rows, INSERT ... ON CONFLICT DO NOTHING RETURNING column: the values actually inserted."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table).on_conflict_do_nothing().returning(column)
    return {r[0] for r in session.execute(stmt, rows)}
