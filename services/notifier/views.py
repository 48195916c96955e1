"""What the field app and the push channels show of an alert: labels in French (English on request),
the triage reasons, and — in the detail only, audited — the frame's police view."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dyade.auth import Principal
from dyade.contracts.vocabulary import AlertState, CallCategory

from services.notifier.domain import labels, lifecycle
from services.notifier.models import AlertRow, FrameReadRow, FrameRow, utc


def _iso(dt: datetime | None) -> str | None:
    return utc(dt).isoformat() if dt else None


def alert_summary(alert: AlertRow, *, lang: str = "fr", frames: set[str] | None = None,
                  stale: set[str] | None = None) -> dict:
    keys = alert.person_keys or []
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
        "category_label": labels.CATEGORIES.get(CallCategory(alert.category), "") if alert.category else "",
        "call_id": alert.call_id,
        "call_ids": alert.call_ids or [],
        "person_keys": keys,
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


def summaries(session: Session, rows: list[AlertRow], *, lang: str = "fr") -> list[dict]:
    frames, stale = frame_index(session, {k for a in rows for k in (a.person_keys or [])})
    return [alert_summary(a, lang=lang, frames=frames, stale=stale) for a in rows]


def police_views(session: Session, alert: AlertRow, principal: Principal, *, now: datetime) -> list[dict]:
    """The frames of the alert's persons, each read recorded in the audit table."""
    out = []
    for key in alert.person_keys or []:
        frame = session.get(FrameRow, key)
        if frame is None:
            continue
        session.add(FrameReadRow(at=now, subject=principal.subject, role=principal.role.value, person_key=key,
                                 alert_id=alert.alert_id))
        out.append({"person_key": key, "frame_id": frame.frame_id, "version": frame.version, "stale": frame.stale,
                    "review_due": frame.review_due.isoformat() if frame.review_due else None,
                    "consent": frame.consent, "police_view": frame.police_view})
    return out


def push_message(alert: AlertRow) -> dict:
    """Web Push payload: crosses a third-party push service, so no narrative and no person key."""
    return {"alert_id": alert.alert_id, "kind": alert.kind, "state": alert.state,
            "title": f"Alerte {labels.level_label(alert.level) or 'suivi'} — secteur {alert.sector or '?'}",
            "body": labels.CATEGORIES.get(CallCategory(alert.category), "") if alert.category else "Suivi prévu",
            "url": f"/?alerte={alert.alert_id}"}
