"""Who a person key is, for the roles allowed to know (social worker; not admin): intake is the only service that
keeps identities, so the pages of the other services ask here. Every disclosure is written to
intake_identity_reads (reader, role, when, key, purpose) and, for the register of communications kept by
Info-social, to the outbox (communications.recorded.v1: the key, never the name), in the same transaction as the
read (`record_disclosures`): no audit, no identity. Names never go to the logs; only counts do."""
from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dyade.auth import Principal, requires
from dyade.contracts import MatchKind, Role
from dyade.contracts.text import Line
from dyade.db import unit_of_work
from services.intake.adapters import models as m
from services.intake.adapters import register
from dyade.clock import utcnow

log = logging.getLogger("intake.identities")

PERSON_KEY_PATTERN = r"^p_[0-9A-Za-z]{4,64}$"
PersonKey = Annotated[str, StringConstraints(pattern=PERSON_KEY_PATTERN)]
MAX_KEYS = 200
# one printable line: no control character (PostgreSQL refuses NUL), none of C1, no line separator (the
# register's events refuse them: dyade.contracts.text.Line)
PURPOSE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\ufffe\uffff]+$"
READERS = (Role.SOCIAL_WORKER,)  # admin reads the audit of disclosures, never an identity


class Name(BaseModel):
    first_name: str | None = None
    last_name: str | None = None
    birth_date: date | None = None


class PersonIdentityView(Name):
    person_key: str
    cad_person_ids: list[str] = Field(default_factory=list, description="Identifiants de personne du RAO connus.")
    other_names: list[Name] = Field(default_factory=list,
                                    description="Autres graphies rattachées à la même personne (appariement approché).")


class IdentitiesRequest(BaseModel):
    person_keys: list[PersonKey] = Field(min_length=1, max_length=MAX_KEYS,
                                         description=f"Clés pseudonymes (au plus {MAX_KEYS}).")
    purpose: Line = Field(min_length=3, max_length=200, description="Pourquoi ces identités sont lues (consigné).")
    model_config = {"extra": "forbid"}


class IdentitiesResponse(BaseModel):
    identities: dict[str, PersonIdentityView]
    unknown: list[str] = Field(description="Clés sans identité connue d'intake (rien n'est divulgué ni consigné).")


class IdentityRead(BaseModel):
    person_key: str | None = Field(description="None: a look-up by name that found nobody.")
    subject: str
    role: str
    purpose: str
    at: datetime
    outcome: str | None = Field(None, description="A look-up by name (POST /v1/persons/resolve): exact, fuzzy, "
                                                  "cad_id or introuvable; none for a disclosure by key.")


class Disclosures:
    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    def disclose(self, person_keys: list[str], reader: Principal, purpose: str) -> dict[str, PersonIdentityView]:
        """The identities of the known keys, each disclosure audited in the same transaction."""
        keys = list(dict.fromkeys(person_keys))
        ids = m.identities.c
        with unit_of_work(self.sessions) as session:
            rows = session.execute(
                select(ids.person_key, ids.kind, ids.first_name, ids.last_name, ids.birth_date, ids.cad_person_id,
                       ids.match, ids.created_at).where(ids.person_key.in_(keys))).all()
            found = assemble(rows)
            record_disclosures(session, [k for k in keys if k in found], reader, purpose, utcnow())
        log.info("identities disclosed", extra={"requested": len(keys), "disclosed": len(found),
                                                "role": reader.role.value})
        return {k: found[k] for k in keys if k in found}

    def reads(self, person_key: str | None, limit: int) -> list[dict]:
        r = m.identity_reads.c
        query = select(r.person_key, r.subject, r.role, r.purpose, r.at, r.outcome).order_by(r.id.desc()).limit(limit)
        if person_key:
            query = query.where(r.person_key == person_key)
        with unit_of_work(self.sessions) as session:
            return [row._asdict() for row in session.execute(query)]


def record_disclosures(session: Session, person_keys: list[str], reader: Principal, purpose: str,
                       now: datetime) -> None:
    """Each identity disclosed, in the session's transaction: its row in intake_identity_reads and its entry for
    the register of communications (intake's outbox)."""
    if not person_keys:
        return
    session.execute(m.identity_reads.insert(), [
        {"person_key": k, "subject": reader.subject[:200], "role": reader.role.value, "purpose": purpose[:200],
         "at": now} for k in person_keys])
    register.identities_disclosed(session, person_keys, subject=reader.subject, role=reader.role, purpose=purpose,
                                  now=now, dyad_id=reader.dyad_id, sector=reader.sector)


def assemble(rows) -> dict[str, PersonIdentityView]:
    """One view per key: its first directly-known name (not a fuzzy spelling) first, the others as aliases."""
    names: dict[str, list] = {}
    cads: dict[str, set[str]] = {}
    for r in rows:
        if r.kind == "cad" and r.cad_person_id:
            cads.setdefault(r.person_key, set()).add(r.cad_person_id)
        elif r.first_name or r.last_name:
            names.setdefault(r.person_key, []).append(r)
        cads.setdefault(r.person_key, set())
    out = {}
    for key, cad_ids in cads.items():
        ordered = sorted(names.get(key, []), key=lambda r: (r.match == MatchKind.FUZZY.value, r.created_at))
        views = [Name(first_name=r.first_name, last_name=r.last_name, birth_date=r.birth_date) for r in ordered]
        main = views[0] if views else Name()
        out[key] = PersonIdentityView(person_key=key, **main.model_dump(), cad_person_ids=sorted(cad_ids),
                                      other_names=[v for v in views[1:] if v != main])
    return out


def identity_router(sessions: sessionmaker[Session]) -> APIRouter:
    disclosures = Disclosures(sessions)
    router = APIRouter(tags=["personnes"])

    @router.get("/v1/persons/identity-reads", response_model=list[IdentityRead],
                summary="Journal des lectures d'identité (administration)")
    def identity_reads(person_key: str | None = Query(None, pattern=PERSON_KEY_PATTERN),
                       limit: int = Query(200, ge=1, le=5000),
                       _: Principal = Depends(requires(Role.ADMIN))):
        return disclosures.reads(person_key, limit)

    @router.get("/v1/persons/{person_key}/identity", response_model=PersonIdentityView,
                summary="Identité d'une personne (intervenante sociale); chaque lecture est consignée",
                responses={404: {"description": "Clé sans identité connue"}})
    def identity(person_key: str = Path(..., pattern=PERSON_KEY_PATTERN),
                 purpose: str = Query("consultation", min_length=3, max_length=200, pattern=PURPOSE_PATTERN,
                                      description="Pourquoi l'identité est lue (consigné)."),
                 reader: Principal = Depends(requires(*READERS))):
        found = disclosures.disclose([person_key], reader, purpose)
        if person_key not in found:
            return JSONResponse({"detail": f"personne inconnue: {person_key}"}, status_code=404)
        return found[person_key]

    @router.post("/v1/persons/identities", response_model=IdentitiesResponse,
                 summary=f"Identités de plusieurs personnes (au plus {MAX_KEYS}); chaque divulgation est consignée")
    def identities(body: IdentitiesRequest, reader: Principal = Depends(requires(*READERS))):
        found = disclosures.disclose(body.person_keys, reader, body.purpose)
        return {"identities": found, "unknown": [k for k in dict.fromkeys(body.person_keys) if k not in found]}

    return router
