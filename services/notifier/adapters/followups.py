"""Follow-up plans (type 2) in the database, and the reminders they turn into `suivi` alerts."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from dyade.contracts.vocabulary import AlertKind, AlertState as S
from dyade.db import describe_db_error

from services.notifier.adapters import alerts, roster
from services.notifier.domain import followups, lifecycle
from services.notifier.domain.roster import MONTREAL
from services.notifier.adapters.models import AlertRow, DyadRow, PlanRow, utc

log = logging.getLogger("dyade.notifier.followups")
OPEN = [s.value for s in lifecycle.OPEN]


def to_plan(row: PlanRow) -> followups.Plan:
    return followups.Plan(row.person_key, row.dyad_id, timedelta(minutes=row.every_minutes), utc(row.next_due_at),
                          row.active)


def upsert_plan(session: Session, *, person_key: str, dyad_id: str, every_minutes: int, first_due_at: datetime,
                active: bool, note: str | None, now: datetime, address: str | None = None, lat: float | None = None,
                lon: float | None = None, person_label: str | None = None) -> PlanRow:
    row = session.get(PlanRow, person_key, with_for_update=True)
    if row is None:
        row = PlanRow(person_key=person_key)
        session.add(row)
    row.dyad_id, row.every_minutes, row.next_due_at = dyad_id, every_minutes, first_due_at
    row.active, row.note, row.updated_at = active, note, now
    row.address, row.lat, row.lon, row.person_label = address, lat, lon, person_label
    return row


def last_known_place(session: Session, person_key: str) -> AlertRow | None:
    """The latest call alert about the person that had an address: where to look for them."""
    return session.scalars(select(AlertRow).where(AlertRow.kind == AlertKind.APPEL.value,
                                                  AlertRow.person_key == person_key, AlertRow.address.is_not(None))
                           .order_by(AlertRow.created_at.desc()).limit(1)).first()


def place_of(session: Session, plan: PlanRow) -> tuple[str | None, float | None, float | None]:
    if plan.address:
        return plan.address, plan.lat, plan.lon
    last = last_known_place(session, plan.person_key)
    return (last.address, last.lat, last.lon) if last else (None, None, None)


def _open_reminder(session: Session, person_key: str) -> AlertRow | None:
    return session.scalars(select(AlertRow).where(AlertRow.kind == AlertKind.SUIVI.value,
                                                  AlertRow.plan_person_key == person_key,
                                                  AlertRow.state.in_(OPEN))).first()


def remind_due(session: Session, *, now: datetime, tz: ZoneInfo = MONTREAL) -> int:
    """Turn every due plan whose dyad is on duty into a `suivi` alert (one open per person). Each plan in
    its own savepoint: a plan that fails is left as it was and logged, the others go on."""
    made = 0
    for row in session.scalars(select(PlanRow).where(PlanRow.active.is_(True), PlanRow.next_due_at <= now)
                               .with_for_update(skip_locked=True)).all():
        dyad_id, due = row.dyad_id, row.next_due_at   # read before a failure expires the row; no person in a log
        try:
            with session.begin_nested():
                reminded = _remind(session, row, now=now, tz=tz)
        except Exception as exc:
            log.warning("follow-up plan skipped", extra={"dyad_id": dyad_id, "due_at": str(due),
                                                         "error": describe_db_error(exc)})
            continue
        made += reminded
    return made


def _remind(session: Session, row: PlanRow, *, now: datetime, tz: ZoneInfo) -> int:
    """1 if the plan made a reminder; a due time already reminded is not reminded again."""
    dyad_row = session.get(DyadRow, row.dyad_id)
    if dyad_row is None:
        return 0
    plan = to_plan(row)
    on_duty = roster.to_dyad(dyad_row, tz).on_duty(now)
    made = 0
    if followups.is_due(plan, now=now, dyad_on_duty=on_duty) and _reminder_due_at(session, row) is None:
        previous = _open_reminder(session, row.person_key)
        if previous is not None:   # taken and not closed (acknowledged): closed, else it expires
            ended = S.EXPIRED if S.EXPIRED in lifecycle.ALLOWED[S(previous.state)] else S.CLOSED
            alerts.transition(session, previous, ended, now=now, reason="remplacé par le suivi suivant")
        _create_reminder(session, row, dyad_row, now=now)
        made = 1
    if on_duty:
        row.next_due_at = followups.next_due(plan, now=now)
    return made


def _reminder_due_at(session: Session, plan: PlanRow) -> AlertRow | None:
    """The reminder already made for the plan's due time (the plan was saved again with the same start)."""
    return session.scalars(select(AlertRow).where(AlertRow.kind == AlertKind.SUIVI.value,
                                                  AlertRow.plan_person_key == plan.person_key,
                                                  AlertRow.due_at == plan.next_due_at)).first()


