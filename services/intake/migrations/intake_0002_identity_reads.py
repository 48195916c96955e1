"""intake: audit of identity disclosures (who read which person's identity, with which role, when, why).

Revision ID: intake_0002_identity_reads
Revises: intake_0001
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "intake_0002_identity_reads"
down_revision = "intake_0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
SEQ = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "intake_identity_reads",
        sa.Column("id", SEQ, primary_key=True, autoincrement=True),
        sa.Column("person_key", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("role", sa.String(30), nullable=False),
        sa.Column("purpose", sa.String(200), nullable=False),
        sa.Column("at", TZ, nullable=False))
    op.create_index("ix_intake_identity_reads_person_key", "intake_identity_reads", ["person_key"])


def downgrade() -> None:
    op.drop_table("intake_identity_reads")
