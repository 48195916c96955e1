"""analytics: when intake published each call (`ingested_at`, the start of the processing-time latencies)
and whether its source marked it as a replay (`replayed`).

Column types do not change: on PostgreSQL every instant already is a `timestamptz`. On SQLite the earlier
code stored the source's wall time without its offset (10:00−05:00 kept as 10:00, read back as UTC); from
this revision on the application writes ISO UTC text (`...+00:00`), but the rows written before cannot be
corrected here — their offset is lost. Rows from before this revision have no `ingested_at`; the
dashboard says how many and asks for `dyade analytics rebuild` (empties the tables and replays the topics,
which rewrites every row in UTC and fills the new columns). On PostgreSQL the rebuild only fills the new
columns; until then those calls are left out of the latency figures, nothing else changes.

Revision ID: analytics_0002
Revises: analytics_0001
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "analytics_0002"
down_revision = "analytics_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("analytics_calls") as batch:
        batch.add_column(sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("replayed", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("analytics_calls") as batch:
        batch.drop_column("replayed")
        batch.drop_column("ingested_at")
