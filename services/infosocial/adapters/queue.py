"""The referral work queue: referrals and triage's suggestions come in from Kafka, the social worker moves
referrals through their states, and each move is published on referrals.status.v1. Triage's suggestions wait
apart, one open per person (domain.suggestions), until she confirms one (it becomes a referral: `reçue`,
published like any other) or dismisses it (with a reason). Also the manual recurrence override
(triage.overridden.v1)."""
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
from dyade.ledger import first_time
from services.infosocial.domain import suggestions as SG
from services.infosocial.domain.labels import DISMISS_REASONS, criteria as criteria_labels
from services.infosocial.domain.referrals import LABELS, OPEN, TransitionRefused, transition
from services.infosocial.adapters.frames import SOURCE, Problem
from dyade.clock import utcnow
from services.infosocial.adapters.models import (Frame, RecurrenceOverride, Referral, ReferralStep, Suggestion,
                                                 processed)
from services.infosocial.adapters.outbox import enqueue

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
        """Idempotent: an event id seen before is dropped (dyade.ledger; the same event handled at once by
        another instance during a rebalance waits for it, then is dropped); a referral id seen before is merged.
        A conflict (a suggestion for the same person handled at once by another instance) is retried once: the
        second time the person's open suggestion is there to update."""
        for attempt in (1, 2):
            try:
                with unit_of_work(self.factory) as s:
                    if not first_time(s, processed, event):
                        return
                    if isinstance(event, ReferralFiled):
                        self._filed(s, event)
                    elif isinstance(event, ReferralSuggested):
                        self._suggested(s, event)
                break
            except IntegrityError:
                if attempt == 2:
                    raise
                log.info("referral event conflicted, retried", extra={"event_id": str(event.event_id)})
        self.after_commit()

    def _filed(self, s: Session, event: ReferralFiled) -> None:
        p = event.payload
        existing = s.get(Referral, p.referral_id)
        if existing is not None:
            existing.linked_call_ids = _union(existing.linked_call_ids, p.linked_call_ids)
            existing.criteria = _union(existing.criteria, [c.value for c in p.criteria])
            existing.priority = SG.priority(existing.criteria)
            return
        r = Referral(referral_id=p.referral_id, person_key=p.person_key, origin="filed",
                     referrer_type=p.referrer_type.value, referrer_key=p.referrer_key,
                     criteria=[c.value for c in p.criteria], clientele=[c.value for c in p.clientele],
                     linked_call_ids=list(p.linked_call_ids), reasons=[], summary=p.summary,
                     status=ReferralStatus.RECUE.value, received_at=event.occurred_at, updated_at=utcnow(),
                     priority=SG.priority(c.value for c in p.criteria), sector_checked=not p.linked_call_ids)
        self._receive(s, r, "référence reçue")
        waiting = self._open_suggestion(s, p.person_key)
        if waiting is not None:  # filed by a person meanwhile: the referral takes the suggestion's calls along
            self._join(waiting, r, by=p.referrer_type.value)

    def _suggested(self, s: Session, event: ReferralSuggested) -> None:
        p = event.payload
        incoming = SG.Incoming(suggestion_id=p.suggestion_id, person_key=p.person_key, call_id=p.call_id,
                               criteria=tuple(c.value for c in p.criteria), reasons=tuple(p.reasons),
                               ruleset_version=p.ruleset_version, at=event.occurred_at)
        open_one = self._open_referral(s, p.person_key)
        if open_one is not None:  # already in the queue (a refusal stays respected: no reopening)
            open_one.linked_call_ids = _union(open_one.linked_call_ids, [p.call_id])
            open_one.reasons = _union(open_one.reasons, list(p.reasons))
            return
        waiting = self._open_suggestion(s, p.person_key)
        dismissed = None if waiting is not None else s.scalars(
            select(Suggestion).where(Suggestion.person_key == p.person_key, Suggestion.state == SG.DISMISSED)
            .order_by(Suggestion.decided_at.desc())).first()
        where = SG.route(incoming, has_open=waiting is not None,
                         dismissed_criteria=dismissed.criteria if dismissed else None,
                         dismissed_at=dismissed.decided_at if dismissed else None)
        if where == "update_open":
            _apply(waiting, SG.merge(tally_of(waiting), incoming))
        elif where == "absorb_dismissed":  # her decision stands: counted, not reopened
            _apply(dismissed, SG.merge(tally_of(dismissed), incoming))
        elif s.get(Suggestion, p.suggestion_id) is None and s.get(Referral, p.suggestion_id) is None:
            row = Suggestion(suggestion_id=p.suggestion_id, person_key=p.person_key, state=SG.OPEN,
                             sector_checked=False, updated_at=utcnow())
            _apply(row, SG.start(incoming))
            s.add(row)

    @staticmethod
    def _open_referral(s: Session, person_key: str) -> Referral | None:
        return s.scalars(select(Referral).where(Referral.person_key == person_key,
                                                Referral.status.in_([x.value for x in OPEN]))
                         .order_by(Referral.received_at.desc())).first()

    @staticmethod
    def _open_suggestion(s: Session, person_key: str) -> Suggestion | None:
        return s.scalars(select(Suggestion).where(Suggestion.person_key == person_key,
                                                  Suggestion.state == SG.OPEN)).first()

    @staticmethod
    def _join(sg: Suggestion, r: Referral, by: str) -> None:
        r.linked_call_ids = _union(r.linked_call_ids, sg.call_ids or [])
        r.reasons = _union(r.reasons, sg.reasons or [])
        sg.state, sg.referral_id, sg.decided_at, sg.decided_by = SG.JOINED, r.referral_id, utcnow(), by
        sg.updated_at = sg.decided_at

    def _receive(self, s: Session, r: Referral, note: str, by: str | None = None) -> None:
        s.add(r)
        s.flush()
        s.add(ReferralStep(referral_id=r.referral_id, status=r.status, previous=None, at=r.updated_at,
                           by=by or r.referrer_type, note=note))
        enqueue(s, status_event(r, None, r.updated_at))

    # -- the social worker's decisions on suggestions -----------------------------------------------------
    def confirm(self, suggestion_id: str, by: str, note: str | None = None) -> dict:
        """The suggestion becomes a referral (`reçue`, same id, published on referrals.status.v1) — or joins the
        person's open referral if one was opened meanwhile."""
        now = utcnow()
        with unit_of_work(self.factory) as s:
            sg = self._decidable(s, suggestion_id)
            open_one = self._open_referral(s, sg.person_key)
            if open_one is not None:
                self._join(sg, open_one, by)
                out = self._row(s, open_one) | {"joined": True}
            else:
                if s.get(Referral, sg.suggestion_id) is not None:
                    raise Problem(409, f"une référence {sg.suggestion_id} existe déjà")
                r = Referral(referral_id=sg.suggestion_id, person_key=sg.person_key, origin="suggested",
                             referrer_type=ReferrerType.TRIAGE.value, referrer_key="triage",
                             criteria=list(sg.criteria or []), clientele=[], linked_call_ids=list(sg.call_ids or []),
                             reasons=list(sg.reasons or []), summary=None, status=ReferralStatus.RECUE.value,
                             received_at=now, updated_at=now, priority=sg.priority, handled_by=by,
                             sector=sg.sector, sector_checked=sg.sector_checked)
                why = (f"suggestion du triage confirmée: {sg.calls} appel(s) signalé(s) depuis le "
                       f"{sg.first_at.date().isoformat()}, règles {sg.ruleset_version}")
                self._receive(s, r, f"{why} — {note}" if note else why, by=by)
                sg.state, sg.referral_id = SG.CONFIRMED, r.referral_id
                out = self._row(s, r) | {"joined": False}
            sg.decided_at = sg.updated_at = now
            sg.decided_by, sg.note = by, note
        self.after_commit()
        return out

    def dismiss(self, suggestion_id: str, by: str, reason: str, note: str | None) -> dict:
        with unit_of_work(self.factory) as s:
            sg = self._decidable(s, suggestion_id)
            try:
                SG.check_dismissal(reason, note, DISMISS_REASONS)
            except SG.DismissalRefused as exc:
                raise Problem(422, str(exc)) from exc
            sg.state, sg.dismiss_reason, sg.note, sg.decided_by = SG.DISMISSED, reason, note, by
            sg.decided_at = sg.updated_at = utcnow()
            return suggestion_row(sg)

    @staticmethod
    def _decidable(s: Session, suggestion_id: str) -> Suggestion:
        sg = s.get(Suggestion, suggestion_id, with_for_update=True)
        if sg is None:
            raise Problem(404, f"suggestion {suggestion_id} introuvable")
        if sg.state != SG.OPEN:
            raise Problem(409, f"suggestion déjà traitée ({sg.state})")
        return sg

    def suggestion(self, suggestion_id: str) -> dict:
        with unit_of_work(self.factory) as s:
            sg = s.get(Suggestion, suggestion_id)
            if sg is None:
                raise Problem(404, f"suggestion {suggestion_id} introuvable")
            return suggestion_row(sg)

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
            r.handled_by = by
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
            return rows(s, list(s.scalars(q)))

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
        return rows(s, [r])[0]

    # -- recurrence override -------------------------------------------------------------------------------
    def override(self, person_key: str, *, recurrent: bool, note: str, author: str,
                 until: datetime | None) -> dict:
        now = utcnow()
        with unit_of_work(self.factory) as s:
            s.add(RecurrenceOverride(person_key=person_key, recurrent=recurrent, note=note, author=author,
                                     until=until, at=now))
            payload = OverridePayload(person_key=person_key, recurrent=recurrent, author_key=author, until=until)
            event = RecurrenceOverridden.new(payload=payload, occurred_at=now, source=SOURCE,
                                             correlation_id=f"override-{uuid.uuid4().hex[:12]}")
            enqueue(s, event)
        self.after_commit()
        return {"event_id": str(event.event_id), "person_key": person_key, "recurrent": recurrent,
                "until": until.isoformat() if until else None}


