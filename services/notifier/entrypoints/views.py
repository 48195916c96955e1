"""What the field app and the push channels show of an alert: labels in French (English on request),
where to go (block-level address, sector, `geo:` link, nature, the call's local time), the triage
reasons, each call the alert carries, and — in the detail only, audited and entered in the register of
communications — the frame's police view."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from dyade import access
from dyade.auth import Principal
from dyade.contracts import (CommunicationPayload, CommunicationRecorded, InformationType, LegalBasis, Recipient,
                             Reference, organisation_of)
from dyade.contracts.triage import FRAME_REASON
from dyade.contracts.vocabulary import AlertState, CallCategory

from services.notifier.domain import labels, lifecycle
from services.notifier.domain.roster import MONTREAL
from services.notifier.adapters.models import AlertCallRow, AlertRow, FrameReadRow, FrameRow, utc
from services.notifier.adapters.outbox import enqueue

READ_PURPOSE = "intervention de la dyade : fiche consultée dans le détail de l'alerte"


def _iso(dt: datetime | None) -> str | None:
    return utc(dt).isoformat() if dt else None


def _category_label(category: str | None) -> str:
    return labels.CATEGORIES.get(CallCategory(category), "") if category else ""


def alert_summary(alert: AlertRow, *, lang: str = "fr", frames: set[str] | None = None,
                  stale: set[str] | None = None, tz: ZoneInfo = MONTREAL) -> dict:
    keys = alert.person_keys or []
    received = utc(alert.last_call_at) or utc(alert.call_received_at) or (utc(alert.due_at) if alert.kind == "suivi"
                                                                          else None) or utc(alert.created_at)
    return {
        "alert_id": alert.alert_id,
        "kind": alert.kind,
        "state": alert.state,
        "state_label": lifecycle.LABELS[AlertState(alert.state)],
        "open": AlertState(alert.state) in lifecycle.OPEN,
        "dyad_id": alert.dyad_id,
        "target": alert.target,
        "target_label": labels.TARGETS.get(alert.target or "", alert.target),
        "sector": alert.sector,
        "level": alert.level,
        "level_label": labels.level_label(alert.level, lang),
        "category": alert.category,
        "category_label": _category_label(alert.category),
        "call_id": alert.call_id,
        "call_ids": alert.call_ids or [],
        "calls_count": len(alert.call_ids or []),
        "person_keys": keys,
        "person_label": alert.person_label,
        "plan_person_key": alert.plan_person_key,
        "address": alert.address,
        "where": labels.where(alert.address, alert.sector, lang),
        "lat": alert.lat,
        "lon": alert.lon,
        "geo": labels.geo_uri(alert.lat, alert.lon),
        "nature_code": alert.nature_code,
        "last_call_at": _iso(alert.last_call_at),
        "time_local": labels.local_datetime(received, tz),
        "clock_local": labels.local_clock(received, tz),
        "paged_at": _iso(alert.paged_at),
        "summary": alert.summary,
        "reasons": alert.reasons or [],
        "call_received_at": _iso(alert.call_received_at),
        "created_at": _iso(alert.created_at),
        "assigned_at": _iso(alert.assigned_at),
        "due_at": _iso(alert.due_at),
        "snoozed_until": _iso(alert.snoozed_until),
        "note": alert.note,
        "disposition": alert.disposition,
        "has_frame": bool(frames and set(keys) & frames),
        "frame_stale": bool(stale and set(keys) & stale),
    }


def frame_index(session: Session, person_keys: set[str]) -> tuple[set[str], set[str]]:
    if not person_keys:
        return set(), set()
    rows = session.execute(select(FrameRow.person_key, FrameRow.stale).where(FrameRow.person_key.in_(person_keys)))
    found, stale = set(), set()
    for key, is_stale in rows:
        found.add(key)
        if is_stale:
            stale.add(key)
    return found, stale


def summaries(session: Session, rows: list[AlertRow], *, lang: str = "fr", tz: ZoneInfo = MONTREAL) -> list[dict]:
    frames, stale = frame_index(session, {k for a in rows for k in (a.person_keys or [])})
    return [alert_summary(a, lang=lang, frames=frames, stale=stale, tz=tz) for a in rows]


def calls(session: Session, alert: AlertRow, *, lang: str = "fr", tz: ZoneInfo = MONTREAL) -> list[dict]:
    """Each call the alert carries, newest first, with its own time, place, level and reasons."""
    rows = session.scalars(select(AlertCallRow).where(AlertCallRow.alert_id == alert.alert_id)
                           .order_by(AlertCallRow.received_at.desc(), AlertCallRow.id.desc()))
    return [{"call_id": c.call_id, "revision": c.revision, "level": c.level,
             "level_label": labels.level_label(c.level, lang), "category": c.category,
             "category_label": _category_label(c.category), "sector": c.sector, "address": c.address,
             "where": labels.where(c.address, c.sector, lang), "lat": c.lat, "lon": c.lon,
             "geo": labels.geo_uri(c.lat, c.lon), "nature_code": c.nature_code,
             "received_at": _iso(c.received_at), "time_local": labels.local_datetime(utc(c.received_at), tz),
             "reasons": c.reasons or [], "summary": c.summary, "outcome": c.outcome,
             "joined_at": _iso(c.joined_at), "cleared": c.cleared_at is not None} for c in rows]


def police_views(session: Session, alert: AlertRow, principal: Principal, *, now: datetime,
                 lang: str = "fr") -> list[dict]:
    """The frames of the alert's persons as the reader's role may see them (dyade.access, Info-social's views):
    the police view for a dyad, each read recorded in the audit table and, in the same transaction, entered in
    the register of communications (kept by Info-social); for a role Info-social shows no frame (the supervisor)
    only that the person has one, withheld — no police view, contact, consent or basis, and nothing disclosed,
    so no read recorded."""
    out = []
    for key in alert.person_keys or []:
        frame = session.get(FrameRow, key)
        if frame is None:
            continue
        shown = access.police_view_for(principal.role, frame.police_view)
        if shown is None:
            out.append({"person_key": key, "stale": frame.stale, "withheld": True, "view": None,
                        "note": access.WITHHELD_NOTE.format(role=principal.role.value)})
            continue
        session.add(FrameReadRow(at=now, subject=principal.subject, role=principal.role.value, person_key=key,
                                 alert_id=alert.alert_id))
        enqueue(session, frame_read(principal, alert, frame, now))
        out.append({"person_key": key, "frame_id": frame.frame_id, "version": frame.version, "stale": frame.stale,
                    "review_due": frame.review_due.isoformat() if frame.review_due else None,
                    "consent": frame.consent, "police_view": shown, "withheld": False,
                    "view": access.frame_view(principal.role)})
    if not out and _triage_saw_a_frame(session, alert):
        out.append({"person_key": None, "coming": True, "withheld": False, "view": None,
                    "note": labels.frame_coming(lang)})
    return out


def _triage_saw_a_frame(session: Session, alert: AlertRow) -> bool:
    """Triage decided with a frame the notifier does not hold yet (it travels on its own topic)."""
    reasons = list(alert.reasons or []) + [r for c in session.scalars(
        select(AlertCallRow.reasons).where(AlertCallRow.alert_id == alert.alert_id)) for r in (c or [])]
    return any(isinstance(r, dict) and r.get("factor") == FRAME_REASON for r in reasons)


def frame_read(principal: Principal, alert: AlertRow, frame: FrameRow, now: datetime) -> CommunicationRecorded:
    """The register's entry for a frame shown in an alert's detail: which view, to whom, on the frame's basis."""
    information = (InformationType.FICHE_VUE_REPARTITION if access.frame_view(principal.role) == "dispatch"
                   else InformationType.FICHE_VUE_POLICIERE)
    payload = CommunicationPayload(
        person_key=frame.person_key, information=information,
        recipient=Recipient(subject=principal.subject[:200], role=principal.role,
                            organisation=organisation_of(principal.role), dyad_id=principal.dyad_id,
                            sector=principal.sector or alert.sector),
        purpose=READ_PURPOSE, legal_basis=LegalBasis((frame.police_view or {}).get("legal_basis", LegalBasis.AUCUNE)),
        reference=Reference(call_id=alert.call_id, frame_id=frame.frame_id, frame_version=frame.version,
                            alert_id=alert.alert_id))
    return CommunicationRecorded.new(payload=payload, occurred_at=now, source="notifier",
                                     correlation_id=alert.call_id or alert.alert_id)


def push_message(alert: AlertRow) -> dict:
    """Web Push payload: crosses a third-party push service, so no narrative and no person key."""
    return {"alert_id": alert.alert_id, "kind": alert.kind, "state": alert.state,
            "title": f"Alerte {labels.level_label(alert.level) or 'suivi'} — secteur {alert.sector or '?'}",
            "body": labels.CATEGORIES.get(CallCategory(alert.category), "") if alert.category else "Suivi prévu",
            "url": f"/?alerte={alert.alert_id}"}
