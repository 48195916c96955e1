"""Analytics' own tables: facts taken from the event streams, as they came, one row per event (or per call).

Every figure is recomputed from these facts by `services.analytics.domain`; nothing here is a running
total, so the order events arrive in across topics does not matter and a rebuild gives the same figures.
Person keys are pseudonymous (`p_...`); no name or narrative is stored.
"""
from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, DateTime, Integer, MetaData, String, Table

metadata = MetaData()

processed = Table(
    "analytics_processed", metadata,
    Column("event_id", String(36), primary_key=True),
    Column("topic", String(64), nullable=False),
)

calls = Table(
    "analytics_calls", metadata,
    Column("call_id", String(128), primary_key=True),
    Column("revision", Integer, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, index=True),
    Column("category", String(40), nullable=False),
    Column("nature_code", String(64), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("location_key", String(128), nullable=False, index=True),
    Column("address", String(300)),
    Column("sector", String(20)),
    Column("caller_relation", String(20)),
)

call_persons = Table(
    "analytics_call_persons", metadata,
    Column("call_id", String(128), primary_key=True),
    Column("person_key", String(128), primary_key=True),
    Column("role", String(20), nullable=False),
)

call_updates = Table(
    "analytics_call_updates", metadata,
    Column("event_id", String(36), primary_key=True),
    Column("call_id", String(128), nullable=False, index=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("status", String(20), nullable=False),
    Column("disposition", String(40)),
    Column("dyad_id", String(64)),
    Column("sector", String(20)),
    Column("person_keys", JSON, nullable=False),
)

decisions = Table(
    "analytics_decisions", metadata,
    Column("decision_id", String(128), primary_key=True),
    Column("call_id", String(128), nullable=False, index=True),
    Column("call_revision", Integer, nullable=False),
    Column("level", String(40), nullable=False),
    Column("sector", String(20)),
    Column("category", String(40), nullable=False),
    Column("call_received_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("grande_utilisatrice", Boolean, nullable=False),
    Column("person_keys", JSON, nullable=False),
)

alert_events = Table(
    "analytics_alert_events", metadata,
    Column("event_id", String(36), primary_key=True),
    Column("alert_id", String(128), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("state", String(40), nullable=False),
    Column("call_id", String(128)),
    Column("person_key", String(128)),
    Column("dyad_id", String(64)),
    Column("sector", String(20)),
    Column("level", String(40)),
    Column("shift", String(64)),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("call_received_at", DateTime(timezone=True)),
)

referral_events = Table(
    "analytics_referral_events", metadata,
    Column("event_id", String(36), primary_key=True),
    Column("referral_id", String(128), nullable=False, index=True),
    Column("person_key", String(128), nullable=False),
    Column("kind", String(10), nullable=False),  # filed | status
    Column("status", String(30)),
    Column("referrer_type", String(40)),
    Column("criteria", JSON, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True)),
    Column("first_contact_at", DateTime(timezone=True)),
)

frame_events = Table(
    "analytics_frame_events", metadata,
    Column("event_id", String(36), primary_key=True),
    Column("frame_id", String(128), nullable=False, index=True),
    Column("person_key", String(128), nullable=False),
    Column("change", String(30), nullable=False),
    Column("version", Integer, nullable=False),
    Column("first_activation", Boolean, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
)

FACT_TABLES = (processed, calls, call_persons, call_updates, decisions, alert_events, referral_events, frame_events)
