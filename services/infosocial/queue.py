"""The referral work queue: referrals and triage's suggestions come in from Kafka, the social worker moves
them through their states, and each move is published on referrals.status.v1. Also the manual
recurrence override (triage.overridden.v1)."""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone
from typing import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from dyade.contracts import (Event, RecurrenceOverridden, ReferralFiled, ReferralStatus, ReferralStatusChanged,
                             ReferralSuggested, ReferrerType)
from dyade.contracts.referrals import ReferralStatusPayload
from dyade.contracts.triage import OverridePayload
from dyade.db import unit_of_work
from services.infosocial.domain.referrals import LABELS, OPEN, TransitionRefused, transition
from services.infosocial.frames import SOURCE, Problem, utcnow
from services.infosocial.models import Frame, ProcessedEvent, RecurrenceOverride, Referral, ReferralStep
from services.infosocial.outbox import enqueue

log = logging.getLogger("infosocial.queue")


def status_event(r: Referral, previous: str | None, now: datetime) -> ReferralStatusChanged:
    payload = ReferralStatusPayload(
        referral_id=r.referral_id, person_key=r.person_key, status=ReferralStatus(r.status),
        previous=ReferralStatus(previous) if previous else None, first_contact_at=r.first_contact_at,
        referrer_type=ReferrerType(r.referrer_type), criteria=tuple(r.criteria or ()), received_at=r.received_at)
    return ReferralStatusChanged.new(payload=payload, occurred_at=now, source=SOURCE, correlation_id=r.referral_id)


