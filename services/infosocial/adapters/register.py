"""The register of communications (dyade.contracts.communications), kept by Info-social: every communication of
a person's information, from every service, in `infosocial_communications`, one shape for all of them — a
CommunicationRecorded made a row by `row_of`.

- The other services' entries come from communications.recorded.v1 (the consumer calls `Register.handle_batch`);
  idempotent by event id: a replayed event is still one entry.
- Info-social's own reads are written with their audit row, in the same statement (adapters/reads.py): a read
  and its entry are one write, and the patrol terminals' hot path keeps its single round trip.

`describe` makes an entry readable in French: what, to whom, why, on what basis, when, about what."""
from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import TextClause, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from dyade.auth import Principal
from dyade.contracts import (CHANNEL_LABELS, INFORMATION_LABELS, ROLE_LABELS, SOURCE_LABELS, CommunicationPayload,
                             CommunicationRecorded, InformationType, LegalBasis, Recipient, Reference,
                             organisation_of)
from dyade.contracts.communications import ACCESS_RIGHT_LABEL
from dyade.contracts.vocabulary import LEGAL_BASIS_LABELS
from dyade.clock import utcnow
from dyade.db import insert_ignoring_duplicates, unit_of_work
from services.infosocial.domain.caseload import ZONE
from services.infosocial.adapters.models import Communication, FrameRead

SOURCE = "infosocial"
SOURCES = tuple(SOURCE_LABELS)
PER_PAGE, MAX_PER_PAGE = 50, 500

# Info-social's reads, by the view the reader got
INFORMATION_OF_VIEW = {"complete": InformationType.FICHE_COMPLETE, "police": InformationType.FICHE_VUE_POLICIERE,
                       "dispatch": InformationType.FICHE_VUE_REPARTITION,
                       "analyst": InformationType.FICHE_VUE_ANALYSTE}
# ... and why, in words (the audit keeps its short codes)
PURPOSES = {"lecture": "consultation de la fiche pour une intervention",
            "page": "suivi de la personne (page de l'intervenante sociale)",
            "versions": "consultation de l'historique des versions de la fiche",
            "version": "consultation d'une version antérieure de la fiche",
            "export": "droit d'accès de la personne : export de son dossier"}
WITHOUT_JUSTIFICATION = (None, LegalBasis.CONSENTEMENT, LegalBasis.AUCUNE)  # the others are recorded with one


# --- one shape -----------------------------------------------------------------------------------------------
def row_of(event: CommunicationRecorded, recorded_at: datetime) -> dict[str, Any]:
    p, r, ref = event.payload, event.payload.recipient, event.payload.reference
    return dict(event_id=str(event.event_id), occurred_at=event.occurred_at, recorded_at=recorded_at,
                source=event.source, person_key=p.person_key, information=p.information.value,
                recipient_subject=r.subject, recipient_role=r.role.value if r.role else None,
                recipient_organisation=r.organisation, channel=r.channel, dyad_id=r.dyad_id, sector=r.sector,
                webhook=r.webhook, purpose=p.purpose, legal_basis=p.legal_basis.value if p.legal_basis else None,
                justification=p.justification, call_id=ref.call_id, call_revision=ref.call_revision,
                referral_id=ref.referral_id, frame_id=ref.frame_id, frame_version=ref.frame_version,
                alert_id=ref.alert_id)


def own_read(who: Principal, *, person_key: str, information: InformationType, purpose: str, now: datetime,
             basis: LegalBasis | None, justification: str | None = None, frame_id: str | None = None,
             version: int | None = None, call_id: str | None = None) -> CommunicationRecorded:
    """The register entry of a read made at Info-social (the same event the other services publish)."""
    payload = CommunicationPayload(
        person_key=person_key, information=information,
        recipient=Recipient(subject=who.subject[:200], role=who.role, organisation=organisation_of(who.role),
                            dyad_id=who.dyad_id, sector=who.sector),
        purpose=PURPOSES.get(purpose, purpose), legal_basis=basis,
        justification=None if basis in WITHOUT_JUSTIFICATION else justification,
        reference=Reference(call_id=call_id, frame_id=frame_id, frame_version=version))
    return CommunicationRecorded.new(payload=payload, occurred_at=now, source=SOURCE,
                                     correlation_id=call_id or frame_id or person_key)


def insert_entries(dialect: str):
    """INSERT of register rows that skips an event id already there (a replay)."""
    return insert_ignoring_duplicates(dialect, Communication, index_elements=["event_id"])


def _read_and_entry() -> TextClause:
    """PostgreSQL: a read's audit row and its register entry in ONE statement (the audit row in a CTE), so that
    an autocommit connection writes both or neither in one round trip. Written out once from the tables' columns
    (a Core CTE is compiled again at each execution: measured 2.2 ms a read against 0.5 ms)."""
    reads = [c.name for c in FrameRead.__table__.columns if c.name != "id"]
    entry = [c.name for c in Communication.__table__.columns if c.name != "id"]
    return text(f"WITH audited AS (INSERT INTO {FrameRead.__tablename__} ({', '.join(reads)}) "
                f"VALUES ({', '.join(':read_' + c for c in reads)})) "
                f"INSERT INTO {Communication.__tablename__} ({', '.join(entry)}) "
                f"VALUES ({', '.join(':' + c for c in entry)}) ON CONFLICT (event_id) DO NOTHING")


READ_AND_ENTRY = _read_and_entry()


