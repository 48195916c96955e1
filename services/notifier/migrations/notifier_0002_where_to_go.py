"""notifier: where to go (address, coordinates, nature), each call of an alert, re-paging, follow-up places.

Revision ID: notifier_0002_where_to_go
Revises: notifier_0001
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "notifier_0002_where_to_go"
down_revision = "notifier_0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("notifier_alerts") as t:   # batch: SQLite (the embedded default) too
        t.add_column(sa.Column("address", sa.String(300)))
        t.add_column(sa.Column("lat", sa.Float))
        t.add_column(sa.Column("lon", sa.Float))
        t.add_column(sa.Column("nature_code", sa.String(32)))
        t.add_column(sa.Column("last_call_at", TS))
        t.add_column(sa.Column("paged_at", TS))
        t.add_column(sa.Column("snoozed_at", TS))
        t.add_column(sa.Column("person_label", sa.String(120)))
    op.create_index("ix_notifier_alerts_created_at", "notifier_alerts", ["created_at"])
    op.create_index("ix_notifier_alerts_sector_state", "notifier_alerts", ["sector", "state"])
    with op.batch_alter_table("notifier_followup_plans") as t:
        t.add_column(sa.Column("address", sa.String(300)))
        t.add_column(sa.Column("lat", sa.Float))
        t.add_column(sa.Column("lon", sa.Float))
        t.add_column(sa.Column("person_label", sa.String(120)))
    op.create_table(
        "notifier_alert_calls",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.String(64), nullable=False, index=True),
        sa.Column("call_id", sa.String(100), nullable=False, index=True),
        sa.Column("decision_id", sa.String(200), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("level", sa.String(32), nullable=False),
        sa.Column("category", sa.String(64)),
        sa.Column("sector", sa.String(16)),
        sa.Column("address", sa.String(300)),
        sa.Column("lat", sa.Float),
        sa.Column("lon", sa.Float),
        sa.Column("nature_code", sa.String(32)),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("summary", sa.Text),
        sa.Column("joined_at", TS, nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("cleared_at", TS),
    )


def downgrade() -> None:
    op.drop_table("notifier_alert_calls")
    with op.batch_alter_table("notifier_followup_plans") as t:
        for column in ("person_label", "lon", "lat", "address"):
            t.drop_column(column)
    op.drop_index("ix_notifier_alerts_sector_state", "notifier_alerts")
    op.drop_index("ix_notifier_alerts_created_at", "notifier_alerts")
    with op.batch_alter_table("notifier_alerts") as t:
        for column in ("person_label", "snoozed_at", "paged_at", "last_call_at", "nature_code", "lon", "lat", "address"):
            t.drop_column(column)