def rows(s: Session, referrals: list[Referral]) -> list[dict]:
    """Referrals as the API answers them, each with the person's open frame (one query for all)."""
    keys = {r.person_key for r in referrals}
    frames = {f.person_key: f for f in s.scalars(select(Frame).where(Frame.person_key.in_(keys),
                                                                     Frame.archived_at.is_(None)))} if keys else {}
    out = []
    for r in referrals:
        frame = frames.get(r.person_key)
        out.append({"referral_id": r.referral_id, "person_key": r.person_key, "origin": r.origin,
                    "referrer_type": r.referrer_type, "criteria": r.criteria,
                    "criteria_labels": criteria_labels(r.criteria), "clientele": r.clientele,
                    "linked_call_ids": r.linked_call_ids, "reasons": r.reasons, "summary": r.summary,
                    "status": r.status, "status_label": LABELS[ReferralStatus(r.status)],
                    "priority": r.priority, "handled_by": r.handled_by, "sector": r.sector,
                    "received_at": r.received_at.isoformat(), "updated_at": r.updated_at.isoformat(),
                    "first_contact_at": r.first_contact_at.isoformat() if r.first_contact_at else None,
                    "frame_id": frame.frame_id if frame else None,
                    "frame_active": bool(frame and frame.active_version)})
    return out


