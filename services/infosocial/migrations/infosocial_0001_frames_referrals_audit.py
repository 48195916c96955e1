"""Info-social: frames, versions, consent history, read audit, referral queue, overrides, outbox.

Revision ID: infosocial_0001
Revises:
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "infosocial_0001"
down_revision = None
branch_labels = ("infosocial",)
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "infosocial_frames",
        sa.Column("frame_id", sa.String(40), primary_key=True),
        sa.Column("person_key", sa.String(80), nullable=False),
        sa.Column("owner", sa.String(100), nullable=False),
        sa.Column("display_name", sa.String(200)),
        sa.Column("active_version", sa.Integer),
        sa.Column("review_due", sa.Date),
        sa.Column("stale", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("review_notified_for", sa.Date),
        sa.Column("consent_status", sa.String(20), nullable=False, server_default="non_demande"),
        sa.Column("consent_date", sa.Date),
        sa.Column("consent_scope", sa.JSON),
        sa.Column("consent_legal_basis", sa.String(30)),
        sa.Column("consent_justification", sa.Text),
        sa.Column("archived_at", TS),
        sa.Column("archived_reason", sa.Text),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_infosocial_frames_person_open", "infosocial_frames", ["person_key"], unique=True,
                    postgresql_where=sa.text("archived_at IS NULL"), sqlite_where=sa.text("archived_at IS NULL"))
    op.create_index("ix_infosocial_frames_review_due", "infosocial_frames", ["review_due"])
    op.create_table(
        "infosocial_frame_versions",
        sa.Column("frame_id", sa.String(40), sa.ForeignKey("infosocial_frames.frame_id"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("content", sa.JSON, nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("requested_review_due", sa.Date),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("approved_by", sa.String(100)),
        sa.Column("approved_at", TS),
        sa.Column("approval_note", sa.Text),
    )
    op.create_table(
        "infosocial_consents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("frame_id", sa.String(40), sa.ForeignKey("infosocial_frames.frame_id"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("date", sa.Date),
        sa.Column("scope", sa.JSON),
        sa.Column("legal_basis", sa.String(30)),
        sa.Column("justification", sa.Text),
        sa.Column("note", sa.Text),
        sa.Column("recorded_by", sa.String(100), nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
    )
    op.create_index("ix_infosocial_consents_frame_id", "infosocial_consents", ["frame_id"])
    op.create_table(
        "infosocial_reads",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("reader", sa.String(100), nullable=False),
        sa.Column("role", sa.String(30), nullable=False),
        sa.Column("view", sa.String(20), nullable=False),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("frame_id", sa.String(40), nullable=False),
        sa.Column("person_key", sa.String(80), nullable=False),
        sa.Column("version", sa.Integer),
        sa.Column("call_id", sa.String(64)),
        sa.Column("legal_basis", sa.String(30)),
    )
    op.create_index("ix_infosocial_reads_person_at", "infosocial_reads", ["person_key", "at"])
    op.create_index("ix_infosocial_reads_frame_at", "infosocial_reads", ["frame_id", "at"])
    op.create_table(
        "infosocial_referrals",
        sa.Column("referral_id", sa.String(80), primary_key=True),
        sa.Column("person_key", sa.String(80), nullable=False),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("referrer_type", sa.String(40), nullable=False),
        sa.Column("referrer_key", sa.String(100)),
        sa.Column("criteria", sa.JSON),
        sa.Column("clientele", sa.JSON),
        sa.Column("linked_call_ids", sa.JSON),
        sa.Column("reasons", sa.JSON),
        sa.Column("summary", sa.Text),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("first_contact_at", TS),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_infosocial_referrals_person_key", "infosocial_referrals", ["person_key"])
    op.create_index("ix_infosocial_referrals_status", "infosocial_referrals", ["status"])
    op.create_table(
        "infosocial_referral_steps",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("referral_id", sa.String(80), sa.ForeignKey("infosocial_referrals.referral_id"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("previous", sa.String(20)),
        sa.Column("at", TS, nullable=False),
        sa.Column("by", sa.String(100), nullable=False),
        sa.Column("note", sa.Text),
    )
    op.create_index("ix_infosocial_referral_steps_referral_id", "infosocial_referral_steps", ["referral_id"])
    op.create_table(
        "infosocial_overrides",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("person_key", sa.String(80), nullable=False),
        sa.Column("recurrent", sa.Boolean, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("until", TS),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index("ix_infosocial_overrides_person_key", "infosocial_overrides", ["person_key"])
    op.create_table(
        "infosocial_processed_events",
        sa.Column("event_id", sa.String(40), primary_key=True),
        sa.Column("at", TS, nullable=False),
    )
    op.create_table(
        "infosocial_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("value", sa.LargeBinary),
        sa.Column("event_type", sa.String(60)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS),
    )
    op.create_index("ix_infosocial_outbox_unsent", "infosocial_outbox", ["sent_at", "id"])


def downgrade() -> None:
    for table in ("infosocial_outbox", "infosocial_processed_events", "infosocial_overrides",
                  "infosocial_referral_steps", "infosocial_referrals", "infosocial_reads", "infosocial_consents",
                  "infosocial_frame_versions", "infosocial_frames"):
        op.drop_table(table)
