"""notifier: a processed-event ledger in the shape every service keeps (dyade.ledger), and notifier_outbox in
that same shape (a row may be a tombstone: no value, no event type).

Until now the notifier dropped a decision already handled by its decision id (notifier_decisions, which
stays: a decision triage publishes again under a new event id is still one alert) and relied on call
updates and frame changes being harmless twice. The ledger drops an event id handled before, for all three.
There is nothing to move: no table kept the event ids.

Revision ID: notifier_0005_ledgers
Revises: notifier_0004_outbox
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = "notifier_0005_ledgers"
down_revision = "notifier_0004_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifier_processed_events",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("topic", sa.String(100)),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False))
    with op.batch_alter_table("notifier_outbox") as t:
        t.alter_column("value", nullable=True, existing_type=sa.LargeBinary)
        t.alter_column("event_type", nullable=True, existing_type=sa.String(64))


def downgrade() -> None:
    op.execute("DELETE FROM notifier_outbox WHERE value IS NULL")
    with op.batch_alter_table("notifier_outbox") as t:
        t.alter_column("event_type", nullable=False, existing_type=sa.String(64))
        t.alter_column("value", nullable=False, existing_type=sa.LargeBinary)
    op.drop_table("notifier_processed_events")
