"""Accepting what the outside sends: one transaction stores the idempotency record and the event in
the outbox; the answer is given only after that commit. HTTP, the raw topic, EIDO and batches all come
through here.

A group of calls (group commit) is isolated call by call: what needs no database is checked before the
shared transaction; if the group's transaction fails for any reason but a lost database, each call is
accepted again in its own SAVEPOINT, so that one call's failure is that call's answer only."""
from __future__ import annotations

import logging
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from pydantic import ValidationError
from sqlalchemy import bindparam, select, tuple_
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from dyade.clock import utcnow
from dyade.contracts import Event, EventError
from dyade.contracts.envelope import describe_validation_error
from dyade.contracts.inbound import CallSubmission, CallUpdateSubmission, PersonIdentity, ReferralSubmission
from dyade.db import describe_db_error, unit_of_work
from services.intake.adapters import models as m
from services.intake.adapters import register
from services.intake.adapters.outbox import outbox_row
from services.intake.adapters.code_tables import CodeTables
from services.intake.domain.calls import (InvalidSubmission, ResolvedLocation, call_received, call_updated,
                                          check_not_future, fingerprint, referral_filed)
from services.intake.domain.codes import CodeTable, UnknownCode
from services.intake.domain.eido import EidoError, eido_path_of, map_eido
from services.intake.domain.identity import referrer_key
from services.intake.domain.locations import AddressError, block_level, location_key
from services.intake.adapters.persons import GroupResolver, PersonResolver, Resolution


log = logging.getLogger("intake.acceptance")


LOOKUP_NOT_FOUND = "introuvable"  # the outcome of a look-up that found nobody (else the match kind)


class Conflict(Exception):
    """Same idempotency key, different content."""


class NotFound(Exception):
    pass


@dataclass(frozen=True)
class Outcome:
    body: dict
    duplicate: bool


@dataclass
class Staged:
    """Rows of a group of calls accepted in one transaction, written together at its end."""
    outbox: list[dict] = field(default_factory=list)
    calls: list[dict] = field(default_factory=list)
    narratives: list[dict] = field(default_factory=list)
    seen: dict[tuple[str, int], Any] = field(default_factory=dict)  # (call_id, revision) → row known or staged


CallItem = tuple[CallSubmission, str | None, str]  # submission, code table, channel
# The group's statements, built once: SQLAlchemy memoises a statement's cache key on the object, so a group
# skips building and keying them again (the keys are an expanding parameter). With the identities' insert
# (persons.py), this took the writer's CPU per call from about 0.9 to 0.55-0.6 ms in groups of 6.
CALLS_BY_KEY = select(m.calls).where(tuple_(m.calls.c.call_id, m.calls.c.revision)
                                     .in_(bindparam("keys", expanding=True)))
OUTBOX_INSERT, CALLS_INSERT, NARRATIVES_INSERT = m.outbox.insert(), m.calls.insert(), m.narratives.insert()


@dataclass(frozen=True)
class Prepared:
    """What a call's acceptance needs and no database gives: its code table, its fingerprint, and its
    category and location, or the refusal they gave (told only if the call is not a replay: a replay gets
    its first answer)."""
    table: CodeTable
    fingerprint: str
    category: Any = None
    location: ResolvedLocation | None = None
    refusal: InvalidSubmission | None = None


def fatal_to_group(exc: BaseException) -> bool:
    """The database is lost (connection, server gone, deadlock): every call of the group gets it (503)."""
    return isinstance(exc, (OperationalError, InterfaceError)) or \
        (isinstance(exc, DBAPIError) and exc.connection_invalidated)


def narrative_row(kind: str, ref: str, revision: int, narrative: str | None, now: datetime) -> dict | None:
    """The narrative as received, kept on intake's identity side (the event carries it redacted). PostgreSQL
    text holds no NUL: one becomes U+FFFD rather than refusing the call."""
    if not narrative:
        return None
    return dict(kind=kind, ref=ref, revision=revision, narrative=narrative.replace("\x00", "\ufffd"), created_at=now)


