"""HTTP API of the notifier: roster, sectors, device subscriptions, alerts and their actions,
follow-up plans, and the live stream (Server-Sent Events, resent from Last-Event-ID)."""
from __future__ import annotations

import re
import secrets
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy import case, func, select

from dyade import access
from dyade.auth import Principal, requires
from dyade.contracts.vocabulary import SECTOR_MAX_LENGTH, AlertKind, AlertState, Role, TriageLevel

from services.notifier.adapters import alerts, followups, roster
from services.notifier.entrypoints import views
from services.notifier.domain import labels
from services.notifier.domain.lifecycle import OPEN, InvalidTransition
from services.notifier.domain.severity import LEVEL_ORDER
from services.notifier.adapters.models import (AlertEventRow, AlertRow, DyadRow, SectorRow, SubscriptionRow, utc)
from services.notifier.entrypoints.schemas import (SECTOR, BulkCloseIn, CloseIn, DeclineIn, DyadIn, PlanIn, SectorIn, SnoozeIn,
                                       SubscriptionIn, WebhookIn)
from services.notifier.entrypoints.deps import FIELD, SUPERVISORS, lang_of, notifier, own_dyad

router = APIRouter(prefix="/v1", tags=["notifier"])


def dyad_json(row: DyadRow, *, now, busy: set[str], tz) -> dict:
    return {"dyad_id": row.dyad_id, "name": row.name, "sector": row.sector, "members": row.members,
            "shifts": row.shifts, "active": row.active, "on_duty": roster.to_dyad(row, tz).on_duty(now),
            "busy": row.dyad_id in busy, "webhook": bool(row.webhook_url)}


# --- roster ---------------------------------------------------------------------------------------

@router.put("/dyads/{dyad_id}", summary="Créer ou modifier une dyade (membres, secteur, quarts)")
def put_dyad(dyad_id: str, body: DyadIn, request: Request, _: Principal = Depends(requires(*SUPERVISORS))):
    if not (1 <= len(dyad_id) <= 64) or not dyad_id.replace("-", "").replace("_", "").isalnum():
        raise HTTPException(422, detail="dyad_id: lettres, chiffres, - et _ seulement (64 max)")
    n = notifier(request)
    now = n.clock()
    with n.work() as session:
        row = session.get(DyadRow, dyad_id, with_for_update=True)
        if row is None:
            row = DyadRow(dyad_id=dyad_id)
            session.add(row)
        row.name, row.sector, row.active, row.updated_at = body.name, body.sector, body.active, now
        row.members = [m.model_dump() for m in body.members]
        row.shifts = [s.model_dump() for s in body.shifts]
        session.flush()
        return dyad_json(row, now=now, busy=roster.busy_dyads(session, [dyad_id]), tz=n.config.tz)


@router.get("/dyads", summary="Les dyades, en service ou non, occupées ou libres")
def list_dyads(request: Request, sector: str | None = None,
               _: Principal = Depends(requires(Role.SUPERVISOR, Role.DISPATCH, Role.ADMIN))):
    n = notifier(request)
    now = n.clock()
    with n.sessions() as session:
        q = select(DyadRow).order_by(DyadRow.sector, DyadRow.dyad_id)
        if sector:
            q = q.where(DyadRow.sector == sector)
        rows = list(session.scalars(q))
        busy = roster.busy_dyads(session, [r.dyad_id for r in rows])
        return {"dyads": [dyad_json(r, now=now, busy=busy, tz=n.config.tz) for r in rows]}