def reminder_id(plan: PlanRow) -> str:
    """The plan's version (updated_at) is in it: a plan saved again may come due at a time already reminded."""
    return alerts.alert_id_for(f"suivi:{plan.person_key}:{utc(plan.updated_at).isoformat()}:"
                               f"{utc(plan.next_due_at).isoformat()}")


def _create_reminder(session: Session, plan: PlanRow, dyad: DyadRow, *, now: datetime) -> AlertRow:
    address, lat, lon = place_of(session, plan)
    alert = AlertRow(alert_id=reminder_id(plan), kind=AlertKind.SUIVI.value, state=S.CREATED.value,
                     dyad_id=dyad.dyad_id, sector=dyad.sector, person_key=plan.person_key,
                     person_keys=[plan.person_key], call_ids=[], reasons=[], tried=[dyad.dyad_id],
                     plan_person_key=plan.person_key, summary=plan.note, due_at=plan.next_due_at,
                     created_at=now, assigned_at=now, updated_at=now, paged_at=now, address=address, lat=lat,
                     lon=lon, person_label=plan.person_label)
    session.add(alert)
    alerts.record(session, alert, S.CREATED, previous=None, now=now, reason="suivi prévu au plan")
    return alert


def due_today(session: Session, *, dyad_id: str | None, now: datetime, tz: ZoneInfo = MONTREAL) -> dict:
    """What the dyad has to do today, one entry per follow-up: the open reminder of a person if there is
    one, else the plan's next due time; and the deferred calls of the dyad's sector."""
    start, end = followups.local_day_bounds(now, tz)
    plans = select(PlanRow).where(PlanRow.active.is_(True), PlanRow.next_due_at < end)
    pending = select(AlertRow).where(AlertRow.state.in_(OPEN),
                                     (AlertRow.kind == AlertKind.SUIVI.value) | (AlertRow.state == S.DEFERRED.value))
    if dyad_id is not None:
        plans = plans.where(PlanRow.dyad_id == dyad_id)
        dyad = session.get(DyadRow, dyad_id)
        sector = dyad.sector if dyad else None
        pending = pending.where((AlertRow.dyad_id == dyad_id) |
                                ((AlertRow.state == S.DEFERRED.value) & (AlertRow.sector == sector)))
    pending_alerts = list(session.scalars(pending.order_by(AlertRow.created_at)))
    reminded = {a.plan_person_key for a in pending_alerts if a.kind == AlertKind.SUIVI.value}
    out = []
    for p in session.scalars(plans.order_by(PlanRow.next_due_at)):
        if p.person_key in reminded:
            continue   # its open reminder stands for it
        address, lat, lon = place_of(session, p)
        sector = session.scalar(select(DyadRow.sector).where(DyadRow.dyad_id == p.dyad_id))
        out.append({"person_key": p.person_key, "person_label": p.person_label, "dyad_id": p.dyad_id,
                    "next_due_at": utc(p.next_due_at), "every_minutes": p.every_minutes, "note": p.note,
                    "address": address, "lat": lat, "lon": lon, "sector": sector})
    return {"plans": out, "alerts": pending_alerts}
