"""analytics: the processed-event ledger in the shape every service keeps (dyade.ledger):
`analytics_processed` becomes `analytics_processed_events(event_id, topic, handled_at)`.

The rows stay where they are (the table is renamed): every event already stored is still dropped when it
comes again. Their `handled_at` is the time of this migration (when they were handled is not known).

Revision ID: analytics_0004
Revises: analytics_0003
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = "analytics_0004"
down_revision = "analytics_0003"
branch_labels = None
depends_on = None

OLD, NEW = "analytics_processed", "analytics_processed_events"


def _rename(old: str, new: str) -> None:
    op.rename_table(old, new)
    if op.get_bind().dialect.name == "postgresql":  # SQLite names no constraint; the batch below rebuilds it
        op.execute(f'ALTER TABLE "{new}" RENAME CONSTRAINT "{old}_pkey" TO "{new}_pkey"')


def upgrade() -> None:
    _rename(OLD, NEW)
    with op.batch_alter_table(NEW) as t:
        t.alter_column("topic", type_=sa.String(100), existing_type=sa.String(64), nullable=True)
        t.add_column(sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False,
                               server_default=sa.func.now()))
    with op.batch_alter_table(NEW) as t:  # the application writes it: no default left behind
        t.alter_column("handled_at", server_default=None, existing_type=sa.DateTime(timezone=True))


def downgrade() -> None:
    op.execute(f"UPDATE {NEW} SET topic = '' WHERE topic IS NULL")
    with op.batch_alter_table(NEW) as t:
        t.drop_column("handled_at")
        t.alter_column("topic", type_=sa.String(64), existing_type=sa.String(100), nullable=False)
    _rename(NEW, OLD)
