"""Info-social: the processed-event ledger and the outbox in the shape every service keeps (dyade.ledger).

- infosocial_processed_events: `at` becomes `handled_at`, the event id is a UUID's 36 characters like every
  other event id column, and the topic is kept from now on (NULL for the rows already there). The rows stay.
- infosocial_outbox: an event type as long as the notifier's (64).

Revision ID: infosocial_0004
Revises: infosocial_0003
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = "infosocial_0004"
down_revision = "infosocial_0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("infosocial_processed_events") as t:
        t.alter_column("at", new_column_name="handled_at", existing_type=TS, existing_nullable=False)
        t.alter_column("event_id", type_=sa.String(36), existing_type=sa.String(40))
        t.add_column(sa.Column("topic", sa.String(100)))
    with op.batch_alter_table("infosocial_outbox") as t:
        t.alter_column("event_type", type_=sa.String(64), existing_type=sa.String(60))


def downgrade() -> None:
    with op.batch_alter_table("infosocial_outbox") as t:
        t.alter_column("event_type", type_=sa.String(60), existing_type=sa.String(64))
    with op.batch_alter_table("infosocial_processed_events") as t:
        t.drop_column("topic")
        t.alter_column("event_id", type_=sa.String(40), existing_type=sa.String(36))
        t.alter_column("handled_at", new_column_name="at", existing_type=TS, existing_nullable=False)