# --- the register --------------------------------------------------------------------------------------------
class Register:
    def __init__(self, factory: sessionmaker):
        self.factory = factory

    def handle_batch(self, events: list[CommunicationRecorded]) -> None:
        """Entries from communications.recorded.v1, one transaction per poll."""
        now = utcnow()
        rows = [row_of(e, now) for e in events if isinstance(e, CommunicationRecorded)]
        if not rows:
            return
        with unit_of_work(self.factory) as s:
            s.execute(insert_entries(s.get_bind().dialect.name), rows)

    def page(self, *, person_key: str | None = None, source: str | None = None,
             information: InformationType | None = None, since: datetime | None = None,
             until: datetime | None = None, page: int = 1, per_page: int = PER_PAGE) -> dict:
        """The admin's view: newest first, filtered, paged."""
        conditions = []
        if person_key:
            conditions.append(Communication.person_key == person_key)
        if source:
            conditions.append(Communication.source == source)
        if information:
            conditions.append(Communication.information == information.value)
        if since:
            conditions.append(Communication.occurred_at >= since)
        if until:
            conditions.append(Communication.occurred_at < until)
        with unit_of_work(self.factory) as s:
            total = s.scalar(select(func.count()).select_from(Communication).where(*conditions))
            rows = s.scalars(select(Communication).where(*conditions)
                             .order_by(Communication.occurred_at.desc(), Communication.id.desc())
                             .offset((page - 1) * per_page).limit(per_page)).all()
            items = [describe(r) for r in rows]
        return {"items": items, "total": total, "page": page, "per_page": per_page,
                "pages": max(1, math.ceil(total / per_page))}


def of_person(session: Session, person_key: str) -> list[dict]:
    """Every communication about the person, from every service, oldest first (the access-right export)."""
    rows = session.scalars(select(Communication).where(Communication.person_key == person_key)
                           .order_by(Communication.occurred_at, Communication.id)).all()
    return [describe(r) for r in rows]


# --- in words --------------------------------------------------------------------------------------------------
def _fr(table: dict, code: str | None) -> str | None:
    if code is None:
        return None
    for key, (fr, _en) in table.items():
        if key == code:
            return fr
    return code  # a code of a newer producer is shown as it is, never hidden


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)  # SQLite keeps no offset


def local_time(moment: datetime) -> str:
    return _aware(moment).astimezone(ZONE).strftime("%Y-%m-%d à %H h %M") + " (heure de Montréal)"


def recipient_words(r: Communication) -> str:
    """Who received it, in words: the reader and their role, or the webhook, or the dyad's devices."""
    where = ", ".join(x for x in (r.recipient_organisation, f"dyade {r.dyad_id}" if r.dyad_id else None,
                                  f"secteur {r.sector}" if r.sector else None) if x)
    if r.channel == "webhook":
        return f"webhook « {r.webhook or '?'} »" + (f" ({where})" if where else "")
    if r.channel == "web_push":
        return "appareils de la dyade" + (f" ({where})" if where else "")
    details = ", ".join(x for x in (_fr(ROLE_LABELS, r.recipient_role), where) if x)
    return (r.recipient_subject or "?") + (f" ({details})" if details else "")


def reference_words(r: Communication) -> str | None:
    parts = []
    if r.call_id:
        parts.append(f"appel {r.call_id}" + (f" (révision {r.call_revision})" if r.call_revision else ""))
    if r.referral_id:
        parts.append(f"référence {r.referral_id}")
    if r.frame_id:
        parts.append(f"fiche {r.frame_id}" + (f" version {r.frame_version}" if r.frame_version else ""))
    if r.alert_id:
        parts.append(f"alerte {r.alert_id}")
    return ", ".join(parts) or None


def basis_words(code: str | None) -> str:
    return ACCESS_RIGHT_LABEL[0] if code is None else _fr(LEGAL_BASIS_LABELS, code)


def describe(r: Communication) -> dict:
    information = _fr(INFORMATION_LABELS, r.information)
    basis, reference, source = basis_words(r.legal_basis), reference_words(r), _fr(SOURCE_LABELS, r.source)
    when = local_time(r.occurred_at)
    summary = (f"{when} — {information}. Destinataire : {recipient_words(r)}, {_fr(CHANNEL_LABELS, r.channel)}. "
               f"Communiqué par : {source}. Finalité : {r.purpose}. Base légale : {basis}."
               + (f" Justification : {r.justification}." if r.justification else "")
               + (f" Référence : {reference}." if reference else ""))
    return {
        "event_id": r.event_id, "occurred_at": _aware(r.occurred_at).isoformat(), "when": when,
        "source": r.source, "source_label": source, "person_key": r.person_key,
        "information": r.information, "information_label": information,
        "recipient": {"subject": r.recipient_subject, "role": r.recipient_role,
                      "role_label": _fr(ROLE_LABELS, r.recipient_role), "organisation": r.recipient_organisation,
                      "channel": r.channel, "channel_label": _fr(CHANNEL_LABELS, r.channel), "dyad_id": r.dyad_id,
                      "sector": r.sector, "webhook": r.webhook},
        "purpose": r.purpose, "legal_basis": r.legal_basis, "legal_basis_label": basis,
        "justification": r.justification,
        "reference": {"call_id": r.call_id, "call_revision": r.call_revision, "referral_id": r.referral_id,
                      "frame_id": r.frame_id, "frame_version": r.frame_version, "alert_id": r.alert_id},
        "reference_label": reference, "summary": summary,
    }
