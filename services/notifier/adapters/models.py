"""The notifier's tables (prefix `notifier_`): roster, device subscriptions, busy dyads, the police
view of frames, alerts with their state-change log (also the outbox and the live-stream cursor),
processed decisions, the calls the CAD cleared, follow-up plans, the audit of frame reads, and the event
ledgers: the events handled and the outbox of the other events."""
from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, Index, Integer, MetaData, String, Text
from sqlalchemy.types import TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from dyade.ledger import outbox, processed_events

from dyade.contracts.vocabulary import NATURE_CODE_MAX_LENGTH, SECTOR_MAX_LENGTH


def utc(dt: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back: they were written in UTC."""
    if dt is None:
        return None
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData()


class UTCDateTime(TypeDecorator):
    """Timestamps always written in UTC and read back aware: SQLite keeps no offset, so a Montréal time
    written as is would come back five hours off."""
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return utc(value)

    def process_result_value(self, value, dialect):
        return utc(value)


TS = UTCDateTime()


class DyadRow(Base):
    __tablename__ = "notifier_dyads"
    dyad_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    sector: Mapped[str] = mapped_column(String(SECTOR_MAX_LENGTH), index=True)
    members: Mapped[list] = mapped_column(JSON, default=list)
    shifts: Mapped[list] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    webhook_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    webhook_secret: Mapped[str | None] = mapped_column(String(200), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(TS)


class SectorRow(Base):
    __tablename__ = "notifier_sectors"
    sector: Mapped[str] = mapped_column(String(SECTOR_MAX_LENGTH), primary_key=True)
    neighbours: Mapped[list] = mapped_column(JSON, default=list)


class SubscriptionRow(Base):
    __tablename__ = "notifier_subscriptions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dyad_id: Mapped[str] = mapped_column(String(64), index=True)
    endpoint: Mapped[str] = mapped_column(String(2000), unique=True)
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(TS)


class BusyRow(Base):
    __tablename__ = "notifier_busy"
    dyad_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    since: Mapped[datetime] = mapped_column(TS)


class FrameRow(Base):
    __tablename__ = "notifier_frames"
    person_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    frame_id: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    stale: Mapped[bool] = mapped_column(Boolean, default=False)
    review_due: Mapped[date | None] = mapped_column(Date, nullable=True)
    consent: Mapped[str] = mapped_column(String(32))
    police_view: Mapped[dict] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(TS)


class AlertRow(Base):
    __tablename__ = "notifier_alerts"
    alert_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(32), index=True)
    dyad_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    target: Mapped[str | None] = mapped_column(String(64), nullable=True)
    sector: Mapped[str | None] = mapped_column(String(SECTOR_MAX_LENGTH), nullable=True)
    level: Mapped[str | None] = mapped_column(String(32), nullable=True)
    category: Mapped[str | None] = mapped_column(String(64), nullable=True)
    call_id: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    call_ids: Mapped[list] = mapped_column(JSON, default=list)
    person_key: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    person_keys: Mapped[list] = mapped_column(JSON, default=list)
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    tried: Mapped[list] = mapped_column(JSON, default=list)
    plan_person_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    call_received_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    created_at: Mapped[datetime] = mapped_column(TS)
    assigned_at: Mapped[datetime] = mapped_column(TS)
    due_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    snoozed_until: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    disposition: Mapped[str | None] = mapped_column(String(32), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(TS)
    # where to go (notifier_0002): the headline call's block-level address, coordinates and CAD nature
    address: Mapped[str | None] = mapped_column(String(300), nullable=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    nature_code: Mapped[str | None] = mapped_column(String(NATURE_CODE_MAX_LENGTH), nullable=True)
    last_call_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)  # the latest call's received time
    paged_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)      # the last time it paged someone
    snoozed_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    person_label: Mapped[str | None] = mapped_column(String(120), nullable=True)  # follow-ups: who, as the plan says

    __table_args__ = (Index("ix_notifier_alerts_created_at", "created_at"),
                      Index("ix_notifier_alerts_sector_state", "sector", "state"))


class AlertCallRow(Base):
    """Each call an alert carries, with its own time, place, level and reasons (notifier_0002)."""
    __tablename__ = "notifier_alert_calls"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(String(64), index=True)
    call_id: Mapped[str] = mapped_column(String(100), index=True)
    decision_id: Mapped[str] = mapped_column(String(200))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    level: Mapped[str] = mapped_column(String(32))
    category: Mapped[str | None] = mapped_column(String(64), nullable=True)
    sector: Mapped[str | None] = mapped_column(String(SECTOR_MAX_LENGTH), nullable=True)
    address: Mapped[str | None] = mapped_column(String(300), nullable=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    nature_code: Mapped[str | None] = mapped_column(String(NATURE_CODE_MAX_LENGTH), nullable=True)
    received_at: Mapped[datetime] = mapped_column(TS)
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    joined_at: Mapped[datetime] = mapped_column(TS)
    outcome: Mapped[str] = mapped_column(String(32))   # new, merged (silent), repaged
    cleared_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)


class AlertEventRow(Base):
    """One row per state change (outbound: published as AlertChanged) or update (live stream only).
    The id is the live stream's cursor (SSE `id:` / Last-Event-ID)."""
    __tablename__ = "notifier_alert_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    alert_id: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(32))
    previous: Mapped[str | None] = mapped_column(String(32), nullable=True)
    dyad_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    previous_dyad_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(TS)
    outbound: Mapped[bool] = mapped_column(Boolean, default=True)
    published_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)

    __table_args__ = (Index("ix_notifier_alert_events_unpublished", "outbound", "published_at"),)


class DecisionRow(Base):
    __tablename__ = "notifier_decisions"
    decision_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(100), index=True)
    alert_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # no alert: routine, hors_horizon, deja_termine (the CAD had already cleared the call); a new alert: its
    # routing.Outcome (dyad, fallback, deferred, missed_for_capacity); an open alert joined: merged, repaged
    outcome: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(TS)


class ClearedCallRow(Base):
    """A call the CAD cleared (notifier_0006): a decision about it that comes afterwards pages no one.
    Kept while a decision about the call could still page (runtime.py prunes)."""
    __tablename__ = "notifier_cleared_calls"
    call_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    disposition: Mapped[str | None] = mapped_column(String(32), nullable=True)
    cleared_at: Mapped[datetime] = mapped_column(TS, index=True)


class PlanRow(Base):
    __tablename__ = "notifier_followup_plans"
    person_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    dyad_id: Mapped[str] = mapped_column(String(64), index=True)
    every_minutes: Mapped[int] = mapped_column(Integer)
    next_due_at: Mapped[datetime] = mapped_column(TS)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(TS)
    address: Mapped[str | None] = mapped_column(String(300), nullable=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    person_label: Mapped[str | None] = mapped_column(String(120), nullable=True)


class FrameReadRow(Base):
    __tablename__ = "notifier_frame_reads"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(TS)
    subject: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    person_key: Mapped[str] = mapped_column(String(100), index=True)
    alert_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


# the event ledgers (dyade.ledger): the events the consumers handled, and the events other than alert changes
# (the register's communications.recorded.v1) to publish, written in the transaction of what caused them and
# published in order by adapters/outbox.py's EventRelay
processed = processed_events("notifier", Base.metadata)


class OutboxRow(Base):
    __table__ = outbox("notifier", Base.metadata)