def utc(at: datetime) -> datetime:
    """Stored times are UTC (SQLite keeps no offset: an aware time would be stored as its wall clock)."""
    return at.astimezone(timezone.utc)


def iso(at: datetime | None) -> str | None:
    if at is None:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=timezone.utc)).isoformat()


class Intake:
    def __init__(self, sessions: sessionmaker[Session], secret: str, tables: CodeTables,
                 on_commit: Callable[[], None] = lambda: None):
        self.sessions = sessions
        self.secret = secret
        self.tables = tables
        self.resolver = PersonResolver(secret)
        self.on_commit = on_commit

    # --- the transaction wrapper: a concurrent insert of the same key is retried once, then seen as a replay
    def _transact(self, work: Callable[[Session], Outcome]) -> Outcome:
        for attempt in (1, 2):
            try:
                with unit_of_work(self.sessions) as session:
                    outcome = work(session)
                if not outcome.duplicate:
                    self.on_commit()
                return outcome
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _enqueue(self, session: Session, event: Event, now: datetime) -> None:
        try:
            row = outbox_row(event, now)
        except EventError as exc:  # text the edge let through (a model built without validation)
            raise InvalidSubmission("(corps)", exc.reason) from None
        session.execute(m.outbox.insert().values(**row))

    # --- calls
    def accept_call(self, sub: CallSubmission, *, code_table: str | None = None, channel: str = "http") -> Outcome:
        result = self.accept_calls([(sub, code_table, channel)])[0]
        if isinstance(result, Exception):
            raise result
        return result

    @contextmanager
    def _unit(self, bind: Connection | None):
        """A transaction on a pooled connection, or on the caller's own (the group writer keeps one: no pool
        checkout and no pre-ping per group); committed if the block succeeds, rolled back otherwise. A Core
        connection, not an ORM session: a group runs only Core statements, and the session's own layer (its
        execute and transaction bookkeeping) was about a tenth of the writer's GIL time under load (py-spy --gil
        on bench.intake's server)."""
        if bind is None:
            with self.sessions.kw["bind"].begin() as conn:
                yield conn
        else:
            with bind.begin():
                yield bind

    def accept_calls(self, items: list[CallItem], bind: Connection | None = None) -> list[Outcome | Exception]:
        """A group of calls in ONE transaction (group commit): existing keys fetched in one query, rows
        written together. Each call's result is its own: a refusal found without the database (time, code
        table, nature code, address) is decided before the transaction; a domain refusal (InvalidSubmission,
        Conflict) writes nothing; if the group's transaction fails (a concurrent insert of the same key, a
        value the database refuses, a fault in one call), every call is accepted again in its own SAVEPOINT
        of one transaction, and only the call that fails again gets the error. Raises only when the
        database is lost (OperationalError...: the whole group, 503)."""
        if not items:
            return []
        now = utcnow()
        results: list[Outcome | Exception | None] = [None] * len(items)
        todo: list[tuple[int, CallItem, Prepared]] = []
        for index, item in enumerate(items):
            try:
                todo.append((index, item, self.prepare_call(item[0], item[1], now)))
            except Exception as exc:  # InvalidSubmission; or a fault with this call only (500 for it alone)
                results[index] = exc
        if todo:
            group = [(item, prepared) for _, item, prepared in todo]
            try:
                done = self._accept_group(group, bind, now)
            except Exception as exc:
                if fatal_to_group(exc):
                    raise
                log.warning("group commit failed: each call again in its own savepoint",
                            extra={"calls": len(group), "error": describe_db_error(exc)})
                done = self._accept_each(group, bind, now)
            for (index, _, _), result in zip(todo, done):
                results[index] = result
        if any(isinstance(r, Outcome) and not r.duplicate for r in results):
            self.on_commit()
        return results  # type: ignore[return-value]

    def prepare_call(self, sub: CallSubmission, code_table: str | None, now: datetime) -> Prepared:
        """The checks of a call that need no database (raises InvalidSubmission for the time and the code
        table; keeps the nature code's or the address's refusal for after the replay check)."""
        check_not_future("received_at", sub.received_at, now)
        try:
            table = self.tables.get(code_table)
        except KeyError:
            raise InvalidSubmission("code_table", f"table de codes inconnue: {code_table!r} "
                                                  f"(connues: {', '.join(self.tables.names())})") from None
        fp = fingerprint(sub)[:56] + table.name[:8]
        try:
            category = table.category_of(sub.nature_code)
        except UnknownCode as exc:
            return Prepared(table, fp, refusal=InvalidSubmission("nature_code", str(exc)))
        try:
            loc = ResolvedLocation(location_key(self.secret, sub.location.address), block_level(sub.location.address),
                                   sub.location.sector)
        except AddressError as exc:
            return Prepared(table, fp, refusal=InvalidSubmission("location.address", str(exc)))
        return Prepared(table, fp, category, loc)

    def _accept_each(self, group: list[tuple[CallItem, Prepared]], bind: Connection | None,
                     now: datetime) -> list[Outcome | Exception]:
        """Every call of a group in its own SAVEPOINT of one transaction: a call that fails is rolled back
        alone and gets its error; the others commit. A unique violation (another writer committed the same
        key meanwhile) is tried once more: now a replay or a conflict."""
        results: list[Outcome | Exception] = []
        with self._unit(bind) as session:
            for (sub, table, channel), prepared in group:
                result: Outcome | Exception
                for attempt in (1, 2):
                    try:
                        with session.begin_nested():
                            result = self.accept_call_in(session, sub, code_table=table, channel=channel, now=now,
                                                         prepared=prepared)
                        break
                    except (InvalidSubmission, Conflict) as exc:
                        result = exc
                        break
                    except Exception as exc:
                        if fatal_to_group(exc):
                            raise
                        result = exc
                        if not isinstance(exc, IntegrityError) or attempt == 2:
                            log.warning("call refused alone in its group", extra={
                                "call_id": sub.call_id, "revision": sub.revision, "error": describe_db_error(exc)})
                            break
                results.append(result)
        return results

    def _accept_group(self, group: list[tuple[CallItem, Prepared]], bind: Connection | None,
                      now: datetime) -> list[Outcome | Exception]:
        staged = Staged()
        results: list[Outcome | Exception] = []
        with self._unit(bind) as session:
            keys = list({(sub.call_id, sub.revision) for (sub, _, _), _ in group})
            for row in session.execute(CALLS_BY_KEY, {"keys": keys}):
                staged.seen[(row.call_id, row.revision)] = row
            resolver = GroupResolver(self.secret)
            resolver.prefetch(session, [p for (sub, _, _), prepared in group if prepared.refusal is None
                                        for p in sub.persons])
            for (sub, table, channel), prepared in group:
                try:
                    results.append(self.accept_call_in(session, sub, code_table=table, channel=channel, now=now,
                                                       staged=staged, resolver=resolver, prepared=prepared))
                except (InvalidSubmission, Conflict) as exc:
                    results.append(exc)
            resolver.flush(session)
            if staged.outbox:
                session.execute(OUTBOX_INSERT, staged.outbox)
                session.execute(CALLS_INSERT, staged.calls)
            if staged.narratives:
                session.execute(NARRATIVES_INSERT, staged.narratives)
        return results

    def accept_call_in(self, session: Session, sub: CallSubmission, *, code_table: str | None, channel: str,
                       now: datetime | None = None, staged: Staged | None = None,
                       resolver: PersonResolver | GroupResolver | None = None,
                       prepared: Prepared | None = None) -> Outcome:
        """Accept one call in the caller's transaction. With `staged`, the existing keys are already in
        `staged.seen` and the rows are left for the caller to write; without, they are written here.
        `prepared`: prepare_call's result, when the caller has it already."""
        now = now or utcnow()
        prepared = prepared or self.prepare_call(sub, code_table, now)
        table, fp = prepared.table, prepared.fingerprint
        if staged is not None:
            existing = staged.seen.get((sub.call_id, sub.revision))
        else:
            existing = session.execute(select(m.calls).where(m.calls.c.call_id == sub.call_id,
                                                             m.calls.c.revision == sub.revision)).first()
        if existing:
            get = existing.get if isinstance(existing, dict) else existing._mapping.get
            if get("fingerprint") != fp:
                raise Conflict(f"l'appel {sub.call_id} révision {sub.revision} a déjà été reçu avec un contenu "
                               f"différent; envoyez une nouvelle révision")
            # The fingerprint holds only the first 8 characters of the table's name (kept so that stored calls
            # still match their retries): the row's full name tells "montreal" from "montreal-nord".
            if get("code_table") != table.name:
                raise Conflict(f"l'appel {sub.call_id} révision {sub.revision} a déjà été reçu avec la table de "
                               f"codes {get('code_table')!r}, pas {table.name!r}; envoyez une nouvelle révision")
            return Outcome(self._call_body(existing), duplicate=True)
        if prepared.refusal is not None:
            raise prepared.refusal
        category, loc = prepared.category, prepared.location
        assert loc is not None
        refs, persons = [], []
        for person in sub.persons:
            res = (resolver or self.resolver).resolve(session, person, context="call", ref=sub.call_id, now=now,
                                                      record=False)
            refs.append(res.as_ref(person.role))
            persons.append({**res.as_json(), "role": person.role.value})
        try:
            event = call_received(sub, category=category, location=loc, persons=refs,
                                  source_system=table.source_system)
        except ValidationError as exc:  # a value the edge let through that the event refuses (a sector too long)
            raise InvalidSubmission("(corps)", describe_validation_error(exc)) from None
        try:
            queued = outbox_row(event, now)
        except EventError as exc:  # text the edge let through (a model built without validation)
            raise InvalidSubmission("(corps)", exc.reason) from None
        row = dict(call_id=sub.call_id, revision=sub.revision, fingerprint=fp, event_id=str(event.event_id),
                   category=category.value, sector=loc.sector, location_key=loc.location_key, person_keys=persons,
                   channel=channel, code_table=table.name, received_at=utc(sub.received_at), accepted_at=now)
        narrative = narrative_row("call", sub.call_id, sub.revision, sub.narrative, now)
        if staged is not None:
            staged.outbox.append(queued)
            staged.calls.append(row)
            if narrative:
                staged.narratives.append(narrative)
            staged.seen[(sub.call_id, sub.revision)] = row
        else:
            session.execute(m.outbox.insert().values(**queued))
            session.execute(m.calls.insert().values(**row))
            if narrative:
                session.execute(m.narratives.insert().values(**narrative))
        return Outcome(self._call_body(row), duplicate=False)

    @staticmethod
    def _call_body(row) -> dict:
        get = row.get if isinstance(row, dict) else row._mapping.get
        return {"status": "accepted", "call_id": get("call_id"), "revision": get("revision"),
                "event_id": get("event_id"), "category": get("category"), "persons": get("person_keys")}

    # --- batch: each item validated alone, then the valid ones accepted as one group
    def accept_batch(self, items: list[Any], *, code_table: str | None, channel: str = "batch") -> list[dict]:
        results: list[dict] = []
        valid: list[tuple[int, CallSubmission]] = []
        for index, item in enumerate(items):
            call_id = item.get("call_id") if isinstance(item, dict) else None
            results.append({"index": index, "call_id": call_id if isinstance(call_id, str) else None})
            try:
                valid.append((index, CallSubmission.model_validate(item)))
            except ValidationError as exc:
                results[index].update(status="rejected", reason=describe_validation_error(exc))
        outcomes = self.accept_calls([(sub, code_table, channel) for _, sub in valid])
        for (index, _), outcome in zip(valid, outcomes):
            if isinstance(outcome, Outcome):
                results[index].update(status="duplicate" if outcome.duplicate else "accepted",
                                      event_id=outcome.body["event_id"], category=outcome.body["category"])
            elif isinstance(outcome, Conflict):
                results[index].update(status="conflict", reason=str(outcome))
            else:
                results[index].update(status="rejected", reason=str(outcome))
        return results

    # --- EIDO: revisions numbered in the order of the EIDO's lastUpdateTimeStamp (same instant = same revision)
    def accept_eido(self, doc: Any, *, code_table: str | None) -> tuple[Outcome, int]:
        mapped = map_eido(doc)  # EidoError → 422 naming the JSON path
        self._eido_submission(mapped.submission, 1)  # refused before any database work
        # A stamp in the future would outrank every later version of the incident.
        check_not_future(mapped.version_path, mapped.version_at, utcnow())

        def work(session: Session) -> Outcome:
            call_id = mapped.submission["call_id"]
            # Compared as instants: a stamp is stored in UTC, but was stored with its own offset before.
            known = [(datetime.fromisoformat(row.version_stamp), row.revision) for row in session.execute(
                select(m.eido_versions).where(m.eido_versions.c.call_id == call_id))]
            rev = next((revision for at, revision in known if at == mapped.version_at), None)
            if rev is None:
                latest = max(known, default=None, key=lambda k: k[0])
                if latest is not None and latest[0] > mapped.version_at:
                    raise Conflict(f"une version plus récente de l'incident {call_id} est déjà acceptée (révision "
                                   f"{latest[1]}, horodatée {latest[0].isoformat()}); celle-ci, horodatée "
                                   f"{mapped.version_at.isoformat()} ({mapped.version_path}), est plus ancienne: "
                                   f"elle n'est pas publiée")
                rev = max((revision for _, revision in known), default=0) + 1
                session.execute(m.eido_versions.insert().values(call_id=call_id, revision=rev,
                                                                version_stamp=utc(mapped.version_at).isoformat()))
            sub = self._eido_submission(mapped.submission, rev)
            return self.accept_call_in(session, sub, code_table=code_table, channel="eido")
        return self._transact(work), mapped.skipped_persons

    @staticmethod
    def _eido_submission(submission: dict, revision: int) -> CallSubmission:
        try:
            return CallSubmission.model_validate({**submission, "revision": revision})
        except ValidationError as exc:
            err = exc.errors()[0]
            raise EidoError(eido_path_of(err["loc"]), err["msg"]) from None

    # --- updates
    def accept_update(self, call_id: str, sub: CallUpdateSubmission) -> Outcome:
        def work(session: Session) -> Outcome:
            now = utcnow()
            check_not_future("at", sub.at, now)
            fp = fingerprint(sub)
            existing = session.execute(select(m.updates).where(
                m.updates.c.call_id == call_id, m.updates.c.status == sub.status.value,
                m.updates.c.at == utc(sub.at))).first()
            if existing:
                if existing.fingerprint != fp:
                    raise Conflict(f"une mise à jour {sub.status.value} de l'appel {call_id} à {sub.at.isoformat()} "
                                   f"a déjà été reçue avec un contenu différent")
                return Outcome(self._update_body(call_id, sub, existing.event_id), duplicate=True)
            call = session.execute(select(m.calls).where(m.calls.c.call_id == call_id)
                                   .order_by(m.calls.c.revision.desc()).limit(1)).first()
            if call is None:
                raise NotFound(f"appel inconnu: {call_id}")
            keys = list(dict.fromkeys(p["person_key"] for p in call.person_keys))
            event = call_updated(call_id, sub, person_keys=keys, sector=call.sector, location_key=call.location_key)
            self._enqueue(session, event, now)
            session.execute(m.updates.insert().values(call_id=call_id, status=sub.status.value, at=utc(sub.at),
                                                      fingerprint=fp, event_id=str(event.event_id), accepted_at=now))
            return Outcome(self._update_body(call_id, sub, str(event.event_id)), duplicate=False)
        return self._transact(work)

    @staticmethod
    def _update_body(call_id: str, sub: CallUpdateSubmission, event_id: str) -> dict:
        return {"status": "accepted", "call_id": call_id, "call_status": sub.status.value, "event_id": event_id}

    # --- referrals
    def accept_referral(self, sub: ReferralSubmission) -> Outcome:
        def work(session: Session) -> Outcome:
            now = utcnow()
            if sub.filed_at:
                check_not_future("filed_at", sub.filed_at, now)
            referral_id = sub.referral_id or f"ref-{uuid.uuid4().hex[:20]}"
            fp = fingerprint(sub)
            existing = session.execute(select(m.referrals).where(m.referrals.c.referral_id == referral_id)).first()
            if existing:
                if existing.fingerprint != fp:
                    raise Conflict(f"la référence {referral_id} a déjà été reçue avec un contenu différent")
                return Outcome(self._referral_body(existing), duplicate=True)
            res = self.resolver.resolve(session, sub.person, context="referral", ref=referral_id, now=now)
            referrer = referrer_key(self.secret, sub.referrer_type.value, sub.referrer_id)
            event = referral_filed(referral_id, sub, person_key=res.person_key, referrer=referrer,
                                   filed_at=sub.filed_at or now)
            self._enqueue(session, event, now)
            row = dict(referral_id=referral_id, fingerprint=fp, event_id=str(event.event_id),
                       person_key=res.person_key, referrer_key=referrer, match=res.match.value,
                       confidence=res.confidence, accepted_at=now)
            session.execute(m.referrals.insert().values(**row))
            if narrative := narrative_row("referral", referral_id, 0, sub.narrative, now):
                session.execute(m.narratives.insert().values(**narrative))
            return Outcome(self._referral_body(row), duplicate=False)
        return self._transact(work)

    @staticmethod
    def _referral_body(row) -> dict:
        get = row.get if isinstance(row, dict) else row._mapping.get
        return {"status": "accepted", "referral_id": get("referral_id"), "event_id": get("event_id"),
                "person_key": get("person_key"), "match": get("match"), "confidence": round(get("confidence"), 3)}

    # --- persons
    def look_up_person(self, person: PersonIdentity, *, subject: str, role: str, purpose: str) -> Resolution | None:
        """The person intake knows by this identity, or None; nothing about the person is written (their key is
        made when a call or a referral about them is accepted). The look-up itself is audited, found or not, in
        intake_identity_reads (reader, role, purpose, outcome) in the same transaction: no audit, no answer."""
        now = utcnow()
        with unit_of_work(self.sessions) as session:
            found = self.resolver.look_up(session, person)
            session.execute(m.identity_reads.insert().values(
                person_key=found.person_key if found else None, subject=subject[:200], role=role[:30],
                purpose=purpose[:200], at=now, outcome=found.match.value if found else LOOKUP_NOT_FOUND))
            if found:  # who the name is was disclosed: an entry of the register of communications
                register.identities_disclosed(session, [found.person_key], subject=subject, role=role,
                                              purpose=purpose, now=now)
        if found:
            self.on_commit()
        return found

    # --- reads
    def call_status(self, call_id: str) -> dict | None:
        with self.sessions() as session:
            revisions = session.execute(
                select(m.calls, m.outbox.c.sent_at).join(m.outbox, m.outbox.c.event_id == m.calls.c.event_id)
                .where(m.calls.c.call_id == call_id).order_by(m.calls.c.revision)).all()
            if not revisions:
                return None
            ups = session.execute(
                select(m.updates, m.outbox.c.sent_at).join(m.outbox, m.outbox.c.event_id == m.updates.c.event_id)
                .where(m.updates.c.call_id == call_id).order_by(m.updates.c.at)).all()
        return {
            "call_id": call_id,
            "revisions": [{"revision": r.revision, "event_id": r.event_id, "category": r.category,
                           "channel": r.channel, "code_table": r.code_table, "received_at": iso(r.received_at),
                           "accepted_at": iso(r.accepted_at), "published": r.sent_at is not None,
                           "published_at": iso(r.sent_at)} for r in revisions],
            "updates": [{"status": u.status, "at": iso(u.at), "event_id": u.event_id,
                         "published": u.sent_at is not None} for u in ups],
        }

    def referral_status(self, referral_id: str) -> dict | None:
        with self.sessions() as session:
            row = session.execute(
                select(m.referrals, m.outbox.c.sent_at).join(m.outbox, m.outbox.c.event_id == m.referrals.c.event_id)
                .where(m.referrals.c.referral_id == referral_id)).first()
        if row is None:
            return None
        return {**self._referral_body(row), "accepted_at": iso(row.accepted_at),
                "published": row.sent_at is not None}