def suggestion_row(sg: Suggestion) -> dict:
    return {"suggestion_id": sg.suggestion_id, "person_key": sg.person_key, "state": sg.state,
            "criteria": list(sg.criteria or []), "criteria_labels": criteria_labels(sg.criteria),
            "reasons": list(sg.reasons or []), "priority": sg.priority, "calls": sg.calls,
            "call_ids": list(sg.call_ids or []), "latest_call_id": sg.latest_call_id,
            "latest_call_at": sg.latest_call_at.isoformat(), "first_suggested_at": sg.first_at.isoformat(),
            "last_seen_at": sg.last_seen_at.isoformat(), "ruleset_version": sg.ruleset_version,
            "sector": sg.sector, "decided_at": sg.decided_at.isoformat() if sg.decided_at else None,
            "decided_by": sg.decided_by, "dismiss_reason": sg.dismiss_reason, "note": sg.note,
            "referral_id": sg.referral_id}


def tally_of(sg: Suggestion) -> SG.Tally:
    return SG.Tally(criteria=tuple(sg.criteria or ()), reasons=tuple(sg.reasons or ()),
                    call_ids=tuple(sg.call_ids or ()), calls=sg.calls, latest_call_id=sg.latest_call_id,
                    latest_call_at=sg.latest_call_at, first_at=sg.first_at, last_seen_at=sg.last_seen_at,
                    ruleset_version=sg.ruleset_version)


def _apply(sg: Suggestion, t: SG.Tally) -> None:
    if sg.latest_call_id is not None and t.latest_call_id != sg.latest_call_id:
        sg.sector_checked = False  # the sector shown is the latest call's: read it again
    sg.criteria, sg.reasons, sg.call_ids, sg.calls = list(t.criteria), list(t.reasons), list(t.call_ids), t.calls
    sg.latest_call_id, sg.latest_call_at, sg.first_at = t.latest_call_id, t.latest_call_at, t.first_at
    sg.last_seen_at, sg.ruleset_version, sg.priority = t.last_seen_at, t.ruleset_version, t.priority
    sg.updated_at = utcnow()


def _union(existing: list | None, new) -> list:
    out = list(existing or [])
    for x in new:
        if x not in out:
            out.append(x)
    return out
