"""Narratives as received, for the roles that read identities (social worker; not admin): events carry a
redacted summary (domain/redaction.py), the original stays on intake's identity side (intake_narratives).
Each read is written to intake_narrative_reads (reader, role, when, which narrative, purpose) and, for the
register of communications kept by Info-social, to the outbox (one entry per person of the call or the referral;
the reference, never the text), in the same transaction as the read: no audit, no narrative. Narratives never go
to the logs."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dyade.auth import Principal, requires
from dyade.contracts import InformationType, Reference, Role
from dyade.db import unit_of_work
from services.intake.adapters import models as m
from services.intake.adapters import register
from services.intake.entrypoints.identities import PURPOSE_PATTERN, READERS
from dyade.clock import utcnow

log = logging.getLogger("intake.narratives")

REF_PATTERN = r"^[A-Za-z0-9._:\-]+$"


class NarrativeView(BaseModel):
    kind: str
    ref: str
    revision: int
    narrative: str
    received_at: datetime


class NarrativeRead(BaseModel):
    kind: str
    ref: str
    revision: int
    subject: str
    role: str
    purpose: str
    at: datetime


class Narratives:
    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    def read(self, kind: str, ref: str, revision: int | None, reader: Principal, purpose: str) -> dict | None:
        """The narrative (the call's latest revision that has one unless `revision`), its read audited."""
        n = m.narratives.c
        query = select(n.kind, n.ref, n.revision, n.narrative, n.created_at).where(n.kind == kind, n.ref == ref)
        query = query.where(n.revision == revision) if revision is not None else query.order_by(n.revision.desc())
        with unit_of_work(self.sessions) as session:
            row = session.execute(query.limit(1)).first()
            if row is None:
                return None
            now = utcnow()
            session.execute(m.narrative_reads.insert().values(
                kind=kind, ref=ref, revision=row.revision, subject=reader.subject[:200], role=reader.role.value,
                purpose=purpose[:200], at=now))
            reference = (Reference(call_id=ref, call_revision=row.revision) if kind == "call"
                         else Reference(referral_id=ref))
            register.enqueue(session, [register.communication(
                subject=reader.subject, role=reader.role, person_key=key, information=InformationType.RECIT,
                purpose=purpose, now=now, reference=reference, dyad_id=reader.dyad_id, sector=reader.sector)
                for key in persons_of(session, kind, ref, row.revision)], now)
        log.info("narrative disclosed", extra={"kind": kind, "role": reader.role.value})
        created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=timezone.utc)
        return {"kind": row.kind, "ref": row.ref, "revision": row.revision, "narrative": row.narrative,
                "received_at": created}

    def reads(self, kind: str | None, ref: str | None, limit: int) -> list[dict]:
        r = m.narrative_reads.c
        query = select(r.kind, r.ref, r.revision, r.subject, r.role, r.purpose, r.at).order_by(r.id.desc()).limit(limit)
        if kind:
            query = query.where(r.kind == kind)
        if ref:
            query = query.where(r.ref == ref)
        with unit_of_work(self.sessions) as session:
            return [row._asdict() for row in session.execute(query)]


def persons_of(session: Session, kind: str, ref: str, revision: int) -> list[str | None]:
    """The persons a narrative is about (the call's revision's, or the referral's); [None] when none is known:
    the read is still entered in the register, about nobody keyed."""
    if kind == "call":
        c = m.calls.c
        persons = session.execute(select(c.person_keys).where(c.call_id == ref, c.revision == revision)).scalar()
        keys = [p.get("person_key") for p in persons or []]  # each with its resolution and role
    else:
        keys = [session.execute(select(m.referrals.c.person_key).where(m.referrals.c.referral_id == ref)).scalar()]
    keys = [k for k in dict.fromkeys(keys) if k]
    return keys or [None]


def narrative_router(sessions: sessionmaker[Session]) -> APIRouter:
    narratives = Narratives(sessions)
    router = APIRouter(tags=["personnes"])
    purpose_query = Query("consultation", min_length=3, max_length=200, pattern=PURPOSE_PATTERN,
                          description="Pourquoi le récit est lu (consigné).")

    @router.get("/v1/narrative-reads", response_model=list[NarrativeRead],
                summary="Journal des lectures de récits (administration)")
    def narrative_reads(kind: str | None = Query(None, pattern=r"^(call|referral)$"),
                        ref: str | None = Query(None, max_length=64, pattern=REF_PATTERN),
                        limit: int = Query(200, ge=1, le=5000),
                        _: Principal = Depends(requires(Role.ADMIN))):
        return narratives.reads(kind, ref, limit)

    @router.get("/v1/calls/{call_id}/narrative", response_model=NarrativeView,
                summary="Récit de l'appel tel que reçu (intervenante sociale); chaque lecture est consignée",
                responses={404: {"description": "Appel sans récit connu"}})
    def call_narrative(call_id: str = Path(..., min_length=1, max_length=64, pattern=REF_PATTERN),
                       revision: int | None = Query(None, ge=1, le=10_000,
                                                    description="Révision (défaut: la dernière qui a un récit)."),
                       purpose: str = purpose_query, reader: Principal = Depends(requires(*READERS))):
        found = narratives.read("call", call_id, revision, reader, purpose)
        if found is None:
            return JSONResponse({"detail": f"aucun récit pour l'appel {call_id}"}, status_code=404)
        return found

    @router.get("/v1/referrals/{referral_id}/narrative", response_model=NarrativeView,
                summary="Récit de la référence tel que reçu (intervenante sociale); chaque lecture est consignée",
                responses={404: {"description": "Référence sans récit connu"}})
    def referral_narrative(referral_id: str = Path(..., min_length=1, max_length=64, pattern=REF_PATTERN),
                           purpose: str = purpose_query, reader: Principal = Depends(requires(*READERS))):
        found = narratives.read("referral", referral_id, None, reader, purpose)
        if found is None:
            return JSONResponse({"detail": f"aucun récit pour la référence {referral_id}"}, status_code=404)
        return found

    return router
