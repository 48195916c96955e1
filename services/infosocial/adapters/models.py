"""Info-social's tables (prefix `infosocial_`). The database is the record; topics are fed from the outbox."""
from __future__ import annotations

import datetime as dt
from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from dyade.ledger import outbox, processed_events


class Base(DeclarativeBase):
    pass


class Frame(Base):
    """One person's fiche; its content lives in versions. Consent lives here: it changes at once."""
    __tablename__ = "infosocial_frames"
    frame_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    person_key: Mapped[str] = mapped_column(String(80))
    owner: Mapped[str] = mapped_column(String(100))
    display_name: Mapped[str | None] = mapped_column(String(200))
    active_version: Mapped[int | None] = mapped_column(Integer)
    review_due: Mapped[date | None] = mapped_column(Date)
    stale: Mapped[bool] = mapped_column(Boolean, default=False)
    review_notified_for: Mapped[date | None] = mapped_column(Date)
    consent_status: Mapped[str] = mapped_column(String(20), default="non_demande")
    consent_date: Mapped[date | None] = mapped_column(Date)
    consent_scope: Mapped[list | None] = mapped_column(JSON, default=list)
    consent_legal_basis: Mapped[str | None] = mapped_column(String(30))
    consent_justification: Mapped[str | None] = mapped_column(Text)
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    archived_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_infosocial_frames_person_open", "person_key", unique=True,
              postgresql_where=text("archived_at IS NULL"), sqlite_where=text("archived_at IS NULL")),
        Index("ix_infosocial_frames_review_due", "review_due"),
    )


class FrameVersion(Base):
    __tablename__ = "infosocial_frame_versions"
    frame_id: Mapped[str] = mapped_column(ForeignKey("infosocial_frames.frame_id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    content: Mapped[dict] = mapped_column(JSON)
    author: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    requested_review_due: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    approval_note: Mapped[str | None] = mapped_column(Text)


class ConsentEntry(Base):
    __tablename__ = "infosocial_consents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    frame_id: Mapped[str] = mapped_column(ForeignKey("infosocial_frames.frame_id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    date: Mapped[dt.date | None] = mapped_column(Date)
    scope: Mapped[list | None] = mapped_column(JSON, default=list)
    legal_basis: Mapped[str | None] = mapped_column(String(30))
    justification: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FrameRead(Base):
    """The audit: every read of a frame, by whom, when, which version, for which call, on what basis."""
    __tablename__ = "infosocial_reads"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reader: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(30))
    view: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(String(20))
    frame_id: Mapped[str] = mapped_column(String(40))
    person_key: Mapped[str] = mapped_column(String(80))
    version: Mapped[int | None] = mapped_column(Integer)
    call_id: Mapped[str | None] = mapped_column(String(64))
    legal_basis: Mapped[str | None] = mapped_column(String(30))

    __table_args__ = (Index("ix_infosocial_reads_person_at", "person_key", "at"),
                      Index("ix_infosocial_reads_frame_at", "frame_id", "at"))


class Communication(Base):
    """The register of communications (dyade.contracts.communications): one row per CommunicationRecorded, from
    every service — Info-social's own reads written with their audit row, the others' from the topic. Idempotent
    by event id. No name nor content: the person's key, what type of information, its reference."""
    __tablename__ = "infosocial_communications"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(20))
    person_key: Mapped[str | None] = mapped_column(String(80))
    information: Mapped[str] = mapped_column(String(30))
    recipient_subject: Mapped[str | None] = mapped_column(String(200))
    recipient_role: Mapped[str | None] = mapped_column(String(30))
    recipient_organisation: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20))
    dyad_id: Mapped[str | None] = mapped_column(String(64))
    sector: Mapped[str | None] = mapped_column(String(40))
    webhook: Mapped[str | None] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(String(200))
    legal_basis: Mapped[str | None] = mapped_column(String(30))  # none: an export (the person's right of access)
    justification: Mapped[str | None] = mapped_column(Text)
    call_id: Mapped[str | None] = mapped_column(String(100))
    call_revision: Mapped[int | None] = mapped_column(Integer)
    referral_id: Mapped[str | None] = mapped_column(String(80))
    frame_id: Mapped[str | None] = mapped_column(String(100))
    frame_version: Mapped[int | None] = mapped_column(Integer)
    alert_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_infosocial_communications_person_at", "person_key", "occurred_at"),
                      Index("ix_infosocial_communications_at", "occurred_at"))


