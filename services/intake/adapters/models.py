"""Intake's tables (SQLAlchemy Core). The schema itself is made by migrations/intake_0001_*.py.

- intake_outbox: every event intake accepted, in order (seq), until the relay has published it.
- intake_calls / intake_updates / intake_referrals: what was accepted under which idempotency key.
- intake_eido_versions: EIDO version stamps → call revisions.
- intake_identities: identities (names, birth dates, CAD person ids) → person keys. The ONLY place
  where Dyade keeps who a person is; events carry the key.
- intake_resolutions: each resolution of a person (match kind and confidence).
- intake_identity_reads: each disclosure of an identity to a reader (who, role, when, person key, why);
  made by migrations/intake_0002_identity_reads.py. Each look-up by name and birth date too, found or not,
  with its outcome (migrations/intake_0006_identity_lookups.py).
- intake_narratives: call and referral narratives as received (events carry them redacted:
  domain/redaction.py), on the identity side; intake_narrative_reads: each read of one (who, role, when,
  which, why). Both made by migrations/intake_0004_narratives.py.
"""
from __future__ import annotations

from sqlalchemy import (JSON, BigInteger, Column, Date, DateTime, Float, Index, Integer, LargeBinary, MetaData,
                        String, Table, Text)

metadata = MetaData()
TZ = DateTime(timezone=True)
SEQ = BigInteger().with_variant(Integer, "sqlite")

outbox = Table(
    "intake_outbox", metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("topic", String(100), nullable=False),
    Column("msg_key", String(200), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("value", LargeBinary, nullable=False),
    Column("correlation_id", String(64), nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("sent_at", TZ),
    Column("partition", Integer),
    Column("offset", BigInteger),
    Column("publish_count", Integer, nullable=False, server_default="0"),
)
Index("ix_intake_outbox_unsent", outbox.c.seq, postgresql_where=outbox.c.sent_at.is_(None),
      sqlite_where=outbox.c.sent_at.is_(None))


def idempotency_record(name: str, *columns: Column) -> Table:
    """What was accepted under an idempotency key (the primary key among `columns`): the fingerprint a retry
    must match, the event it became and when."""
    return Table(name, metadata, *columns, Column("fingerprint", String(64), nullable=False),
                 Column("event_id", String(36), nullable=False), Column("accepted_at", TZ, nullable=False))


calls = idempotency_record(
    "intake_calls",
    Column("call_id", String(64), primary_key=True),
    Column("revision", Integer, primary_key=True),
    Column("category", String(40), nullable=False),
    Column("sector", String(40)),
    Column("location_key", String(64)),
    Column("person_keys", JSON, nullable=False),
    Column("channel", String(20), nullable=False),
    Column("code_table", String(64), nullable=False),
    Column("received_at", TZ, nullable=False),
)

eido_versions = Table(
    "intake_eido_versions", metadata,
    Column("call_id", String(64), primary_key=True),
    Column("version_stamp", String(64), primary_key=True),
    Column("revision", Integer, nullable=False),
)

updates = idempotency_record(
    "intake_updates",
    Column("call_id", String(64), primary_key=True),
    Column("status", String(20), primary_key=True),
    Column("at", TZ, primary_key=True),
)

referrals = idempotency_record(
    "intake_referrals",
    Column("referral_id", String(64), primary_key=True),
    Column("person_key", String(40), nullable=False),
    Column("referrer_key", String(40), nullable=False),
    Column("match", String(10), nullable=False),
    Column("confidence", Float, nullable=False),
)

identities = Table(
    "intake_identities", metadata,
    Column("identity_hash", String(64), primary_key=True),
    Column("person_key", String(40), nullable=False, index=True),
    Column("kind", String(10), nullable=False),  # name | cad
    Column("norm_name", String(300)),
    Column("birth_date", Date, index=True),
    Column("first_name", String(100)),
    Column("last_name", String(100)),
    Column("cad_person_id", String(64)),
    Column("match", String(10), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("created_at", TZ, nullable=False),
)

resolutions = Table(
    "intake_resolutions", metadata,
    Column("id", SEQ, primary_key=True, autoincrement=True),
    Column("person_key", String(40), nullable=False, index=True),
    Column("match", String(10), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("context", String(20), nullable=False),  # call | referral | resolve
    Column("ref", String(64)),
    Column("at", TZ, nullable=False),
)

identity_reads = Table(
    "intake_identity_reads", metadata,
    Column("id", SEQ, primary_key=True, autoincrement=True),
    Column("person_key", String(40), index=True),  # None: a look-up that found nobody
    Column("subject", String(200), nullable=False),
    Column("role", String(30), nullable=False),
    Column("purpose", String(200), nullable=False),
    Column("at", TZ, nullable=False),
    Column("outcome", String(20)),  # a look-up: exact | fuzzy | cad_id | introuvable; a disclosure by key: None
)

narratives = Table(
    "intake_narratives", metadata,
    Column("kind", String(10), primary_key=True),  # call | referral
    Column("ref", String(64), primary_key=True),   # call_id | referral_id
    Column("revision", Integer, primary_key=True),  # the call's revision; 0 for a referral
    Column("narrative", Text, nullable=False),
    Column("created_at", TZ, nullable=False),
)

narrative_reads = Table(
    "intake_narrative_reads", metadata,
    Column("id", SEQ, primary_key=True, autoincrement=True),
    Column("kind", String(10), nullable=False),
    Column("ref", String(64), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("subject", String(200), nullable=False),
    Column("role", String(30), nullable=False),
    Column("purpose", String(200), nullable=False),
    Column("at", TZ, nullable=False),
)
Index("ix_intake_narrative_reads_ref", narrative_reads.c.kind, narrative_reads.c.ref)
