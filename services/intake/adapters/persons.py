"""Person resolution against intake's identity table: CAD person id, exact normalised identity, fuzzy
match of a near-duplicate spelling with the same birth date, or a new person. Each resolution is
recorded (match kind, confidence); identities never leave this table.

A person's key is made when a call or a referral about them is accepted (`resolve`, `GroupResolver`), never
when someone looks them up: `look_up` reads and writes nothing (no new key, no new spelling remembered)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, union_all
from sqlalchemy.orm import Session

from dyade.contracts import MatchKind
from dyade.contracts.calls import PersonRef
from dyade.contracts.inbound import PersonIdentity
from dyade.db import insert_ignore, insert_ignoring_duplicates
from services.intake.adapters import models as m
from services.intake.domain.identity import (Identity, best_fuzzy_match, cad_hash, identity_of, name_hash,
                                             person_key_for)



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

    def look_up(self, session: Session, person: PersonIdentity) -> Resolution | None:
        """The person intake already knows by this CAD id or this name and birth date (exact, or a near
        spelling born that day), else None. Read-only."""
        ident = identity_of(person.first_name, person.last_name, person.birth_date, person.cad_person_id)
        found = self._by_cad(session, ident) if ident.cad_person_id else None
        if found is None and ident.has_name:
            found = self._by_name(session, ident, person, None, remember=False)
        return found

    def _by_cad(self, session: Session, ident: Identity) -> Resolution | None:
        row = session.execute(select(m.identities.c.person_key).where(
            m.identities.c.identity_hash == cad_hash(self.secret, ident.cad_person_id))).first()
        return Resolution(row.person_key, MatchKind.CAD_ID, 1.0) if row else None

    def _by_name(self, session: Session, ident: Identity, person: PersonIdentity, now: datetime | None,
                 remember: bool = True) -> Resolution | None:
        """One query: the exact identity, and (when there is a birth date) every directly-known person born
        that day, for the fuzzy comparison; a near spelling found is remembered unless `remember` is False."""
        ids = m.identities.c
        h = name_hash(self.secret, ident)
        cols = (ids.identity_hash, ids.person_key, ids.norm_name, ids.match, ids.confidence)
        query = select(*cols).where(ids.identity_hash == h)
        if ident.birth_date is not None:  # UNION ALL: each half uses its own index (an OR would scan)
            query = union_all(query, select(*cols).where(
                ids.birth_date == ident.birth_date, ids.kind == "name", ids.match != MatchKind.FUZZY.value))
        rows = session.execute(query).all()
        exact = next((r for r in rows if r.identity_hash == h), None)
        if exact:
            if exact.match == MatchKind.FUZZY.value:  # a spelling linked by a fuzzy match stays a fuzzy match
                return Resolution(exact.person_key, MatchKind.FUZZY, exact.confidence)
            return Resolution(exact.person_key, MatchKind.EXACT, 1.0)
        best = best_fuzzy_match(ident.name, [(r.person_key, r.norm_name) for r in rows])
        if best is None:
            return None
        found = Resolution(best[0], MatchKind.FUZZY, best[1])
        if remember:
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


# GroupResolver.prefetch's reads, built once (their cache keys are memoised on the objects; the values are
# expanding parameters): the identities of the group's hashes, and the directly known names born the same days.
_ids = m.identities.c
_COLS = (_ids.identity_hash, _ids.person_key, _ids.norm_name, _ids.birth_date, _ids.kind, _ids.match, _ids.confidence)
BY_HASH = select(*_COLS).where(_ids.identity_hash.in_(bindparam("hashes", expanding=True)))
BY_HASH_OR_BIRTH = union_all(BY_HASH, select(*_COLS).where(
    _ids.birth_date.in_(bindparam("births", expanding=True)), _ids.kind == "name",
    _ids.match != MatchKind.FUZZY.value))

_NEW_IDENTITIES: dict = {}  # dialect name → INSERT ... ON CONFLICT DO NOTHING RETURNING identity_hash, built once


class GroupRace(Exception):
    """A new identity of the group was created meanwhile by another transaction: redo the group."""


class GroupResolver:
    """Resolves every person of a group of calls with one read (`prefetch`) and one write (`flush`), the
    same way PersonResolver does one by one. Persons earlier in the group are known to later ones."""

    def __init__(self, secret: str):
        self.secret = secret
        self.by_hash: dict[str, tuple[str, str, float]] = {}  # identity hash → (person_key, match, confidence)
        self.by_birth: dict = {}  # birth date → [(person_key, normalised name)] of directly known names
        self.new_rows: list[dict] = []

    def prefetch(self, session: Session, persons: list[PersonIdentity]) -> None:
        idents = [identity_of(p.first_name, p.last_name, p.birth_date, p.cad_person_id) for p in persons]
        hashes = {cad_hash(self.secret, i.cad_person_id) for i in idents if i.cad_person_id}
        hashes |= {name_hash(self.secret, i) for i in idents if i.has_name}
        births = {i.birth_date for i in idents if i.has_name and i.birth_date}
        if not hashes:
            return
        if births:
            rows = session.execute(BY_HASH_OR_BIRTH, {"hashes": list(hashes), "births": list(births)})
        else:
            rows = session.execute(BY_HASH, {"hashes": list(hashes)})
        for r in rows:
            self.by_hash[r.identity_hash] = (r.person_key, r.match, r.confidence)
            if r.kind == "name" and r.match != MatchKind.FUZZY.value and r.birth_date:
                pair = (r.person_key, r.norm_name)
                if pair not in self.by_birth.setdefault(r.birth_date, []):
                    self.by_birth[r.birth_date].append(pair)

    def resolve(self, session: Session, person: PersonIdentity, *, context: str, ref: str | None,
                now: datetime, record: bool = False) -> Resolution:
        ident = identity_of(person.first_name, person.last_name, person.birth_date, person.cad_person_id)
        found = None
        if ident.cad_person_id and (hit := self.by_hash.get(cad_hash(self.secret, ident.cad_person_id))):
            found = Resolution(hit[0], MatchKind.CAD_ID, 1.0)
        if found is None and ident.has_name:
            if hit := self.by_hash.get(name_hash(self.secret, ident)):
                found = (Resolution(hit[0], MatchKind.FUZZY, hit[2]) if hit[1] == MatchKind.FUZZY.value
                         else Resolution(hit[0], MatchKind.EXACT, 1.0))
            elif ident.birth_date is not None:
                best = best_fuzzy_match(ident.name, self.by_birth.get(ident.birth_date, []))
                if best:
                    found = Resolution(best[0], MatchKind.FUZZY, best[1])
                    self._remember_name(ident, person, found, now)
        if found is None:
            fingerprint = f"cad|{ident.cad_person_id}" if ident.cad_person_id else ident.name_fingerprint()
            found = Resolution(person_key_for(self.secret, fingerprint), MatchKind.NEW, 1.0)
            if ident.has_name:
                self._remember_name(ident, person, found, now)
        if ident.cad_person_id:
            self._remember(dict(identity_hash=cad_hash(self.secret, ident.cad_person_id), person_key=found.person_key,
                                kind="cad", norm_name=None, birth_date=None, first_name=None, last_name=None,
                                cad_person_id=ident.cad_person_id, match=MatchKind.CAD_ID.value, confidence=1.0,
                                created_at=now))
        return found

    def _remember_name(self, ident: Identity, person: PersonIdentity, found: Resolution, now: datetime) -> None:
        added = self._remember(dict(
            identity_hash=name_hash(self.secret, ident), person_key=found.person_key, kind="name",
            norm_name=ident.name, birth_date=ident.birth_date, first_name=person.first_name,
            last_name=person.last_name, cad_person_id=None, match=found.match.value,
            confidence=found.confidence, created_at=now))
        if added and found.match != MatchKind.FUZZY and ident.birth_date:
            self.by_birth.setdefault(ident.birth_date, []).append((found.person_key, ident.name))

    def _remember(self, row: dict) -> bool:
        if row["identity_hash"] in self.by_hash:
            return False
        self.by_hash[row["identity_hash"]] = (row["person_key"], row["match"], row["confidence"])
        self.new_rows.append(row)
        return True

    def flush(self, session: Session) -> None:
        if not self.new_rows:
            return
        dialect = session.get_bind().dialect.name if isinstance(session, Session) else session.dialect.name
        if (insert := _NEW_IDENTITIES.get(dialect)) is None:
            insert = _NEW_IDENTITIES[dialect] = insert_ignoring_duplicates(dialect, m.identities) \
                .returning(m.identities.c.identity_hash)
        inserted = {r[0] for r in session.execute(insert, self.new_rows)}
        if len(inserted) != len(self.new_rows):
            raise GroupRace(f"{len(self.new_rows) - len(inserted)} identité(s) créée(s) en même temps ailleurs")