class Referral(Base):
    __tablename__ = "infosocial_referrals"
    referral_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    person_key: Mapped[str] = mapped_column(String(80), index=True)
    origin: Mapped[str] = mapped_column(String(20))  # filed | suggested
    referrer_type: Mapped[str] = mapped_column(String(40))
    referrer_key: Mapped[str | None] = mapped_column(String(100))
    criteria: Mapped[list | None] = mapped_column(JSON, default=list)
    clientele: Mapped[list | None] = mapped_column(JSON, default=list)
    linked_call_ids: Mapped[list | None] = mapped_column(JSON, default=list)
    reasons: Mapped[list | None] = mapped_column(JSON, default=list)
    summary: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    first_contact_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    priority: Mapped[int] = mapped_column(Integer, default=3)  # domain.suggestions.priority of the criteria
    handled_by: Mapped[str | None] = mapped_column(String(100))  # the social worker who last moved it
    sector: Mapped[str | None] = mapped_column(String(40))  # of its call, read from triage (not personal data)
    sector_checked: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (Index("ix_infosocial_referrals_desk", "status", "priority", "received_at"),)


class Suggestion(Base):
    """Triage's suggestion for a person, waiting apart from the referrals filed by people: one open per person
    (updated by later suggestions), until confirmed (→ a referral with the same id), dismissed, or joined."""
    __tablename__ = "infosocial_suggestions"
    suggestion_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    person_key: Mapped[str] = mapped_column(String(80), index=True)
    state: Mapped[str] = mapped_column(String(20))  # a_confirmer | confirmee | ecartee | jointe
    criteria: Mapped[list | None] = mapped_column(JSON, default=list)
    reasons: Mapped[list | None] = mapped_column(JSON, default=list)
    call_ids: Mapped[list | None] = mapped_column(JSON, default=list)
    calls: Mapped[int] = mapped_column(Integer, default=1)
    latest_call_id: Mapped[str] = mapped_column(String(64))
    latest_call_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    first_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ruleset_version: Mapped[str] = mapped_column(String(40))
    priority: Mapped[int] = mapped_column(Integer, default=3)
    sector: Mapped[str | None] = mapped_column(String(40))
    sector_checked: Mapped[bool] = mapped_column(Boolean, default=False)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(100))
    dismiss_reason: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    referral_id: Mapped[str | None] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_infosocial_suggestions_open_person", "person_key", unique=True,
              postgresql_where=text("state = 'a_confirmer'"), sqlite_where=text("state = 'a_confirmer'")),
        Index("ix_infosocial_suggestions_desk", "state", "priority", "last_seen_at"),
    )


class ReferralStep(Base):
    __tablename__ = "infosocial_referral_steps"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    referral_id: Mapped[str] = mapped_column(ForeignKey("infosocial_referrals.referral_id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    previous: Mapped[str | None] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    by: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)


class RecurrenceOverride(Base):
    __tablename__ = "infosocial_overrides"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_key: Mapped[str] = mapped_column(String(80), index=True)
    recurrent: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(100))
    until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# the event ledgers (dyade.ledger): the events the consumers handled, and those to publish
processed = processed_events("infosocial", Base.metadata)


class OutboxRecord(Base):
    """Events written with the change that caused them; the relay publishes them in order."""
    __table__ = outbox("infosocial", Base.metadata)
