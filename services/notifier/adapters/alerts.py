"""Alert operations over a database session: record every state change (the outbox and the live
stream's cursor), assign by routing, escalate, and the actions a dyad takes from the app."""
from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dyade.contracts.vocabulary import AlertKind, AlertState as S, Disposition, TriageLevel

from services.notifier.adapters import roster
from services.notifier.config import NotifierConfig
from services.notifier.domain import lifecycle
from services.notifier.domain.roster import next_shift_start
from services.notifier.domain.routing import SUPERVISOR, Outcome, Route, reachable_sectors, route
from services.notifier.adapters.models import AlertCallRow, AlertEventRow, AlertRow, DyadRow, utc


class AlertNotFound(LookupError):
    pass


class NotYours(PermissionError):
    pass


def alert_id_for(seed: str) -> str:
    """Deterministic: the same decision (or plan version and due time) always gives the same alert id."""
    return "al_" + hashlib.sha256(seed.encode()).hexdigest()[:20]


def record(session: Session, alert: AlertRow, state: S | str, *, previous: S | str | None, now: datetime,
           reason: str | None = None, previous_dyad_id: str | None = None, outbound: bool = True) -> AlertEventRow:
    row = AlertEventRow(event_id=str(uuid.uuid4()), alert_id=alert.alert_id, state=str(state),
                        previous=str(previous) if previous else None, dyad_id=alert.dyad_id,
                        previous_dyad_id=previous_dyad_id, reason=(reason or None) and reason[:500],
                        occurred_at=now, outbound=outbound)
    session.add(row)
    return row


def transition(session: Session, alert: AlertRow, target: S, *, now: datetime, reason: str | None = None,
               previous_dyad_id: str | None = None) -> None:
    current = S(alert.state)
    lifecycle.check(current, target)
    alert.state = target.value
    alert.updated_at = now
    record(session, alert, target, previous=current, now=now, reason=reason, previous_dyad_id=previous_dyad_id)


def locked(session: Session, alert_id: str) -> AlertRow:
    alert = session.scalars(select(AlertRow).where(AlertRow.alert_id == alert_id).with_for_update()).first()
    if alert is None:
        raise AlertNotFound(alert_id)
    return alert


def plan_route(session: Session, config: NotifierConfig, *, sector: str | None, level: TriageLevel, now: datetime,
               exclude: frozenset[str] = frozenset(), escalating: bool = False, must_not_wait: bool = False,
               must_reach: bool = False) -> Route:
    adj = roster.adjacency(session, config.default_adjacency)
    dyads, busy = roster.available(session, reachable_sectors(sector, adj), config.tz)
    return route(sector=sector, level=level, at=now, dyads=dyads, busy=busy, adjacency=adj,
                 after_hours=config.after_hours, exclude=exclude, escalating=escalating,
                 must_not_wait=must_not_wait, must_reach=must_reach)


def open_new(session: Session, alert: AlertRow, chosen: Route, *, now: datetime, config: NotifierConfig) -> AlertRow:
    """Persist a fresh alert as routing placed it: created, then deferred or missed if so. Missed with a
    target (a call that must reach someone, every dyad busy): recorded as missed, then to the supervisor."""
    alert.dyad_id, alert.target = chosen.dyad_id, chosen.target
    alert.tried = [chosen.dyad_id] if chosen.dyad_id else []
    alert.state, alert.created_at, alert.assigned_at, alert.updated_at = S.CREATED.value, now, now, now
    alert.paged_at = now
    session.add(alert)
    record(session, alert, S.CREATED, previous=None, now=now, reason=chosen.reason)
    if chosen.outcome == Outcome.MISSED:
        alert.target = None
        transition(session, alert, S.MISSED_FOR_CAPACITY, now=now, reason=chosen.reason)
        if chosen.target:
            alert.target = chosen.target
            transition(session, alert, S.ESCALATED, now=now, reason="appel urgent, toutes les dyades occupées: "
                                                                    "superviseur·e avisé·e sans délai")
        else:
            alert.paged_at = None
    elif chosen.outcome == Outcome.DEFERRED:
        dyads = roster.dyads_in(session, [alert.sector] if alert.sector else [], config.tz)
        alert.due_at = next_shift_start(dyads, now) or now + timedelta(hours=12)
        alert.paged_at = None
        transition(session, alert, S.DEFERRED, now=now, reason=chosen.reason)
    return alert


