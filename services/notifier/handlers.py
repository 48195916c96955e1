"""What the notifier does with each consumed event. Idempotent: decisions are deduplicated by
decision_id, frames by version, busy/free and closing are naturally repeatable."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dyade.contracts.calls import CallUpdatePayload
from dyade.contracts.frames import FrameChangePayload, FrameCurrentPayload
from dyade.contracts.triage import DecisionPayload
from dyade.contracts.vocabulary import AlertKind, AlertState as S, CallStatus, Disposition

from services.notifier import alerts, roster
from services.notifier.config import NotifierConfig
from services.notifier.domain import lifecycle
from services.notifier.domain.routing import alerts_dyad, level_rank
from services.notifier.models import AlertRow, DecisionRow, FrameRow, utc

OPEN = [s.value for s in lifecycle.OPEN]


def handle_decision(session: Session, d: DecisionPayload, config: NotifierConfig, *, now: datetime) -> str:
    """Create, merge or ignore; returns the outcome recorded for the decision."""
    if session.get(DecisionRow, d.decision_id) is not None:
        return "duplicate"
    alert_id, outcome = None, "routine"
    if not alerts_dyad(d.level):
        pass
    elif utc(d.call_received_at) < now - config.horizon:
        outcome = "hors_horizon"
    else:
        existing = _open_alert_for(session, d)
        if existing is not None:
            _merge(session, existing, d, now=now)
            alert_id, outcome = existing.alert_id, "merged"
        else:
            chosen = alerts.plan_route(session, config, sector=d.sector, level=d.level, now=now)
            alert = _new_alert(d)
            alerts.open_new(session, alert, chosen, now=now)
            alert_id, outcome = alert.alert_id, chosen.outcome.value
    session.add(DecisionRow(decision_id=d.decision_id, call_id=d.call_id, alert_id=alert_id, outcome=outcome,
                            received_at=now))
    return outcome


def _open_alert_for(session: Session, d: DecisionPayload) -> AlertRow | None:
    """Alert fatigue: an open alert about the same call or the same person absorbs the new call."""
    q = select(AlertRow).where(AlertRow.state.in_(OPEN), AlertRow.kind == AlertKind.APPEL.value)
    same_call = session.scalars(q.where(AlertRow.call_id == d.call_id).with_for_update()).first()
    if same_call is not None or not d.person_keys:
        return same_call
    return session.scalars(q.where(AlertRow.person_key.in_(d.person_keys))
                           .order_by(AlertRow.created_at.desc()).with_for_update()).first()


def _new_alert(d: DecisionPayload) -> AlertRow:
    return AlertRow(alert_id=alerts.alert_id_for(d.decision_id), kind=AlertKind.APPEL.value, sector=d.sector,
                    level=d.level.value, category=d.category.value, call_id=d.call_id, call_ids=[d.call_id],
                    person_key=d.person_keys[0] if d.person_keys else None, person_keys=list(d.person_keys),
                    summary=d.summary, reasons=_reasons(d), call_received_at=d.call_received_at)


def _reasons(d: DecisionPayload) -> list[dict]:
    return [{"factor": r.factor, "label": r.label, "observed": r.observed} for r in d.reasons]


def _merge(session: Session, alert: AlertRow, d: DecisionPayload, *, now: datetime) -> None:
    if d.call_id not in (alert.call_ids or []):
        alert.call_ids = [*(alert.call_ids or []), d.call_id]
    alert.person_keys = sorted(set(alert.person_keys or []) | set(d.person_keys))
    if level_rank(d.level) > level_rank(alert.level):
        alert.level = d.level.value
    alert.reasons, alert.summary, alert.updated_at = _reasons(d), d.summary or alert.summary, now
    note = "nouvelle révision de l'appel" if d.call_id == alert.call_id else f"nouvel appel lié ({d.call_id})"
    alerts.record(session, alert, alert.state, previous=alert.state, now=now, reason=note, outbound=False)


def handle_call_update(session: Session, u: CallUpdatePayload, *, now: datetime) -> None:
    """Dispatched / on scene: the dyad is busy. Cleared: it is free, and the call's alerts close."""
    if u.status in (CallStatus.DISPATCHED, CallStatus.ON_SCENE):
        if u.dyad_id and alerts.dyad_exists(session, u.dyad_id):
            roster.set_busy(session, u.dyad_id, u.call_id, now)
            _taken_by_dispatch(session, u, now=now)
        return
    roster.clear_busy(session, call_id=u.call_id)
    q = select(AlertRow).where(AlertRow.state.in_(OPEN + [S.DECLINED.value, S.MISSED_FOR_CAPACITY.value]),
                               AlertRow.kind == AlertKind.APPEL.value)
    candidates = list(session.scalars(q.where(AlertRow.call_id == u.call_id).with_for_update()))
    if u.person_keys:
        candidates += [a for a in session.scalars(q.where(AlertRow.person_key.in_(u.person_keys)).with_for_update())
                       if u.call_id in (a.call_ids or []) and a not in candidates]
    disposition = u.disposition or Disposition.AUTRE
    for alert in candidates:
        if alert.call_ids and set(alert.call_ids) - {u.call_id} and alert.call_id != u.call_id:
            continue  # other calls about the person are still live
        alert.disposition = alert.disposition or disposition.value
        alerts.transition(session, alert, S.CLOSED, now=now, reason=f"appel terminé au CAD ({disposition.value})")


def _taken_by_dispatch(session: Session, u: CallUpdatePayload, *, now: datetime) -> None:
    """The CAD sent a dyad to the call: its pending alert is theirs and acknowledged (no more escalation)."""
    pending = [s.value for s in lifecycle.PENDING]
    alert = session.scalars(select(AlertRow).where(AlertRow.call_id == u.call_id, AlertRow.state.in_(pending))
                            .with_for_update()).first()
    if alert is None:
        return
    before = alert.dyad_id
    alert.dyad_id, alert.target = u.dyad_id, None
    alert.tried = sorted(set(alert.tried or []) | {u.dyad_id})
    alerts.transition(session, alert, S.ACKNOWLEDGED, now=now, reason="dyade répartie par le CAD",
                      previous_dyad_id=before if before != u.dyad_id else None)


def apply_frame(session: Session, p: FrameCurrentPayload, *, now: datetime) -> None:
    row = session.get(FrameRow, p.person_key, with_for_update=True)
    if row is not None and row.frame_id == p.frame_id and row.version > p.version:
        return  # an older version arrived late
    values = dict(frame_id=p.frame_id, version=p.version, stale=p.stale, review_due=p.review_due,
                  consent=p.consent.value, police_view=p.police_view.model_dump(mode="json"), updated_at=now)
    if row is None:
        session.add(FrameRow(person_key=p.person_key, **values))
    else:
        for k, v in values.items():
            setattr(row, k, v)


def remove_frame(session: Session, person_key: str) -> None:
    """Tombstone on frames.current.v1: the frame was archived, the police view must go."""
    session.execute(delete(FrameRow).where(FrameRow.person_key == person_key))


def apply_frame_change(session: Session, p: FrameChangePayload, *, now: datetime) -> None:
    row = session.get(FrameRow, p.person_key, with_for_update=True)
    if row is None or row.frame_id != p.frame_id:
        return
    if p.change == "stale":
        row.stale = True
    elif p.change == "review_due":
        row.review_due = p.review_due or row.review_due
    elif p.change == "approved" and p.version >= row.version:
        row.stale = False
    elif p.change == "archived":
        session.delete(row)
        return
    row.updated_at = now