class ReferralQueue:
    def __init__(self, factory: sessionmaker, after_commit: Callable[[], None] = lambda: None):
        self.factory = factory
        self.after_commit = after_commit

    # -- from Kafka ----------------------------------------------------------------------------------
    def handle(self, event: Event) -> None:
        """Idempotent: an event id seen before is dropped; a referral id seen before is merged."""
        try:
            with unit_of_work(self.factory) as s:
                if s.get(ProcessedEvent, str(event.event_id)) is not None:
                    return
                s.add(ProcessedEvent(event_id=str(event.event_id), at=utcnow()))
                if isinstance(event, ReferralFiled):
                    self._filed(s, event)
                elif isinstance(event, ReferralSuggested):
                    self._suggested(s, event)
        except IntegrityError:  # the same event handled concurrently by another instance
            log.info("duplicate referral event dropped", extra={"event_id": str(event.event_id)})
            return
        self.after_commit()

    def _filed(self, s: Session, event: ReferralFiled) -> None:
        p = event.payload
        existing = s.get(Referral, p.referral_id)
        if existing is not None:
            existing.linked_call_ids = _union(existing.linked_call_ids, p.linked_call_ids)
            existing.criteria = _union(existing.criteria, [c.value for c in p.criteria])
            return
        r = Referral(referral_id=p.referral_id, person_key=p.person_key, origin="filed",
                     referrer_type=p.referrer_type.value, referrer_key=p.referrer_key,
                     criteria=[c.value for c in p.criteria], clientele=[c.value for c in p.clientele],
                     linked_call_ids=list(p.linked_call_ids), reasons=[], summary=p.summary,
                     status=ReferralStatus.RECUE.value, received_at=event.occurred_at, updated_at=utcnow())
        self._receive(s, r, "référence reçue")

    def _suggested(self, s: Session, event: ReferralSuggested) -> None:
        p = event.payload
        open_one = s.scalars(select(Referral).where(Referral.person_key == p.person_key,
                                                    Referral.status.in_([x.value for x in OPEN]))
                             .order_by(Referral.received_at.desc())).first()
        if open_one is not None:  # already in the queue (a refusal stays respected: no reopening)
            open_one.linked_call_ids = _union(open_one.linked_call_ids, [p.call_id])
            open_one.reasons = _union(open_one.reasons, list(p.reasons))
            return
        if s.get(Referral, p.suggestion_id) is not None:
            return
        r = Referral(referral_id=p.suggestion_id, person_key=p.person_key, origin="suggested",
                     referrer_type=ReferrerType.TRIAGE.value, referrer_key="triage",
                     criteria=[c.value for c in p.criteria], clientele=[], linked_call_ids=[p.call_id],
                     reasons=list(p.reasons), summary=None, status=ReferralStatus.RECUE.value,
                     received_at=event.occurred_at, updated_at=utcnow())
        self._receive(s, r, f"suggérée par le triage (règles {p.ruleset_version})")

    def _receive(self, s: Session, r: Referral, note: str) -> None:
        s.add(r)
        s.flush()
        s.add(ReferralStep(referral_id=r.referral_id, status=r.status, previous=None, at=r.updated_at,
                           by=r.referrer_type, note=note))
        enqueue(s, status_event(r, None, r.updated_at))

    # -- the social worker's moves -----------------------------------------------------------------------
    def move(self, referral_id: str, target: ReferralStatus, by: str, *, note: str | None,
             first_contact_at: datetime | None, person_notified: bool) -> dict:
        now = utcnow()
        first_contact_at = first_contact_at.astimezone(timezone.utc) if first_contact_at else None
        with unit_of_work(self.factory) as s:
            r = s.get(Referral, referral_id, with_for_update=True)
            if r is None:
                raise Problem(404, f"référence {referral_id} introuvable")
            try:
                t = transition(ReferralStatus(r.status), target, now=now, first_contact_at=first_contact_at,
                               existing_first_contact=r.first_contact_at, person_notified=person_notified,
                               note=note)
            except TransitionRefused as exc:
                raise Problem(409, str(exc)) from exc
            r.status, r.first_contact_at, r.updated_at = t.status.value, t.first_contact_at, now
            s.add(ReferralStep(referral_id=r.referral_id, status=t.status.value, previous=t.previous.value, at=now,
                               by=by, note=t.note))
            enqueue(s, status_event(r, t.previous.value, now))
            out = self._row(s, r)
        self.after_commit()
        return out

    def list(self, *, statuses: list[str] | None, person_key: str | None, limit: int) -> list[dict]:
        with unit_of_work(self.factory) as s:
            q = select(Referral).order_by(Referral.received_at.desc()).limit(limit)
            if statuses:
                q = q.where(Referral.status.in_(statuses))
            if person_key:
                q = q.where(Referral.person_key == person_key)
            return [self._row(s, r) for r in s.scalars(q)]

    def get(self, referral_id: str) -> dict:
        with unit_of_work(self.factory) as s:
            r = s.get(Referral, referral_id)
            if r is None:
                raise Problem(404, f"référence {referral_id} introuvable")
            steps = s.scalars(select(ReferralStep).where(ReferralStep.referral_id == referral_id)
                              .order_by(ReferralStep.id)).all()
            return self._row(s, r) | {"steps": [{"status": st.status, "previous": st.previous,
                                                  "at": st.at.isoformat(), "by": st.by, "note": st.note}
                                                 for st in steps]}

    @staticmethod
    def _row(s: Session, r: Referral) -> dict:
        frame = s.scalars(select(Frame).where(Frame.person_key == r.person_key, Frame.archived_at.is_(None))).first()
        return {"referral_id": r.referral_id, "person_key": r.person_key, "origin": r.origin,
                "referrer_type": r.referrer_type, "criteria": r.criteria, "clientele": r.clientele,
                "linked_call_ids": r.linked_call_ids, "reasons": r.reasons, "summary": r.summary,
                "status": r.status, "status_label": LABELS[ReferralStatus(r.status)],
                "received_at": r.received_at.isoformat(),
                "first_contact_at": r.first_contact_at.isoformat() if r.first_contact_at else None,
                "frame_id": frame.frame_id if frame else None,
                "frame_active": bool(frame and frame.active_version)}

    # -- recurrence override -------------------------------------------------------------------------------
    def override(self, person_key: str, *, recurrent: bool, note: str, author: str,
                 until: datetime | None) -> dict:
        now = utcnow()
        with unit_of_work(self.factory) as s:
            s.add(RecurrenceOverride(person_key=person_key, recurrent=recurrent, note=note, author=author,
                                     until=until, at=now))
            payload = OverridePayload(person_key=person_key, recurrent=recurrent, note=note, author_key=author,
                                      until=until)
            event = RecurrenceOverridden.new(payload=payload, occurred_at=now, source=SOURCE,
                                             correlation_id=f"override-{uuid.uuid4().hex[:12]}")
            enqueue(s, event)
        self.after_commit()
        return {"event_id": str(event.event_id), "person_key": person_key, "recurrent": recurrent,
                "until": until.isoformat() if until else None}


def _union(existing: list | None, new) -> list:
    out = list(existing or [])
    for x in new:
        if x not in out:
            out.append(x)
    return out
