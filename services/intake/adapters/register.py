"""Intake's entries for the register of communications kept by Info-social (dyade.contracts.communications):
each identity disclosed and each narrative read, as communications.recorded.v1 in intake's outbox, in the
transaction of the audit row that records it — no entry, no disclosure. The key and the references travel,
never a name, a birth date or a narrative."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from dyade.contracts import (CommunicationPayload, CommunicationRecorded, InformationType, LegalBasis, Recipient,
                             Reference, Role, organisation_of)
from services.intake.adapters import models as m
from services.intake.adapters.outbox import outbox_row

SOURCE = "intake"


def communication(*, subject: str, role: Role | str, person_key: str | None, information: InformationType,
                  purpose: str, now: datetime, reference: Reference | None = None, dyad_id: str | None = None,
                  sector: str | None = None) -> CommunicationRecorded:
    """An identity or a narrative, drawn from the calls and referrals intake received (information of police
    origin: no health-law basis involved)."""
    reference = reference or Reference()
    payload = CommunicationPayload(
        person_key=person_key, information=information,
        recipient=Recipient(subject=subject[:200], role=role, organisation=organisation_of(role), dyad_id=dyad_id,
                            sector=sector),
        purpose=purpose[:200], legal_basis=LegalBasis.AUCUNE, reference=reference)
    return CommunicationRecorded.new(payload=payload, occurred_at=now, source=SOURCE,
                                     correlation_id=reference.call_id or reference.referral_id or person_key or SOURCE)


def enqueue(session: Session, events: list[CommunicationRecorded], now: datetime) -> None:
    if events:
        session.execute(m.outbox.insert(), [outbox_row(e, now) for e in events])


def identities_disclosed(session: Session, person_keys: list[str], *, subject: str, role: Role | str, purpose: str,
                         now: datetime, dyad_id: str | None = None, sector: str | None = None) -> None:
    """The register's entries of identities disclosed (by key, or found by a look-up by name), one per person."""
    enqueue(session, [communication(subject=subject, role=role, person_key=k, information=InformationType.IDENTITE,
                                    purpose=purpose, now=now, dyad_id=dyad_id, sector=sector)
                      for k in dict.fromkeys(person_keys)], now)
