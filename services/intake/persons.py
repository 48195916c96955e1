"""Person resolution against intake's identity table: CAD person id, exact normalised identity, fuzzy
match of a near-duplicate spelling with the same birth date, or a new person. Each resolution is
recorded (match kind, confidence); identities never leave this table."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dyade.contracts import MatchKind
from dyade.contracts.calls import PersonRef
from dyade.contracts.inbound import PersonIdentity
from services.intake import models as m
from services.intake.dbutil import insert_ignore
from services.intake.domain.identity import (Identity, best_fuzzy_match, cad_hash, identity_of, name_hash,
                                             person_key_for)

MAX_FUZZY_CANDIDATES = 5000


@dataclass(frozen=True)
class Resolution:
    person_key: str
    match: MatchKind
    confidence: float

    def as_ref(self, role) -> PersonRef:
        return PersonRef(person_key=self.person_key, role=role, match=self.match,
                         match_confidence=round(self.confidence, 3))

    def as_json(self) -> dict:
        return {"person_key": self.person_key, "match": self.match.value, "confidence": round(self.confidence, 3)}


class PersonResolver:
    def __init__(self, secret: str):
        self.secret = secret

    def resolve(self, session: Session, person: PersonIdentity, *, context: str, ref: str | None,
                now: datetime, record: bool = True) -> Resolution:
        """`record=False` when the caller keeps the match itself (a call row lists its persons' matches)."""
        ident = identity_of(person.first_name, person.last_name, person.birth_date, person.cad_person_id)
        found = self._by_cad(session, ident) if ident.cad_person_id else None
        if found is None and ident.has_name:
            found = self._by_name(session, ident, person, now)
        if found is None:
            fingerprint = f"cad|{ident.cad_person_id}" if ident.cad_person_id else ident.name_fingerprint()
            found = Resolution(person_key_for(self.secret, fingerprint), MatchKind.NEW, 1.0)
            if ident.has_name:
                self._remember_name(session, ident, person, found, now)
        if ident.cad_person_id:
            self._remember_cad(session, ident, found, now)
        if record:
            session.execute(m.resolutions.insert().values(person_key=found.person_key, match=found.match.value,
                                                          confidence=found.confidence, context=context, ref=ref,
                                                          at=now))
        return found

    def _by_cad(self, session: Session, ident: Identity) -> Resolution | None:
        row = session.execute(select(m.identities.c.person_key).where(
            m.identities.c.identity_hash == cad_hash(self.secret, ident.cad_person_id))).first()
        return Resolution(row.person_key, MatchKind.CAD_ID, 1.0) if row else None

    def _by_name(self, session: Session, ident: Identity, person: PersonIdentity, now: datetime) -> Resolution | None:
        """One query: the exact identity, and (when there is a birth date) every directly-known person born
        that day, for the fuzzy comparison."""
        ids = m.identities.c
        h = name_hash(self.secret, ident)
        where = ids.identity_hash == h
        if ident.birth_date is not None:
            where = where | ((ids.birth_date == ident.birth_date) & (ids.kind == "name")
                             & (ids.match != MatchKind.FUZZY.value))
        rows = session.execute(select(ids.identity_hash, ids.person_key, ids.norm_name, ids.match, ids.confidence)
                               .where(where).limit(MAX_FUZZY_CANDIDATES)).all()
        exact = next((r for r in rows if r.identity_hash == h), None)
        if exact:
            if exact.match == MatchKind.FUZZY.value:  # a spelling linked by a fuzzy match stays a fuzzy match
                return Resolution(exact.person_key, MatchKind.FUZZY, exact.confidence)
            return Resolution(exact.person_key, MatchKind.EXACT, 1.0)
        best = best_fuzzy_match(ident.name, [(r.person_key, r.norm_name) for r in rows])
        if best is None:
            return None
        found = Resolution(best[0], MatchKind.FUZZY, best[1])
        self._remember_name(session, ident, person, found, now)
        return found

    def _remember_name(self, session: Session, ident: Identity, person: PersonIdentity, found: Resolution,
                       now: datetime) -> None:
        insert_ignore(session, m.identities, dict(
            identity_hash=name_hash(self.secret, ident), person_key=found.person_key, kind="name",
            norm_name=ident.name, birth_date=ident.birth_date, first_name=person.first_name,
            last_name=person.last_name, cad_person_id=None, match=found.match.value,
            confidence=found.confidence, created_at=now))

    def _remember_cad(self, session: Session, ident: Identity, found: Resolution, now: datetime) -> None:
        insert_ignore(session, m.identities, dict(
            identity_hash=cad_hash(self.secret, ident.cad_person_id), person_key=found.person_key, kind="cad",
            norm_name=None, birth_date=None, first_name=None, last_name=None, cad_person_id=ident.cad_person_id,
            match=MatchKind.CAD_ID.value, confidence=1.0, created_at=now))
