"""notifier: the calls the CAD cleared, so a decision that comes after the call's `cleared` pages no one.

The notifier learnt of a cleared call only through the alert it closed: a `cleared` handled before triage's
decision (triage lagging, a backlog caught up across topics) closed nothing, and the decision then paged
dyads for a finished call. Rows are forgotten once no decision about their call could page any more (the
scheduler's pruning). Nothing to fill in: the past `cleared` events were not kept.

Revision ID: notifier_0006_cleared_calls
Revises: notifier_0005_ledgers
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "notifier_0006_cleared_calls"
down_revision = "notifier_0005_ledgers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifier_cleared_calls",
        sa.Column("call_id", sa.String(100), primary_key=True),
        sa.Column("disposition", sa.String(32)),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=False))
    op.create_index("ix_notifier_cleared_calls_cleared_at", "notifier_cleared_calls", ["cleared_at"])


def downgrade() -> None:
    op.drop_table("notifier_cleared_calls")
