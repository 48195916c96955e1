"""notifier: sector and nature codes as long as intake accepts them (dyade.contracts.vocabulary: 40 each).

The notifier stored 16 characters of sector and 32 of nature code while intake accepts 40: a decision for a
longer one was refused by the database and dead-lettered — no alert to anyone. Widening keeps every row.

Revision ID: notifier_0003_code_lengths
Revises: notifier_0002_where_to_go
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "notifier_0003_code_lengths"
down_revision = "notifier_0002_where_to_go"
branch_labels = None
depends_on = None

TABLES = ("notifier_dyads", "notifier_sectors", "notifier_alerts", "notifier_alert_calls")


WITH_NATURE = ("notifier_alerts", "notifier_alert_calls")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as t:   # batch: SQLite (the embedded default) too
            t.alter_column("sector", type_=sa.String(40), existing_type=sa.String(16))
            if table in WITH_NATURE:
                t.alter_column("nature_code", type_=sa.String(40), existing_type=sa.String(32))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as t:
            t.alter_column("sector", type_=sa.String(16), existing_type=sa.String(40))
            if table in WITH_NATURE:
                t.alter_column("nature_code", type_=sa.String(32), existing_type=sa.String(40))
