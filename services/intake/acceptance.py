"""Accepting what the outside sends: one transaction stores the idempotency record and the event in
the outbox; the answer is given only after that commit. HTTP, the raw topic, EIDO and batches all come
through here."""
from __future__ import annotations

import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from pydantic import ValidationError
from sqlalchemy import func, select, tuple_
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from dyade.contracts import Event, topic_for
from dyade.contracts.envelope import describe_validation_error
from dyade.contracts.inbound import CallSubmission, CallUpdateSubmission, PersonIdentity, ReferralSubmission
from dyade.db import unit_of_work
from dyade.kafka import key_of
from services.intake import models as m
from services.intake.code_tables import CodeTables
from services.intake.domain.calls import (InvalidSubmission, ResolvedLocation, call_received, call_updated,
                                          check_not_future, fingerprint, referral_filed)
from services.intake.domain.codes import UnknownCode
from services.intake.domain.eido import EidoError, map_eido
from services.intake.domain.identity import referrer_key
from services.intake.domain.locations import AddressError, block_level, location_key
from services.intake.persons import GroupRace, GroupResolver, PersonResolver, Resolution


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
    seen: dict[tuple[str, int], Any] = field(default_factory=dict)  # (call_id, revision) → row known or staged


CallItem = tuple[CallSubmission, str | None, str]  # submission, code table, channel


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


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

    @staticmethod
    def _outbox_row(event: Event, now: datetime) -> dict:
        topic = topic_for(type(event))
        return dict(event_id=str(event.event_id), topic=topic.name, msg_key=key_of(event, topic).decode()[:200],
                    event_type=event.TYPE, schema_version=event.VERSION, value=event.to_bytes(),
                    correlation_id=event.correlation_id[:64], created_at=now)

    def _enqueue(self, session: Session, event: Event, now: datetime) -> None:
        session.execute(m.outbox.insert().values(**self._outbox_row(event, now)))

    # --- calls
    def accept_call(self, sub: CallSubmission, *, code_table: str | None = None, channel: str = "http") -> Outcome:
        result = self.accept_calls([(sub, code_table, channel)])[0]
        if isinstance(result, Exception):
            raise result
        return result

    @contextmanager
    def _unit(self, bind: Connection | None):
        """A transaction on a new pooled session, or on the caller's own connection (the group writer
        keeps one: no pool checkout and no pre-ping per group)."""
        with unit_of_work(self.sessions, bind) as session:
            yield session

    def accept_calls(self, items: list[CallItem], bind: Connection | None = None) -> list[Outcome | Exception]:
        """A group of calls in ONE transaction (group commit): existing keys fetched in one query, rows
        written together. A domain refusal (InvalidSubmission, Conflict) is that item's result and writes
        nothing; a concurrent insert of the same key (IntegrityError) makes the group retry item by item."""
        if not items:
            return []
        try:
            results = self._accept_group(items, bind)
        except (IntegrityError, GroupRace):
            if len(items) == 1:
                results = self._accept_group(items, bind)  # the other writer committed: now a replay or a conflict
            else:
                results = [r for item in items for r in self._accept_group([item], bind)]
        if any(isinstance(r, Outcome) and not r.duplicate for r in results):
            self.on_commit()
        return results

    def _accept_group(self, items: list[CallItem], bind: Connection | None = None) -> list[Outcome | Exception]:
        staged = Staged()
        results: list[Outcome | Exception] = []
        with self._unit(bind) as session:
            now = utcnow()
            keys = list({(sub.call_id, sub.revision) for sub, _, _ in items})
            for row in session.execute(select(m.calls).where(tuple_(m.calls.c.call_id, m.calls.c.revision).in_(keys))):
                staged.seen[(row.call_id, row.revision)] = row
            resolver = GroupResolver(self.secret)
            resolver.prefetch(session, [p for sub, _, _ in items for p in sub.persons])
            for sub, table, channel in items:
                try:
                    results.append(self.accept_call_in(session, sub, code_table=table, channel=channel, now=now,
                                                       staged=staged, resolver=resolver))
                except (InvalidSubmission, Conflict) as exc:
                    results.append(exc)
            resolver.flush(session)
            if staged.outbox:
                session.execute(m.outbox.insert(), staged.outbox)
                session.execute(m.calls.insert(), staged.calls)
        return results

    def accept_call_in(self, session: Session, sub: CallSubmission, *, code_table: str | None, channel: str,
                       now: datetime | None = None, staged: Staged | None = None,
                       resolver: PersonResolver | GroupResolver | None = None) -> Outcome:
        """Accept one call in the caller's transaction. With `staged`, the existing keys are already in
        `staged.seen` and the rows are left for the caller to write; without, they are written here."""
        now = now or utcnow()
        check_not_future("received_at", sub.received_at, now)
        try:
            table = self.tables.get(code_table)
        except KeyError:
            raise InvalidSubmission("code_table", f"table de codes inconnue: {code_table!r} "
                                                  f"(connues: {', '.join(self.tables.names())})") from None
        fp = fingerprint(sub)[:56] + table.name[:8]
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
            return Outcome(self._call_body(existing), duplicate=True)
        try:
            category = table.category_of(sub.nature_code)
        except UnknownCode as exc:
            raise InvalidSubmission("nature_code", str(exc)) from None
        try:
            loc = ResolvedLocation(location_key(self.secret, sub.location.address), block_level(sub.location.address),
                                   sub.location.sector)
        except AddressError as exc:
            raise InvalidSubmission("location.address", str(exc)) from None
        refs, persons = [], []
        for person in sub.persons:
            res = (resolver or self.resolver).resolve(session, person, context="call", ref=sub.call_id, now=now,
                                                      record=False)
            refs.append(res.as_ref(person.role))
            persons.append({**res.as_json(), "role": person.role.value})
        event = call_received(sub, category=category, location=loc, persons=refs, source_system=table.source_system)
        row = dict(call_id=sub.call_id, revision=sub.revision, fingerprint=fp, event_id=str(event.event_id),
                   category=category.value, sector=loc.sector, location_key=loc.location_key, person_keys=persons,
                   channel=channel, code_table=table.name, received_at=utc(sub.received_at), accepted_at=now)
        if staged is not None:
            staged.outbox.append(self._outbox_row(event, now))
            staged.calls.append(row)
            staged.seen[(sub.call_id, sub.revision)] = row
        else:
            self._enqueue(session, event, now)
            session.execute(m.calls.insert().values(**row))
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

    # --- EIDO: revisions numbered by the EIDO's distinct lastUpdateTimeStamp
    def accept_eido(self, doc: Any, *, code_table: str | None) -> tuple[Outcome, int]:
        mapped = map_eido(doc)  # EidoError → 422 naming the JSON path

        def work(session: Session) -> Outcome:
            call_id = mapped.submission["call_id"]
            rev = session.execute(select(m.eido_versions.c.revision).where(
                m.eido_versions.c.call_id == call_id,
                m.eido_versions.c.version_stamp == mapped.version_stamp[:64])).scalar()
            if rev is None:
                last = session.execute(select(func.max(m.eido_versions.c.revision))
                                       .where(m.eido_versions.c.call_id == call_id)).scalar()
                rev = (last or 0) + 1
                session.execute(m.eido_versions.insert().values(call_id=call_id, revision=rev,
                                                                version_stamp=mapped.version_stamp[:64]))
            try:
                sub = CallSubmission.model_validate({**mapped.submission, "revision": rev})
            except ValidationError as exc:
                err = exc.errors()[0]
                raise EidoError("→".join(str(p) for p in err["loc"]), err["msg"]) from None
            return self.accept_call_in(session, sub, code_table=code_table, channel="eido")
        return self._transact(work), mapped.skipped_persons

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
            return Outcome(self._referral_body(row), duplicate=False)
        return self._transact(work)

    @staticmethod
    def _referral_body(row) -> dict:
        get = row.get if isinstance(row, dict) else row._mapping.get
        return {"status": "accepted", "referral_id": get("referral_id"), "event_id": get("event_id"),
                "person_key": get("person_key"), "match": get("match"), "confidence": round(get("confidence"), 3)}

    # --- persons
    def resolve_person(self, person: PersonIdentity, subject: str) -> Resolution:
        with unit_of_work(self.sessions) as session:
            return self.resolver.resolve(session, person, context="resolve", ref=subject[:64], now=utcnow())

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
