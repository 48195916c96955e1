"""The tables the notifier's migrations create are the ones its models describe (session's PostgreSQL)."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from services.notifier.adapters.models import Base


def test_migrations_match_the_models(pg_url):
    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert [d for d in diff if "notifier_" in repr(d)] == []
