"""Info-social: triage's suggestions kept apart (one open per person); the desk's ranking, handler and sector on
referrals.

Revision ID: infosocial_0002
Revises: infosocial_0001
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

revision = "infosocial_0002"
down_revision = "infosocial_0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
OPEN = sa.text("state = 'a_confirmer'")


def upgrade() -> None:
    op.create_table(
        "infosocial_suggestions",
        sa.Column("suggestion_id", sa.String(80), primary_key=True),
        sa.Column("person_key", sa.String(80), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("criteria", sa.JSON),
        sa.Column("reasons", sa.JSON),
        sa.Column("call_ids", sa.JSON),
        sa.Column("calls", sa.Integer, nullable=False),
        sa.Column("latest_call_id", sa.String(64), nullable=False),
        sa.Column("latest_call_at", TS, nullable=False),
        sa.Column("first_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("ruleset_version", sa.String(40), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("sector", sa.String(40)),
        sa.Column("sector_checked", sa.Boolean, nullable=False),
        sa.Column("decided_at", TS),
        sa.Column("decided_by", sa.String(100)),
        sa.Column("dismiss_reason", sa.String(40)),
        sa.Column("note", sa.Text),
        sa.Column("referral_id", sa.String(80)),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_infosocial_suggestions_person_key", "infosocial_suggestions", ["person_key"])
    op.create_index("ix_infosocial_suggestions_open_person", "infosocial_suggestions", ["person_key"], unique=True,
                    postgresql_where=OPEN, sqlite_where=OPEN)
    op.create_index("ix_infosocial_suggestions_desk", "infosocial_suggestions", ["state", "priority", "last_seen_at"])

    with op.batch_alter_table("infosocial_referrals") as batch:
        batch.add_column(sa.Column("priority", sa.Integer, nullable=False, server_default="3"))
        batch.add_column(sa.Column("handled_by", sa.String(100)))
        batch.add_column(sa.Column("sector", sa.String(40)))
        batch.add_column(sa.Column("sector_checked", sa.Boolean, nullable=False, server_default=sa.false()))
    # the referrals already there get their rank (imminent, foreseeable danger, recurrence, the rest)
    op.execute("UPDATE infosocial_referrals SET priority = CASE "
               "WHEN CAST(criteria AS TEXT) LIKE '%\"dangerosite_imminente\"%' THEN 0 "
               "WHEN CAST(criteria AS TEXT) LIKE '%\"dangerosite_previsible\"%' THEN 1 "
               "WHEN CAST(criteria AS TEXT) LIKE '%\"recurrence\"%' THEN 2 ELSE 3 END")
    with op.batch_alter_table("infosocial_referrals") as batch:
        batch.alter_column("priority", server_default=None)
        batch.alter_column("sector_checked", server_default=None)
    op.create_index("ix_infosocial_referrals_desk", "infosocial_referrals", ["status", "priority", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_infosocial_referrals_desk", table_name="infosocial_referrals")
    with op.batch_alter_table("infosocial_referrals") as batch:
        for column in ("sector_checked", "sector", "handled_by", "priority"):
            batch.drop_column(column)
    op.drop_table("infosocial_suggestions")