def escalate(session: Session, alert: AlertRow, config: NotifierConfig, *, now: datetime, why: str) -> None:
    """Hand the alert to the next available dyad, else to the supervisor."""
    chosen = plan_route(session, config, sector=alert.sector, level=TriageLevel(alert.level or "dyade_suggeree"),
                        now=now, exclude=frozenset(alert.tried or []), escalating=True)
    before = alert.dyad_id
    alert.dyad_id, alert.target = chosen.dyad_id, chosen.target
    if chosen.dyad_id:
        alert.tried = [*(alert.tried or []), chosen.dyad_id]
    alert.assigned_at = alert.paged_at = now
    alert.snoozed_until = alert.snoozed_at = None
    transition(session, alert, S.ESCALATED, now=now, reason=f"{why}; {chosen.reason}", previous_dyad_id=before)


def repage(session: Session, alert: AlertRow, *, now: datetime, why: str) -> None:
    """Page the alert anew at the same holder: un-snoozed, `escalated`, pushed again. A pending alert at a dyad
    keeps its escalation deadline (the earlier one wins); a snoozed, acknowledged or deferred one starts a new
    one, and so does one at the supervisor, where the deadline is its expiry."""
    if S(alert.state) not in lifecycle.PENDING or alert.target == SUPERVISOR:
        alert.assigned_at = now
    alert.snoozed_until = alert.snoozed_at = None
    alert.paged_at = now
    transition(session, alert, S.ESCALATED, now=now, reason=f"nouvelle alerte: {why}"[:500])


def absorbed_while_snoozed(session: Session, alert: AlertRow) -> int:
    if alert.snoozed_at is None:
        return 0
    return session.scalar(select(func.count()).select_from(AlertCallRow).where(
        AlertCallRow.alert_id == alert.alert_id, AlertCallRow.outcome == "merged",
        AlertCallRow.joined_at >= alert.snoozed_at)) or 0


def run_due(session: Session, config: NotifierConfig, *, now: datetime) -> int:
    """Escalate what waited too long, expire what waited too long at the supervisor or whose snooze ended
    (a snooze that absorbed calls pages again instead). Follow-up reminders are planned work, not live
    calls: they never escalate."""
    waiting = {s.value for s in lifecycle.PENDING | {S.SNOOZED, S.DECLINED}}
    rows = session.scalars(select(AlertRow).where(AlertRow.state.in_(waiting),
                                                  (AlertRow.kind == AlertKind.APPEL.value) | (AlertRow.state == S.SNOOZED.value))
                           .with_for_update(skip_locked=True))
    done = 0
    for alert in rows:
        snoozed = alert.state == S.SNOOZED
        absorbed = absorbed_while_snoozed(session, alert) if snoozed else 0
        action = lifecycle.due_action(state=S(alert.state), assigned_at=utc(alert.assigned_at), now=now,
                                      at_supervisor=alert.target == SUPERVISOR,
                                      snoozed_until=utc(alert.snoozed_until), timing=config.timing,
                                      absorbed=absorbed > 0)
        if action == S.ESCALATED and snoozed:
            why = f"fin de la mise en veille, {absorbed} appel(s) reçu(s) pendant"
            if alert.dyad_id and roster.on_duty(session, alert.dyad_id, now, config.tz) or not alert.dyad_id:
                repage(session, alert, now=now, why=why)
            else:   # the dyad that snoozed it went off duty: the next one
                escalate(session, alert, config, now=now, why=why)
        elif action == S.ESCALATED:
            why = "refusée" if alert.state == S.DECLINED else "sans prise en charge dans le délai"
            escalate(session, alert, config, now=now, why=why)
        elif action == S.EXPIRED:
            reason = "fin de la mise en veille" if alert.state == S.SNOOZED else "personne n'a pris l'alerte"
            transition(session, alert, S.EXPIRED, now=now, reason=reason)
        else:
            continue
        done += 1
    return done


# --- actions from the field app -------------------------------------------------------------------

def _owned(session: Session, alert_id: str, dyad_id: str | None, now: datetime) -> AlertRow:
    alert = locked(session, alert_id)
    if dyad_id is None or alert.dyad_id == dyad_id:
        return alert
    dyad = session.get(DyadRow, dyad_id)
    if alert.dyad_id is None and alert.state == S.DEFERRED and dyad is not None and dyad.sector == alert.sector:
        alert.dyad_id, alert.assigned_at = dyad_id, now  # the morning dyad of the sector takes a deferred call
        alert.tried = [dyad_id]
        return alert
    raise NotYours(alert_id)


