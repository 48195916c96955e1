"""What the notifier does with each consumed event. Idempotent: an event id handled before is dropped
(`unseen`, dyade.ledger), a decision by its decision_id (triage may publish one again under a new event id),
frames by version; busy/free, closing and remembering a cleared call are naturally repeatable."""
from __future__ import annotations

from datetime import datetime
from typing import Iterable, TypeVar

from sqlalchemy import Text, and_, bindparam, cast, delete, null, or_, select, union_all
from sqlalchemy.orm import Session

from dyade.contracts import Event
from dyade.contracts.calls import CallUpdatePayload
from dyade.contracts.frames import FrameChangePayload, FrameCurrentPayload
from dyade.contracts.triage import DecisionPayload
from dyade.contracts.vocabulary import AlertKind, AlertState as S, CallStatus, Disposition, TriageLevel
from dyade.ledger import first_seen

from services.notifier.adapters import alerts, roster
from services.notifier.config import NotifierConfig
from services.notifier.domain import lifecycle, merging, severity
from services.notifier.domain.routing import Outcome, Route, alerts_dyad
from services.notifier.adapters.models import (AlertCallRow, AlertRow, BusyRow, ClearedCallRow, DecisionRow,
                                               FrameRow, processed, utc)

OPEN = [s.value for s in lifecycle.OPEN]
E = TypeVar("E", bound=Event)


def unseen(session: Session, events: Iterable[E]) -> list[E]:
    """The events never handled before, recorded as handled in the session's transaction (with their effect)."""
    return first_seen(session, processed, events)


RECORDED, CLEARED = "notifier.recorded", "notifier.cleared"   # what `know_batch` read, for the transaction
# Statements of the decisions' path, built once (building one costs as much as sending it):
# - what a batch's decisions need to know: the busy rows of their calls, which of their calls are cleared,
#   which of their decision ids are recorded (a row of each kind fills its own columns)
BATCH_FACTS = union_all(
    select(BusyRow.call_id.label("busy_call_id"), BusyRow.dyad_id, BusyRow.since, null().label("cleared_call_id"),
           null().label("decision_id")).where(BusyRow.call_id.in_(bindparam("call_ids", expanding=True))),
    select(null(), null(), null(), ClearedCallRow.call_id, null())
    .where(ClearedCallRow.call_id.in_(bindparam("call_ids", expanding=True))),
    select(null(), null(), null(), null(), DecisionRow.decision_id)
    .where(DecisionRow.decision_id.in_(bindparam("decision_ids", expanding=True))))
# - the open call alerts about a call (its own, or that it joined), or also about its persons in its sector
LINKED = select(AlertCallRow.alert_id).where(AlertCallRow.call_id == bindparam("call_id"))
_ABOUT_CALL = [AlertRow.call_id == bindparam("call_id"), AlertRow.alert_id.in_(LINKED)]
_ABOUT_PERSONS = and_(AlertRow.person_key.in_(bindparam("person_keys", expanding=True)),
                      AlertRow.sector == bindparam("sector"))
_OPEN_CALL_ALERTS = select(AlertRow).where(AlertRow.state.in_(OPEN), AlertRow.kind == AlertKind.APPEL.value) \
    .order_by(AlertRow.created_at.desc()).with_for_update()
OPEN_ABOUT_CALL = _OPEN_CALL_ALERTS.where(or_(*_ABOUT_CALL))
OPEN_ABOUT_CALL_OR_PERSONS = _OPEN_CALL_ALERTS.where(or_(*_ABOUT_CALL, _ABOUT_PERSONS))


def know_batch(session: Session, decisions: list[DecisionPayload]) -> None:
    """Read once, for a consumed batch, what `handle_decision` reads about each of its decisions: whether
    the decision is recorded, whether the CAD cleared the call and which dyad it sent to it — one statement
    for the batch instead of three per decision. Kept true through the transaction: a decision recorded, a
    call cleared, reopened or dispatched earlier in the batch counts for the decisions after it."""
    if not decisions:
        return
    decision_ids = sorted({d.decision_id for d in decisions})
    call_ids = sorted({d.call_id for d in decisions})
    rows = session.execute(BATCH_FACTS, {"call_ids": call_ids, "decision_ids": decision_ids}).all()
    found = {r.decision_id for r in rows if r.decision_id is not None}
    roster.in_transaction(session, RECORDED).update({i: i in found for i in decision_ids})
    found = {r.cleared_call_id for r in rows if r.cleared_call_id is not None}
    roster.in_transaction(session, CLEARED).update({c: c in found for c in call_ids})
    roster.know_dispatched(session, call_ids, [(r.busy_call_id, r.dyad_id, r.since) for r in rows
                                               if r.busy_call_id is not None])


