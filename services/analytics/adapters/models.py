"""Analytics' own tables: facts taken from the event streams, as they came, one row per event (or per call).

Every figure is recomputed from these facts by `services.analytics.domain`; nothing here is a running
total, so the order events arrive in across topics does not matter and a rebuild gives the same figures.
Person keys are pseudonymous (`p_...`); no name or narrative is stored.

Instants are stored in UTC (`UtcDateTime`): on PostgreSQL as `timestamptz`, on SQLite as ISO 8601 text with
its `+00:00` offset. An event's time is converted from whatever offset its source gave (−05:00 for
Montréal in winter, −07:00 for a Berkeley replay) at the moment it is written, never kept as wall time.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, Boolean, Column, DateTime, Integer, MetaData, String, Table, false
from sqlalchemy.types import TypeDecorator

from dyade.contracts.vocabulary import SECTOR_MAX_LENGTH
from dyade.ledger import processed_events


def to_utc(value: datetime | None) -> datetime | None:
    """An instant in UTC. A naive datetime (no offset: not what the contracts promise) is taken as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class UtcDateTime(TypeDecorator):
    """A timezone-aware instant, written and read back in UTC.

    SQLAlchemy's own DateTime on SQLite drops the offset and keeps the wall time (10:00−05:00 became
    10:00, read back as 10:00 UTC: five hours off). Here every value is converted to UTC first; SQLite
    gets ISO text (`2026-12-01T15:00:00.000000+00:00`), PostgreSQL a `timestamptz`. A SQLite row written
    before (text without an offset: a wall time whose zone is lost) is read as UTC; such rows predate
    analytics_0002, so their call has no `ingested_at`, which the dashboard counts as facts to rebuild
    (`dyade analytics rebuild`)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        value = to_utc(value)
        return value.isoformat(timespec="microseconds") if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return to_utc(value)


metadata = MetaData()

processed = processed_events("analytics", metadata)  # the events stored (dyade.ledger)

calls = Table(
    "analytics_calls", metadata,
    Column("call_id", String(128), primary_key=True),
    Column("revision", Integer, nullable=False),
    Column("received_at", UtcDateTime(), nullable=False, index=True),
    Column("category", String(40), nullable=False),
    Column("nature_code", String(64), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("location_key", String(128), nullable=False, index=True),
    Column("address", String(300)),
    Column("sector", String(SECTOR_MAX_LENGTH)),
    Column("caller_relation", String(20)),
    # When intake published the call (the event's produced_at, earliest revision): the start of the
    # processing-time latencies. NULL for a row stored before analytics_0002 (rebuild fills it).
    Column("ingested_at", UtcDateTime()),
    # The source said this call is a replay or a backfill (see domain.facts.REPLAY_MARKERS).
    Column("replayed", Boolean, nullable=False, server_default=false(), default=False),
)

call_persons = Table(
    "analytics_call_persons", metadata,
    Column("call_id", String(128), primary_key=True),
    Column("person_key", String(128), primary_key=True),
    Column("role", String(20), nullable=False),
)

def event_facts(name: str, about: str, *columns: Column) -> Table:
    """A table of one row per event about one thing (`about`, its id): the event's id, what it says, when it
    occurred."""
    return Table(name, metadata, Column("event_id", String(36), primary_key=True),
                 Column(about, String(128), nullable=False, index=True), *columns,
                 Column("occurred_at", UtcDateTime(), nullable=False))


call_updates = event_facts(
    "analytics_call_updates", "call_id",
    Column("status", String(20), nullable=False),
    Column("disposition", String(40)),
    Column("dyad_id", String(64)),
    Column("sector", String(SECTOR_MAX_LENGTH)),
    Column("person_keys", JSON, nullable=False),
)

decisions = Table(
    "analytics_decisions", metadata,
    Column("decision_id", String(128), primary_key=True),
    Column("call_id", String(128), nullable=False, index=True),
    Column("call_revision", Integer, nullable=False),
    Column("level", String(40), nullable=False),
    Column("sector", String(SECTOR_MAX_LENGTH)),
    Column("category", String(40), nullable=False),
    Column("call_received_at", UtcDateTime(), nullable=False),
    Column("decided_at", UtcDateTime(), nullable=False),
    Column("grande_utilisatrice", Boolean, nullable=False),
    Column("person_keys", JSON, nullable=False),
)

alert_events = event_facts(
    "analytics_alert_events", "alert_id",
    Column("kind", String(20), nullable=False),
    Column("state", String(40), nullable=False),
    Column("call_id", String(128)),
    Column("person_key", String(128)),
    Column("dyad_id", String(64)),
    Column("sector", String(SECTOR_MAX_LENGTH)),
    Column("level", String(40)),
    Column("shift", String(64)),
    Column("call_received_at", UtcDateTime()),
)

referral_events = event_facts(
    "analytics_referral_events", "referral_id",
    Column("person_key", String(128), nullable=False),
    Column("kind", String(10), nullable=False),  # filed | status
    Column("status", String(30)),
    Column("referrer_type", String(40)),
    Column("criteria", JSON, nullable=False),
    Column("received_at", UtcDateTime()),
    Column("first_contact_at", UtcDateTime()),
)

frame_events = event_facts(
    "analytics_frame_events", "frame_id",
    Column("person_key", String(128), nullable=False),
    Column("change", String(30), nullable=False),
    Column("version", Integer, nullable=False),
    Column("first_activation", Boolean, nullable=False),
)

FACT_TABLES = (processed, calls, call_persons, call_updates, decisions, alert_events, referral_events, frame_events)
