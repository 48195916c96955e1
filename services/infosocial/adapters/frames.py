"""Frame commands: write a version, approve it, record consent, archive, the daily sweep.

Each command is one transaction; the events it causes go to the outbox in the same transaction.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from dyade.clock import utcnow
from dyade.contracts import ConsentStatus, FrameChanged, FrameCurrent, LegalBasis
from dyade.contracts.frames import FrameChangePayload, FrameCurrentPayload
from dyade.contracts.topics import FRAMES_CURRENT
from dyade.db import unit_of_work
from dyade.kafka import key_of
from services.infosocial.domain.content import (DANGER_IMMINENT_DAYS, NCR, Approval, ConsentIn, FrameContent,
                                                FrameSubmission, stamp_disclosures)
from services.infosocial.domain import labels
from services.infosocial.domain.review import (REVIEW_NOTICE_DAYS, review_due_on_approval, sweep_actions,
                                               today_in_montreal)
from services.infosocial.domain.visibility import STATUS_PENDING, Consent, FrameSnapshot, police_view
from services.infosocial.adapters.models import ConsentEntry, Frame, FrameVersion
from services.infosocial.adapters.outbox import enqueue, enqueue_tombstone

SOURCE = "infosocial"


class Problem(Exception):
    """A refused command: `status` is the HTTP status, the message is for the user (French)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class ConsentConflict(Problem):
    """A version whose body would change the consent of an existing frame: only the consent form changes it."""

    def __init__(self, frame_id: str, person_key: str, current: Consent):
        super().__init__(409, "le consentement ne se change pas avec une version de la fiche : il se consigne par "
                              "le formulaire de consentement (section « Consentement et base légale » de la page "
                              f"de la personne, ou POST /v1/frames/{frame_id}/consent). Consentement actuel : "
                              f"{labels.consent(current)}. Envoyer la version sans consentement (l'actuel est "
                              "gardé) ou avec le consentement actuel.")
        self.frame_id, self.person_key, self.current = frame_id, person_key, current


@dataclass(frozen=True)
class Written:
    frame_id: str
    version: int
    status: str
    created: bool = False


def snapshot(session: Session, frame: Frame) -> FrameSnapshot | None:
    """The active version of a frame (or its latest draft when none is approved yet)."""
    versions = session.scalars(select(FrameVersion).where(FrameVersion.frame_id == frame.frame_id)
                               .order_by(FrameVersion.version)).all()
    if not versions:
        return None
    active = next((v for v in versions if v.version == frame.active_version), None)
    shown = active or versions[-1]
    pending = tuple(v.version for v in versions
                    if v.approved_at is None and v.version > (frame.active_version or 0))
    return FrameSnapshot(
        frame_id=frame.frame_id, person_key=frame.person_key, version=shown.version,
        content=FrameContent.model_validate(shown.content), consent=consent_of(session, frame),
        review_due=frame.review_due, stale_flag=frame.stale, archived=frame.archived_at is not None,
        author=shown.author, approved_by=shown.approved_by, approved_at=shown.approved_at, owner=frame.owner,
        display_name=frame.display_name, reason=shown.reason, pending_versions=pending, active=active is not None)


def consent_of(session: Session, frame: Frame) -> Consent:
    recorded = session.scalars(select(ConsentEntry.recorded_at).where(ConsentEntry.frame_id == frame.frame_id)
                               .order_by(ConsentEntry.id.desc()).limit(1)).first()
    return Consent(status=ConsentStatus(frame.consent_status), date=frame.consent_date,
                   scope=tuple(frame.consent_scope or ()), legal_basis=frame.consent_legal_basis,
                   justification=frame.consent_justification,
                   recorded_on=today_in_montreal(_aware(recorded)) if recorded else None)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)  # SQLite keeps no offset


def current_frames():
    """The frames whose police view is published: active and not archived."""
    return select(Frame).where(Frame.archived_at.is_(None), Frame.active_version.is_not(None))


def republish_current(session: Session, producer, topic: str) -> int:
    """Every current frame's police view sent again to `topic` (what the compacted frames.current.v1 holds when
    whole), waited for; returns how many."""
    now, count = utcnow(), 0
    for frame in session.scalars(current_frames()):
        event = current_event(snapshot(session, frame), now)
        producer.send(topic, key=key_of(event, FRAMES_CURRENT), value=event.to_bytes(),
                      headers=[("type", event.TYPE.encode())])
        count += 1
    producer.flush(timeout=60)
    return count


