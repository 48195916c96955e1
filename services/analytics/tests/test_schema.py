"""The tables analytics' migrations create are the ones its models describe (session's PostgreSQL)."""
from services.analytics.adapters.models import metadata
from tests.kit import schema_drift


def test_migrations_match_the_models(pg_url):
    assert schema_drift(pg_url, metadata, "analytics_") == []
