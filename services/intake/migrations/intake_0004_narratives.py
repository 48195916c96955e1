"""intake: the narratives as received (events carry them redacted), and the audit of their reads (who read
which call's or referral's narrative, with which role, when, why) — the identity side of intake.

Revision ID: intake_0004_narratives
Revises: intake_0003_call_location_key
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "intake_0004_narratives"
down_revision = "intake_0003_call_location_key"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
SEQ = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "intake_narratives",
        sa.Column("kind", sa.String(10), primary_key=True),
        sa.Column("ref", sa.String(64), primary_key=True),
        sa.Column("revision", sa.Integer, primary_key=True),
        sa.Column("narrative", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False))
    op.create_table(
        "intake_narrative_reads",
        sa.Column("id", SEQ, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("role", sa.String(30), nullable=False),
        sa.Column("purpose", sa.String(200), nullable=False),
        sa.Column("at", TZ, nullable=False))
    op.create_index("ix_intake_narrative_reads_ref", "intake_narrative_reads", ["kind", "ref"])


def downgrade() -> None:
    op.drop_table("intake_narrative_reads")
    op.drop_table("intake_narratives")
