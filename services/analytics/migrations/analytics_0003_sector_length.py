"""analytics: sector codes as long as everywhere else (dyade.contracts.vocabulary.SECTOR_MAX_LENGTH, 40).

Analytics stored 20 characters while intake accepts 40: a call of a longer sector was refused by the
database and left out of every figure. Widening a varchar keeps every row.

Revision ID: analytics_0003
Revises: analytics_0002
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "analytics_0003"
down_revision = "analytics_0002"
branch_labels = None
depends_on = None

TABLES = ("analytics_calls", "analytics_call_updates", "analytics_decisions", "analytics_alert_events")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as t:   # batch: SQLite (the embedded default) too
            t.alter_column("sector", type_=sa.String(40), existing_type=sa.String(20))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as t:
            t.alter_column("sector", type_=sa.String(20), existing_type=sa.String(40))