def _recorded(session: Session, decision_id: str) -> bool:
    known = roster.in_transaction(session, RECORDED)
    if decision_id in known:
        return known[decision_id]
    return session.get(DecisionRow, decision_id) is not None


def _cleared(session: Session, call_id: str) -> bool:
    known = roster.in_transaction(session, CLEARED)
    if call_id in known:
        return known[call_id]
    return session.get(ClearedCallRow, call_id) is not None


def handle_decision(session: Session, d: DecisionPayload, config: NotifierConfig, *, now: datetime) -> str:
    """Create, merge, re-page or ignore; returns the outcome recorded for the decision."""
    if _recorded(session, d.decision_id):
        return "duplicate"
    alert_id, outcome = None, "routine"
    if not alerts_dyad(d.level):
        pass
    elif utc(d.call_received_at) < now - config.horizon:
        outcome = "hors_horizon"
    elif _cleared(session, d.call_id):
        outcome = "deja_termine"   # the CAD cleared the call before triage's decision (or this revision) came
    else:
        sev = severity_of(d)
        fresh = alerts.plan_route(session, config, sector=d.sector, level=d.level, now=now,
                                  must_not_wait=sev.must_not_wait, must_reach=sev.must_reach)
        call = merging.Incoming(d.call_id, d.sector, sev)
        chosen, plan = None, merging.Plan(merging.Action.NEW)
        candidates = _open_alerts_for(session, d)
        for candidate in candidates:
            plan = merging.plan(open_facts(session, candidate), call, fresh=fresh,
                                holder_on_duty=roster.on_duty(session, candidate.dyad_id, now, config.tz))
            if plan.action != merging.Action.NEW:
                chosen = candidate
                break
        if chosen is not None:
            _join(session, chosen, d, now=now, plan=plan)
            alert_id, outcome = chosen.alert_id, plan.action.value
        else:
            alert = _new_alert(d, now=now)
            sent = _sent_by_cad(session, d.call_id, candidates)
            alerts.open_new(session, alert, sent or fresh, now=now, config=config)
            add_call(session, alert, d, now=now, outcome="new")
            if sent:
                alerts.transition(session, alert, S.ACKNOWLEDGED, now=now, reason="dyade répartie par le CAD")
            alert_id, outcome = alert.alert_id, (sent or fresh).outcome.value
    session.add(DecisionRow(decision_id=d.decision_id, call_id=d.call_id, alert_id=alert_id, outcome=outcome,
                            received_at=now))
    roster.in_transaction(session, RECORDED)[d.decision_id] = True
    return outcome


def _sent_by_cad(session: Session, call_id: str, open_alerts: list[AlertRow]) -> Route | None:
    """The dyad the CAD sent to the call before triage's decision came (dispatched or on scene first): the
    alert is theirs and taken, as when the dispatch comes after it (`_taken_by_dispatch`). Not when an alert
    about the call is open: the dyad may be busy with it by acknowledging that one, a new alert routes anew."""
    if any(call_id == a.call_id or call_id in (a.call_ids or []) for a in open_alerts):
        return None
    dyad_id = roster.dispatched_to(session, call_id)
    return Route(Outcome.DYAD, dyad_id=dyad_id, reason="dyade déjà répartie par le CAD") if dyad_id else None


def severity_of(d: DecisionPayload) -> severity.Severity:
    return severity.assess(d.level, [(r.factor, r.label) for r in d.reasons], danger_level=d.danger.level.value,
                           category=d.category.value)


def open_facts(session: Session, alert: AlertRow) -> merging.OpenAlert:
    return merging.OpenAlert(state=S(alert.state), sector=alert.sector,
                             level=TriageLevel(alert.level) if alert.level else None, dyad_id=alert.dyad_id,
                             target=alert.target, call_ids=frozenset(alert.call_ids or []),
                             factors=frozenset(r.get("factor", "") for r in alert.reasons or []), kind=alert.kind)


def _open_alerts_for(session: Session, d: DecisionPayload) -> list[AlertRow]:
    """Open call alerts about the same call (first), then about the same person in the same sector (most
    recent first): the candidates a call may join (domain/merging.py decides). One locking read; the
    session's changes are flushed before it only when one could change its answer (`_unflushed_about`), so
    that the rows of a batch's new alerts are written together at its commit."""
    if d.person_keys and d.sector:
        query, about = OPEN_ABOUT_CALL_OR_PERSONS, {"call_id": d.call_id, "person_keys": list(d.person_keys),
                                                    "sector": d.sector}
    else:
        query, about = OPEN_ABOUT_CALL, {"call_id": d.call_id}
    if _unflushed_about(session, d):
        session.flush()
    with session.no_autoflush:
        found = session.scalars(query, about).all()
        linked_ids = set(session.scalars(LINKED, {"call_id": d.call_id})) if found else set()

    def rank(a: AlertRow) -> int:
        return 0 if a.call_id == d.call_id else 1 if a.alert_id in linked_ids else 2
    return sorted(found, key=rank)   # stable: most recent first within each rank


