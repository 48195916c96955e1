"""Alerts to dyads: every state change is an event."""
from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from dyade.contracts.envelope import Event, Payload
from dyade.contracts.vocabulary import Sector, AlertKind, AlertState, TriageLevel

__all__ = ["AlertPayload", "AlertChanged"]


class AlertPayload(Payload):
    alert_id: str
    kind: AlertKind = AlertKind.APPEL
    state: AlertState
    previous: AlertState | None = None
    call_id: str | None = None
    person_key: str | None = None
    dyad_id: str | None = None
    sector: Sector = None
    level: TriageLevel | None = None
    reason: str | None = Field(None, max_length=500)
    call_received_at: datetime | None = None
    shift: str | None = Field(None, description="Shift identifier, e.g. `2026-11-23/jour`.")


class AlertChanged(Event[AlertPayload]):
    """occurred_at is when the state changed."""
    TYPE: ClassVar[str] = "alert.changed"
    VERSION: ClassVar[int] = 1
    payload: AlertPayload