@router.put("/dyads/{dyad_id}/webhook", summary="Webhook signé vers le terminal du véhicule (secret rendu une fois)")
def put_webhook(dyad_id: str, body: WebhookIn, request: Request, _: Principal = Depends(requires(*SUPERVISORS))):
    from services.notifier.adapters.delivery import WebhookRefused, check_webhook_url
    n = notifier(request)
    with n.sessions() as session:
        if session.get(DyadRow, dyad_id) is None:
            raise HTTPException(404, detail=f"dyade inconnue: {dyad_id}")
    try:  # resolved and checked before any lock is taken; checked again at each delivery
        check_webhook_url(body.url, n.webhook_policy)
    except WebhookRefused as exc:
        raise HTTPException(422, detail=f"url: {exc}") from None
    with n.work() as session:
        row = session.get(DyadRow, dyad_id, with_for_update=True)
        if row is None:
            raise HTTPException(404, detail=f"dyade inconnue: {dyad_id}")
        row.webhook_url, row.webhook_secret = body.url, secrets.token_urlsafe(32)
        return {"dyad_id": dyad_id, "url": body.url, "secret": row.webhook_secret,
                "signature": "X-Dyade-Signature: sha256=HMAC(secret, X-Dyade-Timestamp + '.' + corps)"}


@router.put("/sectors/{sector}", summary="Secteurs voisins (du plus proche), pour le routage")
def put_sector(sector: str, body: SectorIn, request: Request, _: Principal = Depends(requires(*SUPERVISORS))):
    if not re.fullmatch(SECTOR, sector):
        raise HTTPException(422, detail=f"sector: code court attendu (lettres, chiffres, - et _, {SECTOR_MAX_LENGTH} max)")
    n = notifier(request)
    with n.work() as session:
        row = session.get(SectorRow, sector) or SectorRow(sector=sector)
        row.neighbours = [s for s in body.neighbours if s != sector]
        session.merge(row)
    return {"sector": sector, "neighbours": row.neighbours}


# --- devices --------------------------------------------------------------------------------------

@router.get("/push/key", summary="Clé publique VAPID (applicationServerKey)")
def push_key(request: Request):
    from services.notifier.adapters.delivery import application_server_key
    return {"public_key": application_server_key(notifier(request).vapid)}


@router.post("/subscriptions", status_code=201, summary="Abonner un appareil aux notifications Web Push")
def subscribe(body: SubscriptionIn, request: Request, principal: Principal = Depends(requires(*FIELD))):
    dyad_id = own_dyad(principal) or body.dyad_id
    if not dyad_id:
        raise HTTPException(422, detail="dyad_id: requis pour un superviseur")
    n = notifier(request)
    with n.work() as session:
        if not alerts.dyad_exists(session, dyad_id):
            raise HTTPException(404, detail=f"dyade inconnue: {dyad_id}")
        row = session.scalars(select(SubscriptionRow).where(SubscriptionRow.endpoint == body.endpoint)).first()
        if row is None:
            row = SubscriptionRow(endpoint=body.endpoint, created_at=n.clock())
            session.add(row)
        row.dyad_id, row.p256dh, row.auth = dyad_id, body.keys.p256dh, body.keys.auth
    return {"dyad_id": dyad_id, "endpoint": body.endpoint}


# --- alerts ---------------------------------------------------------------------------------------

class SortField(StrEnum):
    CREATED_AT = "created_at"
    LAST_CALL_AT = "last_call_at"
    ASSIGNED_AT = "assigned_at"
    LEVEL = "level"
    SECTOR = "sector"
    STATE = "state"


LISTED_BY_DEFAULT = [s.value for s in OPEN | {AlertState.MISSED_FOR_CAPACITY}]
LEVEL_SQL_ORDER = {lv.value: i for i, lv in enumerate(LEVEL_ORDER)}
STATE_SQL_ORDER = {st.value: i for i, st in enumerate(
    [AlertState.MISSED_FOR_CAPACITY, AlertState.CREATED, AlertState.ESCALATED, AlertState.DELIVERED, AlertState.SEEN,
     AlertState.DECLINED, AlertState.DEFERRED, AlertState.SNOOZED, AlertState.ACKNOWLEDGED, AlertState.EXPIRED,
     AlertState.CLOSED])}


