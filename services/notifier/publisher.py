"""Outbox relay: every recorded state change is published as AlertChanged on alerts.changed.v1 (after
the transaction that made it committed; the row's event id makes a re-send harmless), then handed to
the delivery worker when it assigns the alert to a dyad."""
from __future__ import annotations

import logging
import queue
import threading
import uuid
from datetime import datetime, timezone
from typing import Callable

from prometheus_client import Counter
from sqlalchemy import select

from dyade.contracts.alerts import AlertChanged, AlertPayload
from dyade.contracts.vocabulary import AlertKind, AlertState as S
from dyade.db import unit_of_work
from dyade.kafka import publish

from services.notifier.domain.roster import shift_label
from services.notifier.models import AlertEventRow, AlertRow, utc

log = logging.getLogger("dyade.notifier.publisher")

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


class Relay:
    def __init__(self, sessions, producer, deliveries: "queue.Queue[str]", on_error: Callable[[Exception], None]):
        self.sessions, self.producer, self.deliveries = sessions, producer, deliveries
        self.wake = threading.Event()
        self.stop_event = threading.Event()
        self.published = 0
        self.on_error = on_error
        self.thread = threading.Thread(target=self._run, name="notifier-relay", daemon=True)

    def start(self) -> "Relay":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        self.wake.set()
        self.thread.join(10)

    def _run(self) -> None:
        while not self.stop_event.is_set():
            self.wake.wait(1.0)
            self.wake.clear()
            try:
                while self.drain() and not self.stop_event.is_set():
                    pass
            except Exception as exc:  # broker or database away: try again on the next wake
                log.exception("relay failed; retrying")
                self.on_error(exc)
                self.stop_event.wait(1.0)

    def drain(self, limit: int = 500) -> int:
        assign: list[str] = []
        with unit_of_work(self.sessions) as session:
            rows = list(session.scalars(
                select(AlertEventRow).where(AlertEventRow.outbound.is_(True), AlertEventRow.published_at.is_(None))
                .order_by(AlertEventRow.id).limit(limit).with_for_update(skip_locked=True)))
            if not rows:
                return 0
            alerts = {a.alert_id: a for a in session.scalars(
                select(AlertRow).where(AlertRow.alert_id.in_({r.alert_id for r in rows})))}
            futures = [publish(self.producer, to_event(row, alerts[row.alert_id])) for row in rows]
            self.producer.flush(timeout=30)
            for future in futures:   # a failed send raises here: nothing is marked published
                future.get(timeout=30)
            for row in rows:
                ALERT_CHANGES.labels(row.state, alerts[row.alert_id].kind).inc()
            now = datetime.now(timezone.utc)
            for row in rows:
                row.published_at = now
                if row.state in ASSIGNING and row.dyad_id:
                    assign.append(row.alert_id)
        self.published += len(rows)
        for alert_id in assign:
            self.deliveries.put(alert_id)
        return len(rows)