def _unflushed_about(session: Session, d: DecisionPayload) -> bool:
    """Whether the session holds a change not yet flushed that `_open_alerts_for` could find or must see
    as changed: an alert changed or removed (any: rare on the decisions' path), a new alert or alert call
    about the decision's call or its persons."""
    if session.deleted or any(isinstance(o, (AlertRow, AlertCallRow)) for o in session.dirty):
        return True
    persons = set(d.person_keys)
    for o in session.new:
        if isinstance(o, AlertCallRow) and o.call_id == d.call_id:
            return True
        if isinstance(o, AlertRow) and (o.call_id == d.call_id or d.call_id in (o.call_ids or [])
                                        or o.person_key in persons or persons & set(o.person_keys or [])):
            return True
    return False


def _new_alert(d: DecisionPayload, *, now: datetime) -> AlertRow:
    alert = AlertRow(alert_id=alerts.alert_id_for(d.decision_id), kind=AlertKind.APPEL.value, sector=d.sector,
                     level=d.level.value, category=d.category.value, call_id=d.call_id, call_ids=[d.call_id],
                     person_key=d.person_keys[0] if d.person_keys else None, person_keys=list(d.person_keys),
                     summary=d.summary, reasons=_reasons(d), call_received_at=d.call_received_at)
    _headline(alert, d)
    return alert


def _headline(alert: AlertRow, d: DecisionPayload) -> None:
    """Where to go: the headline call's block-level address, coordinates and nature."""
    alert.address, alert.lat, alert.lon, alert.nature_code = d.address, d.lat, d.lon, d.nature_code
    alert.category = d.category.value
    alert.last_call_at = max(filter(None, [utc(alert.last_call_at), utc(d.call_received_at)]))


def add_call(session: Session, alert: AlertRow, d: DecisionPayload, *, now: datetime, outcome: str) -> AlertCallRow:
    row = AlertCallRow(alert_id=alert.alert_id, call_id=d.call_id, decision_id=d.decision_id,
                       revision=d.call_revision, level=d.level.value, category=d.category.value, sector=d.sector,
                       address=d.address, lat=d.lat, lon=d.lon, nature_code=d.nature_code,
                       received_at=d.call_received_at, reasons=_reasons(d), summary=d.summary, joined_at=now,
                       outcome=outcome)
    session.add(row)
    return row


def _reasons(d: DecisionPayload) -> list[dict]:
    return [{"factor": r.factor, "label": r.label, "observed": r.observed} for r in d.reasons]


def _union_reasons(newer: list[dict], older: list[dict]) -> list[dict]:
    """Every reason the alert's calls gave, the newest first: a later, milder call never hides a weapon."""
    seen = {r["factor"] for r in newer}
    return [*newer, *(r for r in older if r.get("factor") not in seen)]


def _join(session: Session, alert: AlertRow, d: DecisionPayload, *, now: datetime, plan: merging.Plan) -> None:
    """The call joins the open alert: silently (merged) or paging anew at the same holder (repaged)."""
    repaged = plan.action == merging.Action.REPAGE
    if d.call_id not in (alert.call_ids or []):
        alert.call_ids = [*(alert.call_ids or []), d.call_id]
    alert.person_keys = sorted(set(alert.person_keys or []) | set(d.person_keys))
    alert.level = severity.max_level(alert.level, d.level).value   # never down
    alert.reasons = _union_reasons(_reasons(d), alert.reasons or [])
    alert.summary, alert.updated_at = d.summary or alert.summary, now
    if repaged or d.call_id == alert.call_id:
        _headline(alert, d)   # the more serious call (or the call's own revision) is where to go now
    else:
        alert.last_call_at = max(filter(None, [utc(alert.last_call_at), utc(d.call_received_at)]))
    add_call(session, alert, d, now=now, outcome=plan.action.value)
    if repaged:
        alerts.repage(session, alert, now=now, why=f"{plan.why} (appel {d.call_id})")
    else:
        note = "nouvelle révision de l'appel" if d.call_id == alert.call_id else f"nouvel appel lié ({d.call_id})"
        alerts.record(session, alert, alert.state, previous=alert.state, now=now, reason=note, outbound=False)


