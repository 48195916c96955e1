"""notifier: roster, subscriptions, busy dyads, frames, alerts and their events, decisions, plans, audit.

Revision ID: notifier_0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "notifier_0001"
down_revision = None
branch_labels = ("notifier",)
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notifier_dyads",
        sa.Column("dyad_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("sector", sa.String(16), nullable=False, index=True),
        sa.Column("members", sa.JSON, nullable=False),
        sa.Column("shifts", sa.JSON, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("webhook_url", sa.String(2000)),
        sa.Column("webhook_secret", sa.String(200)),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "notifier_sectors",
        sa.Column("sector", sa.String(16), primary_key=True),
        sa.Column("neighbours", sa.JSON, nullable=False),
    )
    op.create_table(
        "notifier_subscriptions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dyad_id", sa.String(64), nullable=False, index=True),
        sa.Column("endpoint", sa.String(2000), nullable=False, unique=True),
        sa.Column("p256dh", sa.String(200), nullable=False),
        sa.Column("auth", sa.String(100), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "notifier_busy",
        sa.Column("dyad_id", sa.String(64), primary_key=True),
        sa.Column("call_id", sa.String(100), primary_key=True),
        sa.Column("since", TS, nullable=False),
    )
    op.create_table(
        "notifier_frames",
        sa.Column("person_key", sa.String(100), primary_key=True),
        sa.Column("frame_id", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("stale", sa.Boolean, nullable=False),
        sa.Column("review_due", sa.Date),
        sa.Column("consent", sa.String(32), nullable=False),
        sa.Column("police_view", sa.JSON, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "notifier_alerts",
        sa.Column("alert_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(32), nullable=False, index=True),
        sa.Column("dyad_id", sa.String(64), index=True),
        sa.Column("target", sa.String(64)),
        sa.Column("sector", sa.String(16)),
        sa.Column("level", sa.String(32)),
        sa.Column("category", sa.String(64)),
        sa.Column("call_id", sa.String(100), index=True),
        sa.Column("call_ids", sa.JSON, nullable=False),
        sa.Column("person_key", sa.String(100), index=True),
        sa.Column("person_keys", sa.JSON, nullable=False),
        sa.Column("summary", sa.Text),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("tried", sa.JSON, nullable=False),
        sa.Column("plan_person_key", sa.String(100)),
        sa.Column("call_received_at", TS),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("assigned_at", TS, nullable=False),
        sa.Column("due_at", TS),
        sa.Column("snoozed_until", TS),
        sa.Column("note", sa.String(500)),
        sa.Column("disposition", sa.String(32)),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "notifier_alert_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("alert_id", sa.String(64), nullable=False, index=True),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("previous", sa.String(32)),
        sa.Column("dyad_id", sa.String(64)),
        sa.Column("previous_dyad_id", sa.String(64)),
        sa.Column("reason", sa.String(500)),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("outbound", sa.Boolean, nullable=False),
        sa.Column("published_at", TS),
    )
    op.create_index("ix_notifier_alert_events_unpublished", "notifier_alert_events", ["outbound", "published_at"])
    op.create_table(
        "notifier_decisions",
        sa.Column("decision_id", sa.String(200), primary_key=True),
        sa.Column("call_id", sa.String(100), nullable=False, index=True),
        sa.Column("alert_id", sa.String(64)),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("received_at", TS, nullable=False),
    )
    op.create_table(
        "notifier_followup_plans",
        sa.Column("person_key", sa.String(100), primary_key=True),
        sa.Column("dyad_id", sa.String(64), nullable=False, index=True),
        sa.Column("every_minutes", sa.Integer, nullable=False),
        sa.Column("next_due_at", TS, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("note", sa.String(500)),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "notifier_frame_reads",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("person_key", sa.String(100), nullable=False, index=True),
        sa.Column("alert_id", sa.String(64)),
    )


def downgrade() -> None:
    for table in ("notifier_frame_reads", "notifier_followup_plans", "notifier_decisions", "notifier_alert_events",
                  "notifier_alerts", "notifier_frames", "notifier_busy", "notifier_subscriptions", "notifier_sectors", "notifier_dyads"):
        op.drop_table(table)
