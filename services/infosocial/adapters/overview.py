"""Lists for the social worker: frames waiting for approval, frames due for review, all open frames.
Metadata only (no content): listing is not a read of a frame. No name either (not the frame's display_name):
who a person is comes from intake's audited identity read, which the pages ask for the keys they show."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import sessionmaker

from dyade.db import unit_of_work
from services.infosocial.domain.review import REVIEW_NOTICE_DAYS
from services.infosocial.adapters.models import Frame, FrameVersion


def _pending():
    """A version written after the active one and not approved yet."""
    return exists().where(FrameVersion.frame_id == Frame.frame_id, FrameVersion.approved_at.is_(None),
                          FrameVersion.version > func.coalesce(Frame.active_version, 0))


def _due(today: date, within_days: int):
    return and_(Frame.active_version.is_not(None),
                or_(Frame.stale.is_(True), Frame.review_due <= today + timedelta(days=within_days)))


def frame_list(factory: sessionmaker, *, today: date, due_within_days: int | None = None,
               pending_only: bool = False, limit: int = 200, offset: int = 0) -> list[dict]:
    with unit_of_work(factory) as s:
        q = select(Frame).where(Frame.archived_at.is_(None)).order_by(Frame.updated_at.desc(), Frame.frame_id)
        if due_within_days is not None:
            q = q.where(_due(today, due_within_days)).order_by(None).order_by(Frame.review_due, Frame.frame_id)
        if pending_only:
            q = q.where(_pending())
        frames = s.scalars(q.offset(offset).limit(limit)).all()
        ids = [f.frame_id for f in frames]
        pending: dict[str, list[tuple[int, str]]] = {}
        if ids:
            rows = s.execute(select(FrameVersion.frame_id, FrameVersion.version, FrameVersion.author)
                             .where(FrameVersion.frame_id.in_(ids), FrameVersion.approved_at.is_(None))).all()
            for fid, version, author in rows:
                pending.setdefault(fid, []).append((version, author))
        out = []
        for f in frames:
            waiting = sorted(v for v in pending.get(f.frame_id, []) if v[0] > (f.active_version or 0))
            if pending_only and not waiting:
                continue
            stale = bool(f.active_version) and (f.stale or (f.review_due is not None and today > f.review_due))
            out.append({"frame_id": f.frame_id, "person_key": f.person_key,
                        "owner": f.owner, "active_version": f.active_version,
                        "status": "archivee" if f.archived_at else ("perimee" if stale else
                                                                    ("active" if f.active_version else "en_attente")),
                        "review_due": f.review_due.isoformat() if f.review_due else None, "stale": stale,
                        "consent_status": f.consent_status,
                        "pending_versions": [{"version": v, "author": a} for v, a in waiting]})
        return out


def frame_counts(factory: sessionmaker, today: date) -> dict[str, int]:
    """How many frames wait for an approval, are due for review (30 days) or stale, are open."""
    with unit_of_work(factory) as s:
        open_ = Frame.archived_at.is_(None)
        count = lambda *where: s.scalar(select(func.count()).select_from(Frame).where(open_, *where))  # noqa: E731
        return {"approvals": count(_pending()), "reviews": count(_due(today, REVIEW_NOTICE_DAYS)), "open": count()}


def due_for_review(factory: sessionmaker, today: date, limit: int = 200) -> list[dict]:
    return frame_list(factory, today=today, due_within_days=REVIEW_NOTICE_DAYS, limit=limit)
