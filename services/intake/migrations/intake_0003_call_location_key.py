"""intake: the call's location key, so an update is published under its call's key (calls.updated.v2).

Revision ID: intake_0003_call_location_key
Revises: intake_0002_identity_reads
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "intake_0003_call_location_key"
down_revision = "intake_0002_identity_reads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("intake_calls") as batch:
        batch.add_column(sa.Column("location_key", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("intake_calls") as batch:
        batch.drop_column("location_key")
