"""The tables the migrations create are the ones the models describe (on the session's PostgreSQL)."""
from services.infosocial.adapters.models import Base
from tests.kit import schema_drift


def test_migrations_match_the_models(pg_url):
    assert schema_drift(pg_url, Base.metadata, "infosocial_") == []