def handle_call_update(session: Session, u: CallUpdatePayload, *, now: datetime) -> None:
    """Dispatched / on scene: the dyad is busy. Cleared: it is free, the call is over (a decision about it
    coming later pages no one), and an alert closes once every call it carries is cleared (a cleared first
    call does not close an alert a more serious call re-paged)."""
    if u.status in (CallStatus.DISPATCHED, CallStatus.ON_SCENE):
        session.execute(delete(ClearedCallRow).where(ClearedCallRow.call_id == u.call_id))   # reopened at the CAD
        roster.in_transaction(session, CLEARED)[u.call_id] = False
        if u.dyad_id and alerts.dyad_exists(session, u.dyad_id):
            roster.set_busy(session, u.dyad_id, u.call_id, now)
            _taken_by_dispatch(session, u, now=now)
        return
    roster.clear_busy(session, call_id=u.call_id)
    _remember_cleared(session, u, now=now)
    closable = OPEN + [S.DECLINED.value, S.MISSED_FOR_CAPACITY.value]
    q = select(AlertRow).where(AlertRow.state.in_(closable), AlertRow.kind == AlertKind.APPEL.value)
    linked = select(AlertCallRow.alert_id).where(AlertCallRow.call_id == u.call_id)
    candidates = list(session.scalars(q.where((AlertRow.call_id == u.call_id) | AlertRow.alert_id.in_(linked))
                                      .with_for_update()))
    if u.person_keys:
        candidates += [a for a in session.scalars(q.where(AlertRow.person_key.in_(u.person_keys)).with_for_update())
                       if u.call_id in (a.call_ids or []) and a not in candidates]
    disposition = u.disposition or Disposition.AUTRE
    for alert in candidates:
        calls = list(session.scalars(select(AlertCallRow).where(AlertCallRow.alert_id == alert.alert_id)
                                     .with_for_update()))
        for c in calls:
            if c.call_id == u.call_id and c.cleared_at is None:
                c.cleared_at = now
        if calls:
            if any(c.cleared_at is None for c in calls):
                alerts.record(session, alert, alert.state, previous=alert.state, now=now, outbound=False,
                              reason=f"appel {u.call_id} terminé au CAD; d'autres appels restent ouverts")
                continue
        elif alert.call_ids and set(alert.call_ids) - {u.call_id} and alert.call_id != u.call_id:
            continue  # an alert from before notifier_0002: other calls about the person are still live
        alert.disposition = alert.disposition or disposition.value
        alerts.transition(session, alert, S.CLOSED, now=now, reason=f"appel terminé au CAD ({disposition.value})")


def _remember_cleared(session: Session, u: CallUpdatePayload, *, now: datetime) -> None:
    if session.get(ClearedCallRow, u.call_id) is None:
        session.add(ClearedCallRow(call_id=u.call_id, disposition=u.disposition.value if u.disposition else None,
                                   cleared_at=now))
    roster.in_transaction(session, CLEARED)[u.call_id] = True


def forget_cleared_calls(session: Session, *, before: datetime) -> int:
    """Pruning: calls cleared before `before`, about which no decision can page any more."""
    roster.in_transaction(session, CLEARED).clear()
    return session.execute(delete(ClearedCallRow).where(ClearedCallRow.cleared_at < before)).rowcount or 0


def _taken_by_dispatch(session: Session, u: CallUpdatePayload, *, now: datetime) -> None:
    """The CAD sent a dyad to the call: its pending alert is theirs and acknowledged (no more escalation)."""
    pending = [s.value for s in lifecycle.PENDING]
    linked = select(AlertCallRow.alert_id).where(AlertCallRow.call_id == u.call_id)
    alert = session.scalars(select(AlertRow).where((AlertRow.call_id == u.call_id) | AlertRow.alert_id.in_(linked),
                                                   AlertRow.state.in_(pending), AlertRow.kind == AlertKind.APPEL.value)
                            .order_by(AlertRow.created_at.desc()).with_for_update()).first()
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
    changed = row is None or (row.frame_id, row.version, row.stale) != (p.frame_id, p.version, p.stale)
    if row is None:
        session.add(FrameRow(person_key=p.person_key, **values))
    else:
        for k, v in values.items():
            setattr(row, k, v)
    if changed:
        _announce_frame(session, p.person_key, now=now, reason="fiche Info-social reçue" if row is None
                        else f"fiche Info-social mise à jour (version {p.version})")


def _announce_frame(session: Session, person_key: str, *, now: datetime, reason: str) -> None:
    """The frame reaches the notifier on its own topic, so it may come after the alert it belongs to: each open
    alert about the person gets an update on the live stream, and a device showing it fetches the frame."""
    about = or_(AlertRow.person_key == person_key, cast(AlertRow.person_keys, Text).contains(f'"{person_key}"'))
    for alert in session.scalars(select(AlertRow).where(AlertRow.state.in_(OPEN), about)):
        alerts.record(session, alert, alert.state, previous=alert.state, now=now, reason=reason, outbound=False)


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
