"""The tables the notifier's migrations create are the ones its models describe (session's PostgreSQL)."""
from services.notifier.adapters.models import Base
from tests.kit import schema_drift


def test_migrations_match_the_models(pg_url):
    assert schema_drift(pg_url, Base.metadata, "notifier_") == []
