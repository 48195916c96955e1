"""Outbox relays: every recorded state change is published as AlertChanged on alerts.changed.v1 (after
the transaction that made it committed; the row's event id makes a re-send harmless), then handed to
the delivery worker when it assigns the alert to a dyad. The other events (the register's
communications.recorded.v1) go through notifier_outbox: `enqueue` in the transaction, `EventRelay` after."""
from __future__ import annotations

import queue
import uuid

from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.orm import Session

from dyade import ledger
from dyade.contracts import Event
from dyade.contracts.alerts import AlertChanged, AlertPayload
from dyade.contracts.vocabulary import AlertKind, AlertState as S
from dyade.kafka import Record, record_of
from dyade.outbox import OutboxRelay

from services.notifier.domain.roster import shift_label
from services.notifier.adapters.models import AlertEventRow, AlertRow, OutboxRow, utc

ASSIGNING = {S.CREATED.value, S.ESCALATED.value}
ALERT_CHANGES = Counter("dyade_notifier_alert_changes_total", "Alert state changes published", ["state", "kind"])


def to_event(row: AlertEventRow, alert: AlertRow) -> AlertChanged:
    at = utc(row.occurred_at)
    payload = AlertPayload(alert_id=alert.alert_id, kind=AlertKind(alert.kind), state=S(row.state),
                           previous=S(row.previous) if row.previous else None, call_id=alert.call_id,
                           person_key=alert.person_key, dyad_id=row.dyad_id, sector=alert.sector,
                           level=alert.level, reason=row.reason, call_received_at=utc(alert.call_received_at),
                           shift=shift_label(at))
    return AlertChanged.new(payload=payload, occurred_at=at, source="notifier",
                            correlation_id=alert.call_id or alert.alert_id, event_id=uuid.UUID(row.event_id))


class Relay(OutboxRelay):
    """Publishes the outbound rows of notifier_alert_events; an alert just assigned to a dyad goes to the
    delivery worker once its change is published."""

    def __init__(self, sessions, bootstrap: str, deliveries: "queue.Queue[str]"):
        # one relay at a time (advisory lock): an alert's state changes reach the topic in order
        super().__init__(sessions, bootstrap, AlertEventRow.__table__, name="notifier", sent_column="published_at",
                         lock_key=0x1D7A_0B0E, where=AlertEventRow.outbound.is_(True), retry_s=(1.0, 1.0))
        self.deliveries = deliveries
        self.kinds: dict[str, str] = {}  # alert id → kind, for the rows of the batch in flight

    def records(self, session, rows) -> list[Record]:
        alerts = {a.alert_id: a for a in session.scalars(
            select(AlertRow).where(AlertRow.alert_id.in_({r.alert_id for r in rows})))}
        self.kinds = {alert_id: a.kind for alert_id, a in alerts.items()}
        return [record_of(to_event(row, alerts[row.alert_id])) for row in rows]

    def on_sent(self, rows) -> None:
        for row in rows:
            ALERT_CHANGES.labels(row.state, self.kinds[row.alert_id]).inc()
            if row.state in ASSIGNING and row.dyad_id:
                self.deliveries.put(row.alert_id)


def enqueue(session: Session, event: Event) -> None:
    """The event, to be published once the session's transaction commits (and only if it does)."""
    ledger.enqueue(session, OutboxRow, event)


class EventRelay(ledger.OutboxTable):
    """Publishes notifier_outbox in order (one relay at a time: advisory lock)."""

    def __init__(self, sessions, bootstrap: str):
        super().__init__(sessions, bootstrap, OutboxRow.__table__, name="notifier-events", lock_key=0x1D7A_0B0F)