def mark_delivered(session: Session, alert_id: str, dyad_id: str, *, now: datetime, channel: str) -> bool:
    alert = session.get(AlertRow, alert_id, with_for_update=True)
    if alert is None or alert.dyad_id != dyad_id or alert.state not in (S.CREATED, S.ESCALATED):
        return False
    transition(session, alert, S.DELIVERED, now=now, reason=f"canal: {channel}")
    return True


def seen(session: Session, alert_id: str, *, dyad_id: str | None, now: datetime) -> AlertRow:
    alert = _owned(session, alert_id, dyad_id, now)
    if alert.state in (S.CREATED, S.DELIVERED, S.ESCALATED, S.DEFERRED):
        transition(session, alert, S.SEEN, now=now)
    return alert


def acknowledge(session: Session, alert_id: str, *, dyad_id: str | None, now: datetime) -> AlertRow:
    alert = _owned(session, alert_id, dyad_id, now)
    transition(session, alert, S.ACKNOWLEDGED, now=now, reason="prise en charge par la dyade")
    if alert.dyad_id and alert.call_id and alert.kind == AlertKind.APPEL:
        roster.set_busy(session, alert.dyad_id, alert.call_id, now)
    return alert


def decline(session: Session, alert_id: str, config: NotifierConfig, *, dyad_id: str | None, reason: str,
            now: datetime) -> AlertRow:
    """A decline hands the alert on at once (next dyad, else supervisor)."""
    alert = _owned(session, alert_id, dyad_id, now)
    transition(session, alert, S.DECLINED, now=now, reason=reason)
    escalate(session, alert, config, now=now, why=f"refusée: {reason}")
    return alert


def close(session: Session, alert_id: str, *, dyad_id: str | None, disposition: Disposition, note: str | None,
          now: datetime) -> AlertRow:
    alert = _owned(session, alert_id, dyad_id, now)
    alert.disposition, alert.note = disposition.value, note
    transition(session, alert, S.CLOSED, now=now, reason=f"disposition: {disposition.value}")
    if alert.call_id and alert.dyad_id:
        roster.clear_busy(session, call_id=alert.call_id, dyad_id=alert.dyad_id)
    return alert


def snooze(session: Session, alert_id: str, *, dyad_id: str | None, reason: str, minutes: int,
           now: datetime) -> AlertRow:
    """Snoozed: new calls about the person that need no one at once (below `dyade_prioritaire`, no critical
    reason) update the alert silently until the snooze ends; then it pages again if any came, else it
    expires. A more serious or urgent call pages anew at once (domain/merging.py)."""
    alert = _owned(session, alert_id, dyad_id, now)
    alert.snoozed_until = now + timedelta(minutes=minutes)
    alert.snoozed_at = now
    alert.note = reason
    transition(session, alert, S.SNOOZED, now=now, reason=reason)
    return alert


CLOSABLE = {s.value for s in lifecycle.OPEN | {S.DECLINED, S.MISSED_FOR_CAPACITY}}


def bulk_close(session: Session, alert_ids: list[str], *, disposition: Disposition, reason: str,
               now: datetime) -> tuple[list[AlertRow], list[dict]]:
    """The supervisor closes many alerts at once, with one reason. Returns (closed, skipped with why)."""
    rows = {a.alert_id: a for a in session.scalars(select(AlertRow).where(AlertRow.alert_id.in_(alert_ids))
                                                   .order_by(AlertRow.alert_id).with_for_update())}
    closed, skipped = [], []
    for alert_id in alert_ids:
        alert = rows.get(alert_id)
        if alert is None:
            skipped.append({"alert_id": alert_id, "detail": "alerte inconnue"})
        elif alert.state not in CLOSABLE:
            skipped.append({"alert_id": alert_id, "detail": f"déjà {lifecycle.LABELS[S(alert.state)]}"})
        else:
            alert.disposition, alert.note = disposition.value, reason
            transition(session, alert, S.CLOSED, now=now, reason=f"fermeture groupée ({disposition.value}): {reason}")
            if alert.call_id and alert.dyad_id:
                roster.clear_busy(session, call_id=alert.call_id, dyad_id=alert.dyad_id)
            closed.append(alert)
    return closed, skipped


def dyad_exists(session: Session, dyad_id: str) -> bool:
    return roster.already_read(session, dyad_id) is not None or session.get(DyadRow, dyad_id) is not None
