"""Frame reads: every one audited (who, when, which version, for which call, on what basis) and entered in the
register of communications in the same write, the patrol terminals' fast path through an in-process cache,
versions, the audit list and a person's whole file (with every communication about them, from every service)."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import sessionmaker

from dyade.auth import Principal
from dyade.contracts import InformationType, LegalBasis
from dyade.db import unit_of_work
from services.infosocial.domain.review import today_in_montreal
from services.infosocial.domain.visibility import VIEW_OF_ROLE, FrameSnapshot, view_for
from services.infosocial.adapters import register
from services.infosocial.adapters.frames import Problem, snapshot
from dyade.clock import utcnow
from services.infosocial.adapters.models import (Communication, ConsentEntry, Frame, FrameRead, FrameVersion,
                                                 RecurrenceOverride, Referral, ReferralStep)

CACHE_TTL_S = 10.0  # other instances' writes show within this; this instance's writes at once


class SnapshotCache:
    """person_key -> snapshot of the open frame (or None). Invalidated by this process's own writes.

    A read that missed may have read the row before a write committed, and the write's invalidation may come
    before the read stores its result: each key has a generation, bumped on invalidation, and a read stores its
    result only if the generation it took before reading (`generation`) is still the key's."""

    def __init__(self, ttl_s: float = CACHE_TTL_S, max_entries: int = 50_000):
        self.ttl_s, self.max_entries = ttl_s, max_entries
        self._data: dict[str, tuple[float, FrameSnapshot | None]] = {}
        self._generations: dict[str, int] = {}
        self._epoch = 0  # bumped when the generations are dropped (bounded memory): reads begun before store nothing
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[bool, FrameSnapshot | None]:
        hit = self._data.get(key)
        if hit and hit[0] > time.monotonic():
            return True, hit[1]
        return False, None

    def generation(self, key: str) -> tuple[int, int]:
        with self._lock:
            return self._epoch, self._generations.get(key, 0)

    def put(self, key: str, snap: FrameSnapshot | None, generation: tuple[int, int]) -> bool:
        """Store what was read since `generation`; not if the key was invalidated meanwhile (False)."""
        with self._lock:
            if generation != (self._epoch, self._generations.get(key, 0)):
                return False
            if len(self._data) >= self.max_entries:
                self._data.clear()
            self._data[key] = (time.monotonic() + self.ttl_s, snap)
            return True

    def invalidate(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)
            if len(self._generations) >= self.max_entries:
                self._generations.clear()
                self._epoch += 1
            self._generations[key] = self._generations.get(key, 0) + 1


