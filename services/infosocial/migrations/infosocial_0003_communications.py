"""Info-social: the register of communications (LRSSS arts. 74–76), one row per communication of a person's
information from every service, idempotent by event id.

Revision ID: infosocial_0003
Revises: infosocial_0002
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "infosocial_0003"
down_revision = "infosocial_0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "infosocial_communications",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("person_key", sa.String(80)),
        sa.Column("information", sa.String(30), nullable=False),
        sa.Column("recipient_subject", sa.String(200)),
        sa.Column("recipient_role", sa.String(30)),
        sa.Column("recipient_organisation", sa.String(200)),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("dyad_id", sa.String(64)),
        sa.Column("sector", sa.String(40)),
        sa.Column("webhook", sa.String(200)),
        sa.Column("purpose", sa.String(200), nullable=False),
        sa.Column("legal_basis", sa.String(30)),
        sa.Column("justification", sa.Text),
        sa.Column("call_id", sa.String(100)),
        sa.Column("call_revision", sa.Integer),
        sa.Column("referral_id", sa.String(80)),
        sa.Column("frame_id", sa.String(100)),
        sa.Column("frame_version", sa.Integer),
        sa.Column("alert_id", sa.String(64)),
    )
    op.create_index("ix_infosocial_communications_person_at", "infosocial_communications",
                    ["person_key", "occurred_at"])
    op.create_index("ix_infosocial_communications_at", "infosocial_communications", ["occurred_at"])


def downgrade() -> None:
    op.drop_table("infosocial_communications")
