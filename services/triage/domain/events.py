"""What each person-keyed event does to the person's state: one handler per event type, in `APPLY`."""
from __future__ import annotations

from typing import Callable

from dyade.contracts import Event
from dyade.contracts.frames import FrameCurrent
from dyade.contracts.referrals import ReferralFiled, ReferralStatusChanged
from dyade.contracts.triage import RecurrenceOverridden
from services.triage.domain import admissibility, state as S
from services.triage.domain.facts import epoch


def _referral_filed(st: S.SubjectState, ev: ReferralFiled) -> None:
    S.record_referral(st, ev.payload.referral_id, epoch(ev.occurred_at), "recue")
    admissibility.file_opened(st)


def _referral_status(st: S.SubjectState, ev: ReferralStatusChanged) -> None:
    S.record_referral(st, ev.payload.referral_id, epoch(ev.occurred_at), ev.payload.status.value)
    admissibility.file_opened(st)


def _frame_current(st: S.SubjectState, ev: FrameCurrent) -> None:
    p = ev.payload
    S.record_frame(st, epoch(ev.occurred_at), active=True, version=p.version, stale=p.stale,
                   risk_count=len(p.police_view.risques))


def _overridden(st: S.SubjectState, ev: RecurrenceOverridden) -> None:
    p = ev.payload
    S.record_override(st, epoch(ev.occurred_at), recurrent=p.recurrent, until=epoch(p.until) if p.until else None)


APPLY: dict[type[Event], Callable[[S.SubjectState, Event], None]] = {
    ReferralFiled: _referral_filed,
    ReferralStatusChanged: _referral_status,
    FrameCurrent: _frame_current,
    RecurrenceOverridden: _overridden,
}


def apply(st: S.SubjectState, ev: Event) -> None:
    """Record the event in `st` (every event here names its person: `ev.payload.person_key`)."""
    APPLY[type(ev)](st, ev)


def frame_archived(st: S.SubjectState, t: float) -> None:
    """frames.current.v1's tombstone: the frame was archived (at the record's time)."""
    S.record_frame(st, t, active=False)
