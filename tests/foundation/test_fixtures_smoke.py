from kafka import KafkaConsumer
from sqlalchemy import create_engine, text

from dyade.kafka import missing_topics


def test_broker_has_every_declared_topic(broker):
    assert missing_topics(broker.bootstrap_servers) == []


def test_session_database_is_postgresql(pg_url):
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        assert conn.execute(text("select current_database()")).scalar().startswith("dyade_test_")
    engine.dispose()
