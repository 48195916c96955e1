"""intake: code tables loaded at run time (`PUT /v1/code-tables/{name}`, admin): one row per version of a
table (its content, hash, who made it, with which role, when, why), and an audit row for every request to
change one, a new version or the same content again.

Revision ID: intake_0005_code_tables
Revises: intake_0004_narratives
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "intake_0005_code_tables"
down_revision = "intake_0004_narratives"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
SEQ = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "intake_code_tables",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("content", sa.JSON, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_role", sa.String(30), nullable=False),
        sa.Column("reason", sa.Text))
    op.create_table(
        "intake_code_table_audit",
        sa.Column("id", SEQ, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("role", sa.String(30), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("at", TZ, nullable=False))
    op.create_index("ix_intake_code_table_audit_name", "intake_code_table_audit", ["name", "id"])


def downgrade() -> None:
    op.drop_table("intake_code_table_audit")
    op.drop_table("intake_code_tables")