def _sort_key(field: SortField):
    if field == SortField.LEVEL:
        return case(LEVEL_SQL_ORDER, value=AlertRow.level, else_=-1)
    if field == SortField.STATE:
        return case(STATE_SQL_ORDER, value=AlertRow.state, else_=99)
    if field == SortField.LAST_CALL_AT:
        return func.coalesce(AlertRow.last_call_at, AlertRow.created_at)
    return getattr(AlertRow, field.value)


@router.get("/alerts", summary="Alertes de ma dyade (ou toutes, superviseur): filtres, tri, pages, comptes par état",
            description="Sans filtre d'état: les alertes ouvertes et les appels manqués faute de capacité "
                        "(`include_closed=true`: toutes). `counts` compte les alertes par état avec les mêmes filtres "
                        "sauf l'état (les onglets de la console); `total` avec tous les filtres. L'âge est compté "
                        "depuis la création de l'alerte. `cursor` est le curseur du flux en direct (`/v1/stream`).")
def list_alerts(request: Request,
                state: Annotated[list[AlertState] | None, Query(description="États (répétable).")] = None,
                include_closed: bool = False,
                sector: Annotated[list[str] | None, Query(description="Secteurs (répétable).")] = None,
                level: Annotated[list[TriageLevel] | None, Query(description="Niveaux de triage (répétable).")] = None,
                kind: Annotated[AlertKind | None, Query(description="`appel` ou `suivi`.")] = None,
                min_age_minutes: Annotated[int | None, Query(ge=0, le=60 * 24 * 365,
                                                             description="Créée il y a au moins N minutes.")] = None,
                max_age_minutes: Annotated[int | None, Query(ge=0, le=60 * 24 * 365,
                                                             description="Créée il y a au plus N minutes.")] = None,
                sort: Annotated[SortField, Query(description="Champ de tri.")] = SortField.CREATED_AT,
                order: Annotated[Literal["asc", "desc"], Query(description="Sens du tri.")] = "desc",
                page: Annotated[int, Query(ge=1, le=100_000, description="Page, à partir de 1.")] = 1,
                per_page: Annotated[int, Query(ge=1, le=200, description="Alertes par page.")] = 50,
                principal: Principal = Depends(requires(*FIELD))):
    dyad_id = own_dyad(principal)
    bad = [x for x in sector or [] if not re.fullmatch(SECTOR, x)]
    if bad:
        raise HTTPException(422, detail=f"sector: code court attendu (lettres, chiffres, - et _, {SECTOR_MAX_LENGTH} max): {bad[0][:40]!r}")
    if min_age_minutes is not None and max_age_minutes is not None and min_age_minutes > max_age_minutes:
        raise HTTPException(422, detail="min_age_minutes: doit être au plus max_age_minutes")
    n = notifier(request)
    now = n.clock()
    with n.sessions() as session:
        cursor = session.scalar(select(func.max(AlertEventRow.id))) or 0
        scope = []
        if dyad_id:
            scope.append(AlertRow.dyad_id == dyad_id)
        if sector:
            scope.append(AlertRow.sector.in_(sector))
        if level:
            scope.append(AlertRow.level.in_([lv.value for lv in level]))
        if kind:
            scope.append(AlertRow.kind == kind.value)
        if min_age_minutes is not None:
            scope.append(AlertRow.created_at <= now - timedelta(minutes=min_age_minutes))
        if max_age_minutes is not None:
            scope.append(AlertRow.created_at >= now - timedelta(minutes=max_age_minutes))
        if state:
            states = [st.value for st in state]
        else:
            states = [st.value for st in AlertState] if include_closed else LISTED_BY_DEFAULT
        counts = {st.value: 0 for st in AlertState}
        for st, count in session.execute(select(AlertRow.state, func.count()).where(*scope).group_by(AlertRow.state)):
            counts[st] = count
        where = [*scope, AlertRow.state.in_(states)]
        total = session.scalar(select(func.count()).select_from(AlertRow).where(*where)) or 0
        key = _sort_key(sort)
        q = (select(AlertRow).where(*where)
             .order_by(key.asc() if order == "asc" else key.desc(), AlertRow.created_at.desc(), AlertRow.alert_id)
             .offset((page - 1) * per_page).limit(per_page))
        rows = list(session.scalars(q))
        sectors = sorted(filter(None, session.scalars(
            select(AlertRow.sector).where(*([AlertRow.dyad_id == dyad_id] if dyad_id else []),
                                          AlertRow.state.in_(LISTED_BY_DEFAULT)).distinct())))
        return {"cursor": cursor, "total": total, "page": page, "per_page": per_page,
                "pages": max(1, -(-total // per_page)), "counts": counts, "sectors": sectors,
                "alerts": views.summaries(session, rows, lang=lang_of(request), tz=n.config.tz)}


@router.post("/alerts/bulk-close", summary="Fermer plusieurs alertes avec une raison (superviseur)",
             description="Chaque alerte fermable (ouverte, refusée ou manquée) est fermée avec la disposition et la "
                         "raison; les autres sont rendues dans `skipped` avec la cause. Une dyade ne peut pas fermer "
                         "en lot.")
def post_bulk_close(body: BulkCloseIn, request: Request, _: Principal = Depends(requires(Role.SUPERVISOR))):
    n = notifier(request)
    with n.work() as session:
        closed, skipped = alerts.bulk_close(session, list(dict.fromkeys(body.alert_ids)), disposition=body.disposition,
                                            reason=body.reason, now=n.clock())
        return {"closed": [a.alert_id for a in closed], "skipped": skipped,
                "alerts": views.summaries(session, closed, lang=lang_of(request), tz=n.config.tz)}


@router.get("/alerts/{alert_id}", summary="Détail: où aller, chaque appel, raisons du triage, vue policière de la fiche "
                                          "(lecture auditée)")
def get_alert(alert_id: str, request: Request, principal: Principal = Depends(requires(*FIELD))):
    own_dyad(principal)  # a dyad's claims, before anything is looked up
    n = notifier(request)
    with n.work() as session:
        alert = session.get(AlertRow, alert_id)
        if alert is None:
            raise HTTPException(404, detail=f"alerte inconnue: {alert_id}")
        # dyade.access: routed to the dyad, or in its sector (a deferred call of the sector nobody took included)
        access.require(principal, dyad_ids=[alert.dyad_id], sectors=[alert.sector], what=f"l'alerte {alert_id}")
        lang = lang_of(request)
        out = views.summaries(session, [alert], lang=lang, tz=n.config.tz)[0]
        out["calls"] = views.calls(session, alert, lang=lang, tz=n.config.tz)
        out["frames"] = views.police_views(session, alert, principal, now=n.clock(), lang=lang)
        out["history"] = [{"state": e.state, "previous": e.previous, "dyad_id": e.dyad_id, "reason": e.reason,
                           "at": utc(e.occurred_at).isoformat()}
                          for e in session.scalars(select(AlertEventRow).where(AlertEventRow.alert_id == alert_id)
                                                   .order_by(AlertEventRow.id))]
        return out


def _act(request: Request, principal: Principal, alert_id: str, action):
    n = notifier(request)
    try:
        with n.work() as session:
            alert = action(session, n, own_dyad(principal), n.clock())
            return views.summaries(session, [alert], lang=lang_of(request), tz=n.config.tz)[0]
    except alerts.AlertNotFound:
        raise HTTPException(404, detail=f"alerte inconnue: {alert_id}")
    except alerts.NotYours:
        raise HTTPException(403, detail="cette alerte n'est pas assignée à votre dyade")
    except InvalidTransition as exc:
        raise HTTPException(409, detail=str(exc))


@router.post("/alerts/{alert_id}/seen", summary="Alerte vue")
def post_seen(alert_id: str, request: Request, principal: Principal = Depends(requires(*FIELD))):
    return _act(request, principal, alert_id, lambda s, n, d, now: alerts.seen(s, alert_id, dyad_id=d, now=now))


@router.post("/alerts/{alert_id}/acknowledge", summary="Prendre en charge")
def post_ack(alert_id: str, request: Request, principal: Principal = Depends(requires(*FIELD))):
    return _act(request, principal, alert_id,
                lambda s, n, d, now: alerts.acknowledge(s, alert_id, dyad_id=d, now=now))


@router.post("/alerts/{alert_id}/decline", summary="Refuser (passe à la dyade suivante)")
def post_decline(alert_id: str, body: DeclineIn, request: Request, principal: Principal = Depends(requires(*FIELD))):
    return _act(request, principal, alert_id,
                lambda s, n, d, now: alerts.decline(s, alert_id, n.config, dyad_id=d, reason=body.reason, now=now))


@router.post("/alerts/{alert_id}/close", summary="Fermer avec une disposition")
def post_close(alert_id: str, body: CloseIn, request: Request, principal: Principal = Depends(requires(*FIELD))):
    return _act(request, principal, alert_id,
                lambda s, n, d, now: alerts.close(s, alert_id, dyad_id=d, disposition=body.disposition,
                                                  note=body.note, now=now))


@router.post("/alerts/{alert_id}/snooze", summary="Mettre en veille (raison obligatoire)")
def post_snooze(alert_id: str, body: SnoozeIn, request: Request, principal: Principal = Depends(requires(*FIELD))):
    return _act(request, principal, alert_id,
                lambda s, n, d, now: alerts.snooze(s, alert_id, dyad_id=d, reason=body.reason,
                                                   minutes=body.minutes, now=now))


# --- follow-ups -----------------------------------------------------------------------------------

@router.put("/persons/{person_key}/followup-plan", summary="Plan de suivi d'une personne connue (type 2)")
def put_plan(person_key: str, body: PlanIn, request: Request,
             _: Principal = Depends(requires(Role.SUPERVISOR, Role.SOCIAL_WORKER))):
    if not person_key.startswith("p_") or len(person_key) > 100:
        raise HTTPException(422, detail="person_key: clé pseudonyme attendue (p_…)")
    n = notifier(request)
    now = n.clock()
    with n.work() as session:
        if not alerts.dyad_exists(session, body.dyad_id):
            raise HTTPException(404, detail=f"dyade inconnue: {body.dyad_id}")
        first = utc(body.first_due_at) if body.first_due_at else now
        row = followups.upsert_plan(session, person_key=person_key, dyad_id=body.dyad_id,
                                    every_minutes=body.every_minutes, first_due_at=first, active=body.active,
                                    note=body.note, now=now, address=body.address, lat=body.lat, lon=body.lon,
                                    person_label=body.person_label)
        return {"person_key": person_key, "dyad_id": row.dyad_id, "every_minutes": row.every_minutes,
                "next_due_at": utc(row.next_due_at).isoformat(), "active": row.active, "address": row.address,
                "lat": row.lat, "lon": row.lon, "person_label": row.person_label}


@router.get("/followups/today", summary="Suivis du jour et appels reportés au matin",
            description="Une entrée par suivi: le rappel ouvert s'il y en a un, sinon la prochaine échéance du plan.")
def today(request: Request, principal: Principal = Depends(requires(*FIELD))):
    n = notifier(request)
    tz = n.config.tz
    with n.sessions() as session:
        due = followups.due_today(session, dyad_id=own_dyad(principal), now=n.clock(), tz=tz)
        # the morning list is found by the roster's sector: shown only what the token may open (dyade.access)
        due["alerts"] = [a for a in due["alerts"] if access.may_see(principal, dyad_ids=[a.dyad_id],
                                                                   sectors=[a.sector])]
        return {"plans": [{**p, "next_due_at": p["next_due_at"].isoformat(),
                           "time_local": labels.local_datetime(p["next_due_at"], tz),
                           "clock_local": labels.local_clock(p["next_due_at"], tz),
                           "where": labels.where(p["address"], p["sector"], lang_of(request)),
                           "geo": labels.geo_uri(p["lat"], p["lon"])} for p in due["plans"]],
                "alerts": views.summaries(session, due["alerts"], lang=lang_of(request), tz=tz)}