@dataclass
class FrameReads:
    factory: sessionmaker
    cache: SnapshotCache
    audit_engine: Engine | None = None  # autocommit, no pre-ping: one round trip per audited read

    def for_person(self, person_key: str) -> FrameSnapshot | None:
        hit, snap = self.cache.get(person_key)
        if hit:
            return snap
        generation = self.cache.generation(person_key)  # before the read: a write committed after it is seen
        with unit_of_work(self.factory) as s:
            frame = s.scalars(select(Frame).where(Frame.person_key == person_key, Frame.archived_at.is_(None))).first()
            snap = snapshot(s, frame) if frame else None
        self.cache.put(person_key, snap, generation)
        return snap

    def of_frame(self, frame_id: str) -> FrameSnapshot | None:
        with unit_of_work(self.factory) as s:
            frame = s.get(Frame, frame_id)
            return snapshot(s, frame) if frame else None

    def read(self, who: Principal, snap: FrameSnapshot | None, *, call_id: str | None, purpose: str = "lecture",
             missing: str = "aucune fiche Info-social active pour cette personne") -> dict[str, Any]:
        """The frame as `who` may see it, with the read recorded in the audit."""
        if who.role not in VIEW_OF_ROLE:
            raise Problem(403, f"le rôle {who.role.value} n'a pas accès aux fiches Info-social")
        complete = VIEW_OF_ROLE[who.role] == "complete"
        if snap is None or (not complete and (not snap.active or snap.archived)):
            raise Problem(404, missing)
        now = utcnow()
        view = view_for(who.role, snap, today_in_montreal(now))
        self.audit(who, snap, view["view"], purpose, call_id, now, view.get("legal_basis"))
        return view

    def audit(self, who: Principal, snap: FrameSnapshot, view: str, purpose: str, call_id: str | None,
              now: datetime, basis: str | None = None, version: int | None = None) -> None:
        """The read in the audit and in the register of communications, committed before the frame is shown:
        no entry, no frame."""
        row = dict(at=now, reader=who.subject[:100], role=who.role.value, view=view, purpose=purpose,
                   frame_id=snap.frame_id, person_key=snap.person_key,
                   version=version if version is not None else snap.version,
                   call_id=call_id, legal_basis=basis or snap.basis(today_in_montreal(now)).value)
        entry = register.row_of(register.own_read(
            who, person_key=snap.person_key, information=register.INFORMATION_OF_VIEW[view], purpose=purpose,
            now=now, basis=LegalBasis(row["legal_basis"]), justification=snap.consent.justification,
            frame_id=snap.frame_id, version=row["version"], call_id=call_id), now)
        self._write([row], entry)

    def _write(self, reads: list[dict], entry: dict) -> None:
        """The audit rows and the register entry, both or neither. One read on PostgreSQL: one statement on the
        autocommit engine (the patrol terminals' path); otherwise a transaction on the main engine."""
        single = self.audit_engine is not None and len(reads) == 1
        engine = self.audit_engine if single else self.factory.kw["bind"]
        for attempt in (1, 2):  # a dropped pooled connection is retried once (the event id keeps one entry)
            try:
                with engine.begin() as conn:
                    if single:
                        conn.execute(register.READ_AND_ENTRY, {**{"read_" + k: v for k, v in reads[0].items()},
                                                               **entry})
                    else:
                        if reads:
                            conn.execute(insert(FrameRead), reads)
                        conn.execute(register.insert_entries(engine.dialect.name), entry)
                return
            except DBAPIError as exc:
                if attempt == 2 or not exc.connection_invalidated:
                    raise

    # -- versions ------------------------------------------------------------------------------------
    def versions(self, who: Principal, frame_id: str, call_id: str | None) -> list[dict]:
        snap = self._require(frame_id)
        with unit_of_work(self.factory) as s:
            rows = s.scalars(select(FrameVersion).where(FrameVersion.frame_id == frame_id)
                             .order_by(FrameVersion.version)).all()
            out = [_version_summary(v, snap) for v in rows]
        self.audit(who, snap, "complete", "versions", call_id, utcnow())
        return out

    def version(self, who: Principal, frame_id: str, number: int, call_id: str | None) -> dict:
        snap = self._require(frame_id)
        with unit_of_work(self.factory) as s:
            row = s.get(FrameVersion, (frame_id, number))
            if row is None:
                raise Problem(404, f"version {number} introuvable pour la fiche {frame_id}")
            out = _version_summary(row, snap) | {"content": row.content}
        self.audit(who, snap, "complete", "version", call_id, utcnow(), version=number)
        return out

    def _require(self, frame_id: str) -> FrameSnapshot:
        snap = self.of_frame(frame_id)
        if snap is None:
            raise Problem(404, f"fiche {frame_id} introuvable")
        return snap

    # -- audit and access right ------------------------------------------------------------------------
    def audit_list(self, *, person_key: str | None, frame_id: str | None, reader: str | None,
                   since: datetime | None, limit: int) -> list[dict]:
        with unit_of_work(self.factory) as s:
            q = select(FrameRead).order_by(FrameRead.id.desc()).limit(limit)
            for column, value in ((FrameRead.person_key, person_key), (FrameRead.frame_id, frame_id),
                                  (FrameRead.reader, reader)):
                if value:
                    q = q.where(column == value)
            if since:
                q = q.where(FrameRead.at >= since)
            return [_read_row(r) for r in s.scalars(q)]

    def export(self, who: Principal, person_key: str) -> dict:
        """Everything held about a person (access right): frames, versions, consents, referrals, overrides,
        who read the frames, and every communication about them from every service (the register). The export
        is itself audited and entered in the register before it is given."""
        with unit_of_work(self.factory) as s:
            frames = s.scalars(select(Frame).where(Frame.person_key == person_key).order_by(Frame.created_at)).all()
            referrals = s.scalars(select(Referral).where(Referral.person_key == person_key)).all()
            communicated = s.scalar(select(Communication.id).where(Communication.person_key == person_key).limit(1))
            if not frames and not referrals and communicated is None:
                raise Problem(404, "aucun dossier pour cette personne")
            out_frames = []
            for f in frames:
                versions = s.scalars(select(FrameVersion).where(FrameVersion.frame_id == f.frame_id)
                                     .order_by(FrameVersion.version)).all()
                consents = s.scalars(select(ConsentEntry).where(ConsentEntry.frame_id == f.frame_id)
                                     .order_by(ConsentEntry.id)).all()
                out_frames.append({
                    "frame_id": f.frame_id, "display_name": f.display_name, "owner": f.owner,
                    "created_at": f.created_at.isoformat(), "active_version": f.active_version,
                    "review_due": f.review_due.isoformat() if f.review_due else None, "stale": f.stale,
                    "archived_at": f.archived_at.isoformat() if f.archived_at else None,
                    "archived_reason": f.archived_reason,
                    "versions": [{"version": v.version, "author": v.author, "reason": v.reason,
                                  "created_at": v.created_at.isoformat(), "approved_by": v.approved_by,
                                  "approved_at": v.approved_at.isoformat() if v.approved_at else None,
                                  "content": v.content} for v in versions],
                    "consents": [{"status": c.status, "date": c.date.isoformat() if c.date else None,
                                  "scope": c.scope, "legal_basis": c.legal_basis, "justification": c.justification,
                                  "note": c.note, "recorded_by": c.recorded_by,
                                  "recorded_at": c.recorded_at.isoformat()} for c in consents]})
            out_referrals = []
            for r in referrals:
                steps = s.scalars(select(ReferralStep).where(ReferralStep.referral_id == r.referral_id)
                                  .order_by(ReferralStep.id)).all()
                out_referrals.append({
                    "referral_id": r.referral_id, "origin": r.origin, "referrer_type": r.referrer_type,
                    "criteria": r.criteria, "status": r.status, "received_at": r.received_at.isoformat(),
                    "summary": r.summary,
                    "first_contact_at": r.first_contact_at.isoformat() if r.first_contact_at else None,
                    "steps": [{"status": st.status, "previous": st.previous, "at": st.at.isoformat(), "by": st.by,
                               "note": st.note} for st in steps]})
            overrides = s.scalars(select(RecurrenceOverride).where(RecurrenceOverride.person_key == person_key)).all()
            reads = s.scalars(select(FrameRead).where(FrameRead.person_key == person_key)
                              .order_by(FrameRead.id)).all()
            out = {"person_key": person_key, "exported_at": utcnow().isoformat(), "exported_by": who.subject,
                   "frames": out_frames, "referrals": out_referrals,
                   "recurrence_overrides": [{"recurrent": o.recurrent, "note": o.note, "author": o.author,
                                             "at": o.at.isoformat(),
                                             "until": o.until.isoformat() if o.until else None} for o in overrides],
                   "reads": [_read_row(r) for r in reads]}
        now = utcnow()
        exported = register.own_read(who, person_key=person_key, information=InformationType.DOSSIER_EXPORTE,
                                     purpose="export", now=now, basis=None,
                                     frame_id=frames[-1].frame_id if frames else None,
                                     version=frames[-1].active_version if frames else None)
        audited = []
        for f in frames:
            snap = self.of_frame(f.frame_id)
            if snap:
                audited.append(dict(at=now, reader=who.subject[:100], role=who.role.value, view="complete",
                                    purpose="export", frame_id=snap.frame_id, person_key=person_key,
                                    version=snap.version, call_id=None,
                                    legal_basis=snap.basis(today_in_montreal(now)).value))
        self._write(audited, register.row_of(exported, now))
        with unit_of_work(self.factory) as s:  # the export itself among them
            out["communications"] = register.of_person(s, person_key)
        return out


def _version_summary(v: FrameVersion, snap: FrameSnapshot) -> dict:
    active = snap.active and v.version == snap.version
    return {"frame_id": v.frame_id, "version": v.version, "author": v.author, "reason": v.reason,
            "created_at": v.created_at.isoformat(), "approved_by": v.approved_by,
            "approved_at": v.approved_at.isoformat() if v.approved_at else None,
            "state": "active" if active else ("approuvee" if v.approved_at else
                                              ("en_attente" if v.version in snap.pending_versions else "remplacee"))}


def _read_row(r: FrameRead) -> dict:
    return {"at": r.at.isoformat(), "reader": r.reader, "role": r.role, "view": r.view, "purpose": r.purpose,
            "frame_id": r.frame_id, "person_key": r.person_key, "version": r.version, "call_id": r.call_id,
            "legal_basis": r.legal_basis}
