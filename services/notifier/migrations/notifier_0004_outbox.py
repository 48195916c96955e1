"""notifier: an outbox for the events that are not alert changes — the entries of the register of communications
(communications.recorded.v1) for each frame read on the field app and each alert sent to a device or a webhook,
written in the transaction of the read or before the sending.

Revision ID: notifier_0004_outbox
Revises: notifier_0003_code_lengths
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "notifier_0004_outbox"
down_revision = "notifier_0003_code_lengths"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notifier_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS),
    )
    op.create_index("ix_notifier_outbox_unsent", "notifier_outbox", ["sent_at", "id"])


def downgrade() -> None:
    op.drop_table("notifier_outbox")
