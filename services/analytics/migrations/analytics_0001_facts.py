"""analytics: fact tables (calls, persons on calls, call updates, triage decisions, alert, referral and
frame events) and the processed-event ledger.

Revision ID: analytics_0001
Revises:
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "analytics_0001"
down_revision = None
branch_labels = ("analytics",)
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "analytics_processed",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("topic", sa.String(64), nullable=False))
    op.create_table(
        "analytics_calls",
        sa.Column("call_id", sa.String(128), primary_key=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("received_at", TZ, nullable=False, index=True),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("nature_code", sa.String(64), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("location_key", sa.String(128), nullable=False, index=True),
        sa.Column("address", sa.String(300)),
        sa.Column("sector", sa.String(20)),
        sa.Column("caller_relation", sa.String(20)))
    op.create_table(
        "analytics_call_persons",
        sa.Column("call_id", sa.String(128), primary_key=True),
        sa.Column("person_key", sa.String(128), primary_key=True),
        sa.Column("role", sa.String(20), nullable=False))
    op.create_table(
        "analytics_call_updates",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("call_id", sa.String(128), nullable=False, index=True),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("disposition", sa.String(40)),
        sa.Column("dyad_id", sa.String(64)),
        sa.Column("sector", sa.String(20)),
        sa.Column("person_keys", sa.JSON, nullable=False))
    op.create_table(
        "analytics_decisions",
        sa.Column("decision_id", sa.String(128), primary_key=True),
        sa.Column("call_id", sa.String(128), nullable=False, index=True),
        sa.Column("call_revision", sa.Integer, nullable=False),
        sa.Column("level", sa.String(40), nullable=False),
        sa.Column("sector", sa.String(20)),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("call_received_at", TZ, nullable=False),
        sa.Column("decided_at", TZ, nullable=False),
        sa.Column("grande_utilisatrice", sa.Boolean, nullable=False),
        sa.Column("person_keys", sa.JSON, nullable=False))
    op.create_table(
        "analytics_alert_events",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("alert_id", sa.String(128), nullable=False, index=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("state", sa.String(40), nullable=False),
        sa.Column("call_id", sa.String(128)),
        sa.Column("person_key", sa.String(128)),
        sa.Column("dyad_id", sa.String(64)),
        sa.Column("sector", sa.String(20)),
        sa.Column("level", sa.String(40)),
        sa.Column("shift", sa.String(64)),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("call_received_at", TZ))
    op.create_table(
        "analytics_referral_events",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("referral_id", sa.String(128), nullable=False, index=True),
        sa.Column("person_key", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("status", sa.String(30)),
        sa.Column("referrer_type", sa.String(40)),
        sa.Column("criteria", sa.JSON, nullable=False),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("received_at", TZ),
        sa.Column("first_contact_at", TZ))
    op.create_table(
        "analytics_frame_events",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("frame_id", sa.String(128), nullable=False, index=True),
        sa.Column("person_key", sa.String(128), nullable=False),
        sa.Column("change", sa.String(30), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("first_activation", sa.Boolean, nullable=False),
        sa.Column("occurred_at", TZ, nullable=False))


def downgrade() -> None:
    for name in ("analytics_frame_events", "analytics_referral_events", "analytics_alert_events",
                 "analytics_decisions", "analytics_call_updates", "analytics_call_persons", "analytics_calls",
                 "analytics_processed"):
        op.drop_table(name)
