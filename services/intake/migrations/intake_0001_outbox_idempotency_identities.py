"""intake: transactional outbox, idempotency records (calls, updates, referrals, EIDO versions),
identities → person keys, person resolutions.

Revision ID: intake_0001
Revises:
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "intake_0001"
down_revision = None
branch_labels = ("intake",)
depends_on = None

TZ = sa.DateTime(timezone=True)
SEQ = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "intake_outbox",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("msg_key", sa.String(200), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("schema_version", sa.Integer, nullable=False),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("correlation_id", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("sent_at", TZ),
        sa.Column("partition", sa.Integer),
        sa.Column("offset", sa.BigInteger),
        sa.Column("publish_count", sa.Integer, nullable=False, server_default="0"))
    op.create_index("ix_intake_outbox_unsent", "intake_outbox", ["seq"],
                    postgresql_where=sa.text("sent_at IS NULL"), sqlite_where=sa.text("sent_at IS NULL"))
    op.create_table(
        "intake_calls",
        sa.Column("call_id", sa.String(64), primary_key=True),
        sa.Column("revision", sa.Integer, primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("sector", sa.String(40)),
        sa.Column("person_keys", sa.JSON, nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("code_table", sa.String(64), nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("accepted_at", TZ, nullable=False))
    op.create_table(
        "intake_eido_versions",
        sa.Column("call_id", sa.String(64), primary_key=True),
        sa.Column("version_stamp", sa.String(64), primary_key=True),
        sa.Column("revision", sa.Integer, nullable=False))
    op.create_table(
        "intake_updates",
        sa.Column("call_id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(20), primary_key=True),
        sa.Column("at", TZ, primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("accepted_at", TZ, nullable=False))
    op.create_table(
        "intake_referrals",
        sa.Column("referral_id", sa.String(64), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("person_key", sa.String(40), nullable=False),
        sa.Column("referrer_key", sa.String(40), nullable=False),
        sa.Column("match", sa.String(10), nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("accepted_at", TZ, nullable=False))
    op.create_table(
        "intake_identities",
        sa.Column("identity_hash", sa.String(64), primary_key=True),
        sa.Column("person_key", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("norm_name", sa.String(300)),
        sa.Column("birth_date", sa.Date),
        sa.Column("first_name", sa.String(100)),
        sa.Column("last_name", sa.String(100)),
        sa.Column("cad_person_id", sa.String(64)),
        sa.Column("match", sa.String(10), nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("created_at", TZ, nullable=False))
    op.create_index("ix_intake_identities_person_key", "intake_identities", ["person_key"])
    op.create_index("ix_intake_identities_birth_date", "intake_identities", ["birth_date"])
    op.create_table(
        "intake_resolutions",
        sa.Column("id", SEQ, primary_key=True, autoincrement=True),
        sa.Column("person_key", sa.String(40), nullable=False),
        sa.Column("match", sa.String(10), nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("context", sa.String(20), nullable=False),
        sa.Column("ref", sa.String(64)),
        sa.Column("at", TZ, nullable=False))
    op.create_index("ix_intake_resolutions_person_key", "intake_resolutions", ["person_key"])


def downgrade() -> None:
    for name in ("intake_resolutions", "intake_identities", "intake_referrals", "intake_updates",
                 "intake_eido_versions", "intake_calls", "intake_outbox"):
        op.drop_table(name)