def current_event(snap: FrameSnapshot, now: datetime) -> FrameCurrent:
    view = police_view(snap.content, snap.basis(today_in_montreal(now))).view
    payload = FrameCurrentPayload(person_key=snap.person_key, frame_id=snap.frame_id, version=snap.version,
                                  stale=snap.is_stale(today_in_montreal(now)), review_due=snap.review_due,
                                  consent=snap.consent.status, police_view=view)
    return FrameCurrent.new(payload=payload, occurred_at=now, source=SOURCE, correlation_id=snap.frame_id)


def changed_event(frame: Frame, change: str, version: int, now: datetime, first: bool = False) -> FrameChanged:
    payload = FrameChangePayload(frame_id=frame.frame_id, person_key=frame.person_key, change=change,
                                 version=version, first_activation=first, review_due=frame.review_due)
    return FrameChanged.new(payload=payload, occurred_at=now, source=SOURCE, correlation_id=frame.frame_id)


class FrameCommands:
    def __init__(self, factory: sessionmaker, after_commit: Callable[[str], None] = lambda person_key: None):
        self.factory = factory
        self.after_commit = after_commit  # invalidates the read cache and wakes the outbox relay

    # -- versions -------------------------------------------------------------------------------
    def submit(self, sub: FrameSubmission, author: str, frame_id: str | None = None) -> Written:
        try:
            written = self._submit(sub, author, frame_id)
        except IntegrityError:  # two first versions for one person at once: the second becomes version 2
            written = self._submit(sub, author, frame_id)
        self.after_commit(sub.person_key)
        return written

    def _submit(self, sub: FrameSubmission, author: str, frame_id: str | None) -> Written:
        now = utcnow()
        with unit_of_work(self.factory) as s:
            if frame_id:
                frame = s.get(Frame, frame_id, with_for_update=True)
                if frame is None:
                    raise Problem(404, f"fiche {frame_id} introuvable")
                if frame.archived_at is not None:
                    raise Problem(409, f"la fiche {frame_id} est archivée; créer une nouvelle fiche (POST /v1/frames)")
                if frame.person_key != sub.person_key:
                    raise Problem(422, "person_key: ne correspond pas à la personne de cette fiche")
            else:
                frame = s.scalars(select(Frame).where(Frame.person_key == sub.person_key,
                                                      Frame.archived_at.is_(None)).with_for_update()).first()
            created = frame is None
            # A version waits for approval; consent takes effect at once: a form written before a withdrawal (or
            # before the sweep removed a lapsed basis) must not bring the earlier consent back.
            if not created and sub.consent is not None and _consent_differs(frame, sub.consent):
                raise ConsentConflict(frame.frame_id, frame.person_key, consent_of(s, frame))
            if created:
                frame = Frame(frame_id="f_" + uuid.uuid4().hex[:16], person_key=sub.person_key,
                              owner=sub.owner or author, display_name=sub.display_name, stale=False,
                              consent_status=ConsentStatus.NON_DEMANDE.value, consent_scope=[],
                              created_at=now, updated_at=now)
                s.add(frame)
                s.flush()
            last = s.scalars(select(FrameVersion).where(FrameVersion.frame_id == frame.frame_id)
                             .order_by(FrameVersion.version.desc())).first()
            version = (last.version if last else 0) + 1
            content = stamp_disclosures(sub.content(), _earlier_content(s, frame, last), author, now)
            s.add(FrameVersion(frame_id=frame.frame_id, version=version, content=content.model_dump(mode="json"),
                               author=author, reason=sub.reason or ("création" if created else "mise à jour"),
                               requested_review_due=sub.review_due, created_at=now))
            if sub.display_name:
                frame.display_name = sub.display_name
            if sub.owner:
                frame.owner = sub.owner
            frame.updated_at = now
            if created:
                self._apply_consent(s, frame, sub.consent or ConsentIn(status=ConsentStatus.NON_DEMANDE), author,
                                    now, note="saisi avec la version " + str(version))
            return Written(frame.frame_id, version, STATUS_PENDING, created)

    def approve(self, frame_id: str, approver: str, approval: Approval) -> Written:
        now = utcnow()
        with unit_of_work(self.factory) as s:
            frame = self._open_frame(s, frame_id)
            query = select(FrameVersion).where(FrameVersion.frame_id == frame_id,
                                               FrameVersion.approved_at.is_(None),
                                               FrameVersion.version > (frame.active_version or 0))
            if approval.version:
                query = query.where(FrameVersion.version == approval.version)
            pending = s.scalars(query.order_by(FrameVersion.version.desc())).first()
            if pending is None:
                which = f"version {approval.version}" if approval.version else "aucune version"
                raise Problem(409, f"{which} en attente d'approbation pour la fiche {frame_id}")
            if pending.author == approver:
                raise Problem(403, "une fiche est approuvée par une autre personne que son autrice "
                                   f"(version {pending.version} écrite par {approver})")
            if frame.consent_legal_basis == NCR and not pending.content.get("verdict"):
                raise Problem(409, f"version {pending.version}: la base légale consignée ({NCR}) exige le verdict, "
                                   "que cette version n'inscrit pas; écrire une version avec le verdict ou consigner "
                                   "une autre base")
            first = frame.active_version is None
            pending.approved_by, pending.approved_at, pending.approval_note = approver, now, approval.note
            frame.active_version = pending.version
            frame.review_due = review_due_on_approval(today_in_montreal(now), pending.requested_review_due)
            frame.stale, frame.review_notified_for, frame.updated_at = False, None, now
            s.flush()
            enqueue(s, changed_event(frame, "approved", pending.version, now, first))
            enqueue(s, current_event(snapshot(s, frame), now))
            person, version = frame.person_key, pending.version
        self.after_commit(person)
        return Written(frame_id, version, "active")

    # -- consent ----------------------------------------------------------------------------------
    def record_consent(self, frame_id: str, consent: ConsentIn, by: str, note: str | None) -> Consent:
        now = utcnow()
        with unit_of_work(self.factory) as s:
            frame = self._open_frame(s, frame_id)
            if consent.legal_basis == NCR:
                shown = snapshot(s, frame)
                if shown is None or shown.content.verdict is None:
                    raise Problem(422, f"consent.legal_basis: {NCR} exige le verdict (nature, date, numéro du dossier "
                                       "de la cour) dans la fiche; écrire une version qui l'inscrit")
            self._apply_consent(s, frame, consent, by, now, note)
            result, person = consent_of(s, frame), frame.person_key
        self.after_commit(person)
        return result

    def _apply_consent(self, s: Session, frame: Frame, consent: ConsentIn, by: str, now: datetime,
                       note: str | None) -> None:
        day = consent.date or (today_in_montreal(now) if consent.status != ConsentStatus.NON_DEMANDE else None)
        frame.consent_status, frame.consent_date = consent.status.value, day
        frame.consent_scope = list(consent.scope)
        frame.consent_legal_basis, frame.consent_justification = consent.legal_basis, consent.justification
        frame.updated_at = now
        s.add(ConsentEntry(frame_id=frame.frame_id, status=consent.status.value, date=day, scope=list(consent.scope),
                           legal_basis=consent.legal_basis, justification=consent.justification, note=note,
                           recorded_by=by, recorded_at=now))
        s.flush()
        if frame.active_version is not None:  # takes effect at once for officers
            enqueue(s, changed_event(frame, "consent_recorded", frame.active_version, now))
            enqueue(s, current_event(snapshot(s, frame), now))

    # -- archive ----------------------------------------------------------------------------------
    def archive(self, frame_id: str, by: str, reason: str) -> Written:
        now = utcnow()
        with unit_of_work(self.factory) as s:
            frame = self._open_frame(s, frame_id)
            frame.archived_at, frame.archived_reason, frame.updated_at = now, f"{reason} (par {by})", now
            version = frame.active_version or 0
            enqueue(s, changed_event(frame, "archived", version, now))
            enqueue_tombstone(s, frame.person_key)
            person = frame.person_key
        self.after_commit(person)
        return Written(frame_id, version, "archivee")

    def _open_frame(self, s: Session, frame_id: str) -> Frame:
        frame = s.get(Frame, frame_id, with_for_update=True)
        if frame is None:
            raise Problem(404, f"fiche {frame_id} introuvable")
        if frame.archived_at is not None:
            raise Problem(409, f"la fiche {frame_id} est archivée")
        return frame

    # -- daily sweep ------------------------------------------------------------------------------
    def sweep(self, now: datetime | None = None, notice_days: int = REVIEW_NOTICE_DAYS,
              frame_ids: list[str] | None = None) -> dict[str, int]:
        """Review-due events ahead of the date; overdue frames marked stale (and republished as stale).
        `frame_ids` limits the sweep to some frames (tests, or re-running it for one frame)."""
        now = now or utcnow()
        today = today_in_montreal(now)
        counts = {"review_due": 0, "stale": 0, "danger_lapsed": 0}
        touched: list[str] = []
        with unit_of_work(self.factory) as s:
            touched += self._lapse_danger(s, today, now, frame_ids)
            counts["danger_lapsed"] = len(touched)
            frames = s.scalars(select(Frame).where(
                Frame.archived_at.is_(None), Frame.active_version.is_not(None), Frame.stale.is_(False),
                Frame.review_due <= today + timedelta(days=notice_days),
                *([Frame.frame_id.in_(frame_ids)] if frame_ids else [])).with_for_update()).all()
            for frame in frames:
                for action in sweep_actions(review_due=frame.review_due, stale=frame.stale,
                                            notified_for=frame.review_notified_for, today=today,
                                            notice_days=notice_days):
                    if action.kind == "review_due":
                        frame.review_notified_for = frame.review_due
                        enqueue(s, changed_event(frame, "review_due", frame.active_version, now))
                    else:
                        frame.stale = True
                        s.flush()
                        enqueue(s, changed_event(frame, "stale", frame.active_version, now))
                        enqueue(s, current_event(snapshot(s, frame), now))
                    counts[action.kind] += 1
                    touched.append(frame.person_key)
        for person in set(touched):
            self.after_commit(person)
        return counts


    def _lapse_danger(self, s: Session, today, now: datetime, frame_ids: list[str] | None) -> list[str]:
        """An imminent-danger basis that has lapsed is removed (with its trace in the consent history), and
        the police view is republished without the health-derived elements."""
        frames = s.scalars(select(Frame).where(
            Frame.archived_at.is_(None), Frame.consent_legal_basis == "danger_imminent",
            *([Frame.frame_id.in_(frame_ids)] if frame_ids else [])).with_for_update()).all()
        lapsed = []
        for frame in frames:
            if consent_of(s, frame).basis(today) != LegalBasis.AUCUNE:
                continue
            frame.consent_legal_basis, frame.updated_at = None, now
            s.add(ConsentEntry(frame_id=frame.frame_id, status=frame.consent_status, date=frame.consent_date,
                               scope=list(frame.consent_scope or []), legal_basis=None,
                               justification=frame.consent_justification,
                               note=f"base légale « danger imminent » échue après {DANGER_IMMINENT_DAYS} jours",
                               recorded_by="revue-quotidienne", recorded_at=now))
            s.flush()
            if frame.active_version is not None:
                enqueue(s, changed_event(frame, "consent_recorded", frame.active_version, now))
                enqueue(s, current_event(snapshot(s, frame), now))
            lapsed.append(frame.person_key)
        return lapsed


def _earlier_content(s: Session, frame: Frame, last: FrameVersion | None) -> list[FrameContent]:
    """What the new version follows: the latest version and the active one (a draft may have been written from
    the active version while another waited)."""
    rows = [last] if last is not None else []
    if last is not None and frame.active_version and frame.active_version != last.version:
        rows.append(s.get(FrameVersion, (frame.frame_id, frame.active_version)))
    return [FrameContent.model_validate(row.content) for row in rows if row is not None]


def _consent_differs(frame: Frame, consent: ConsentIn) -> bool:
    return (frame.consent_status != consent.status.value or list(frame.consent_scope or []) != list(consent.scope)
            or frame.consent_legal_basis != consent.legal_basis
            or (frame.consent_justification or None) != (consent.justification or None)
            or (consent.date is not None and consent.date != frame.consent_date))
