"""intake: look-ups by name and birth date in the audit of identity reads (`POST /v1/persons/resolve`, read-only):
each look-up has its row, found or not, with its outcome (`exact`, `fuzzy`, `cad_id`, `introuvable`); a look-up
that found nobody names no person key. A disclosure of an identity by key keeps no outcome (NULL).

Revision ID: intake_0006_identity_lookups
Revises: intake_0005_code_tables
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "intake_0006_identity_lookups"
down_revision = "intake_0005_code_tables"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("intake_identity_reads") as table:  # batch: SQLite rebuilds the table
        table.add_column(sa.Column("outcome", sa.String(20)))
        table.alter_column("person_key", existing_type=sa.String(40), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM intake_identity_reads WHERE person_key IS NULL")
    with op.batch_alter_table("intake_identity_reads") as table:
        table.alter_column("person_key", existing_type=sa.String(40), nullable=False)
        table.drop_column("outcome")
