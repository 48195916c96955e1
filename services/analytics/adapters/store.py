"""Writes events into analytics' fact tables (idempotent, by batch) and reads the facts back.

`apply(session, events)` drops events already processed (by event id, in the batch and in the ledger of
dyade.ledger), then inserts their facts; a call's later revision replaces the earlier one, never the reverse.

Every instant is written in UTC (`_utc`), converted from the offset the source gave: the contracts carry
aware datetimes (intake's `received_at` keeps the dispatch system's offset, −05:00 or −07:00), and the
figures compare instants, never wall times. A call also keeps when intake published it (the envelope's
`produced_at`, of its earliest revision seen) and whether its source marked it as a replay.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable, Sequence

from sqlalchemy import JSON, delete, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from dyade.contracts import Event
from dyade.db import insert_ignoring_duplicates
from dyade.ledger import first_seen
from dyade.contracts.alerts import AlertChanged
from dyade.contracts.calls import CallReceived, CallUpdated
from dyade.contracts.frames import FrameChanged
from dyade.contracts.referrals import ReferralFiled, ReferralStatusChanged
from dyade.contracts.topics import (
    ALERTS_CHANGED, CALLS_RECEIVED, CALLS_UPDATED, FRAMES_CHANGED, REFERRALS_FILED, REFERRALS_STATUS, TRIAGE_DECIDED,
)
from dyade.contracts.triage import TriageDecided
from services.analytics.adapters import models as m
from services.analytics.domain.facts import (
    AlertEventFact, CallFact, CallUpdateFact, DecisionFact, Facts, FrameEventFact, ReferralEventFact, says_replay,
)
from services.analytics.adapters.models import to_utc as _utc

# The topics analytics reads (names only from the contracts).
TOPICS = (CALLS_RECEIVED, CALLS_UPDATED, TRIAGE_DECIDED, REFERRALS_FILED, REFERRALS_STATUS, FRAMES_CHANGED,
          ALERTS_CHANGED)
CHUNK = 1000
COPY_FROM = 50  # rows: from this many on, PostgreSQL inserts go through COPY


def _insert(session: Session | Connection, table, rows: list[dict]):
    """INSERT ... ON CONFLICT DO NOTHING, for PostgreSQL and SQLite alike."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name if isinstance(session, Session) else session.dialect.name
    if dialect == "postgresql" and len(rows) >= COPY_FROM:
        _copy_insert(session, table, rows)
        return
    session.execute(insert_ignoring_duplicates(session, table), rows)


def _copy_insert(session: Session, table, rows: list[dict]) -> None:
    """PostgreSQL, many rows: COPY into a temporary table, then INSERT ... SELECT ... ON CONFLICT DO NOTHING
    (several times faster than multi-row INSERT for a rebuild)."""
    from psycopg.types.json import Json
    names = [c.name for c in table.columns]
    json_cols = {c.name for c in table.columns if isinstance(c.type, JSON)}
    temp = f"tmp_{table.name}"
    dbapi = session.connection().connection.driver_connection
    with dbapi.cursor() as cur:
        cur.execute(f'CREATE TEMP TABLE IF NOT EXISTS "{temp}" (LIKE "{table.name}") ON COMMIT DELETE ROWS')
        cur.execute(f'TRUNCATE "{temp}"')
        cols = ", ".join(f'"{n}"' for n in names)
        with cur.copy(f'COPY "{temp}" ({cols}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([Json(row.get(n)) if n in json_cols else row.get(n) for n in names])
        cur.execute(f'INSERT INTO "{table.name}" ({cols}) SELECT {cols} FROM "{temp}" ON CONFLICT DO NOTHING')


def _among(session: Session, column, values: list[str]):
    """`column IN values`; on PostgreSQL as `= ANY(array)`, which keeps to the primary-key index where a long
    IN list was planned as a sequential scan once the table had grown (seconds per batch)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import String, any_, cast
        from sqlalchemy.dialects.postgresql import ARRAY
        return column == any_(cast(values, ARRAY(String)))
    return column.in_(values)


def _chunks(seq: Sequence, n: int = CHUNK):
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def apply(session: Session, events: Iterable[Event]) -> int:
    """Store the facts of new events; returns how many were new."""
    new = first_seen(session, m.processed, events)
    if not new:
        return 0
    _apply_calls(session, [e for e in new if isinstance(e, CallReceived)])
    rows: dict = {m.call_updates: [], m.decisions: [], m.alert_events: [], m.referral_events: [], m.frame_events: []}
    for e in new:
        if isinstance(e, CallUpdated):
            p = e.payload
            rows[m.call_updates].append(dict(event_id=str(e.event_id), call_id=p.call_id, occurred_at=_utc(e.occurred_at),
                                             status=p.status.value, disposition=p.disposition and p.disposition.value,
                                             dyad_id=p.dyad_id, sector=p.sector, person_keys=list(p.person_keys)))
        elif isinstance(e, TriageDecided):
            p = e.payload
            rows[m.decisions].append(dict(decision_id=p.decision_id, call_id=p.call_id, call_revision=p.call_revision,
                                          level=p.level.value, sector=p.sector, category=p.category.value,
                                          call_received_at=_utc(p.call_received_at), decided_at=_utc(e.produced_at),
                                          grande_utilisatrice=p.recurrence.grande_utilisatrice,
                                          person_keys=list(p.person_keys)))
        elif isinstance(e, AlertChanged):
            p = e.payload
            rows[m.alert_events].append(dict(event_id=str(e.event_id), alert_id=p.alert_id, kind=p.kind.value,
                                             state=p.state.value, call_id=p.call_id, person_key=p.person_key,
                                             dyad_id=p.dyad_id, sector=p.sector, level=p.level and p.level.value,
                                             shift=p.shift, occurred_at=_utc(e.occurred_at),
                                             call_received_at=_utc(p.call_received_at)))
        elif isinstance(e, ReferralFiled):
            p = e.payload
            rows[m.referral_events].append(dict(event_id=str(e.event_id), referral_id=p.referral_id,
                                                person_key=p.person_key, kind="filed", status="recue",
                                                referrer_type=p.referrer_type.value,
                                                criteria=[c.value for c in p.criteria], occurred_at=_utc(e.occurred_at),
                                                received_at=_utc(e.occurred_at), first_contact_at=None))
        elif isinstance(e, ReferralStatusChanged):
            p = e.payload
            rows[m.referral_events].append(dict(event_id=str(e.event_id), referral_id=p.referral_id,
                                                person_key=p.person_key, kind="status", status=p.status.value,
                                                referrer_type=p.referrer_type and p.referrer_type.value,
                                                criteria=[c.value for c in p.criteria], occurred_at=_utc(e.occurred_at),
                                                received_at=_utc(p.received_at),
                                                first_contact_at=_utc(p.first_contact_at)))
        elif isinstance(e, FrameChanged):
            p = e.payload
            rows[m.frame_events].append(dict(event_id=str(e.event_id), frame_id=p.frame_id, person_key=p.person_key,
                                             change=p.change, version=p.version, first_activation=p.first_activation,
                                             occurred_at=_utc(e.occurred_at)))
    for table, table_rows in rows.items():
        for chunk in _chunks(table_rows):
            _insert(session, table, chunk)
    return len(new)


def _ingest_of(e: CallReceived) -> tuple[datetime, bool]:
    """When intake published this revision, and whether its source marked it as a replay (the envelope's
    `source`, the payload's `source_system`, or a `channel` should the contract carry one)."""
    p = e.payload
    return _utc(e.produced_at), says_replay(e.source, p.source_system, getattr(p, "channel", None))


def _apply_calls(session: Session, events: list[CallReceived]) -> None:
    """Keep each call's highest revision (its persons replaced with it), and the publication time and replay
    mark of the earliest revision seen: a call revised hours later was still received live."""
    latest: dict[str, CallReceived] = {}
    first_ingest: dict[str, tuple[datetime, bool]] = {}
    for e in events:
        cur = latest.get(e.payload.call_id)
        if cur is None or e.payload.revision > cur.payload.revision:
            latest[e.payload.call_id] = e
        ingest = _ingest_of(e)
        seen = first_ingest.get(e.payload.call_id)
        if seen is None or ingest[0] < seen[0]:
            first_ingest[e.payload.call_id] = ingest
    existing: dict[str, tuple[int, datetime | None, bool]] = {}
    for chunk in _chunks(list(latest)):
        rows = session.execute(select(m.calls.c.call_id, m.calls.c.revision, m.calls.c.ingested_at, m.calls.c.replayed)
                               .where(_among(session, m.calls.c.call_id, chunk)))
        existing.update({call_id: (revision, ingested, bool(replayed)) for call_id, revision, ingested, replayed in rows})

    def earliest(call_id: str) -> tuple[datetime, bool]:
        mine = first_ingest[call_id]
        old = existing.get(call_id)
        if old is not None and old[1] is not None and _utc(old[1]) <= mine[0]:
            return _utc(old[1]), old[2]
        return mine

    winners = [e for k, e in latest.items() if k not in existing or e.payload.revision > existing[k][0]]
    replaced = [e.payload.call_id for e in winners if e.payload.call_id in existing]
    for chunk in _chunks(replaced):
        session.execute(delete(m.calls).where(m.calls.c.call_id.in_(chunk)))
        session.execute(delete(m.call_persons).where(m.call_persons.c.call_id.in_(chunk)))
    won = {e.payload.call_id for e in winners}
    for call_id, (old_revision, old_ingested, _) in existing.items():  # an older revision, read late
        if call_id not in won and (old_ingested is None or first_ingest[call_id][0] < _utc(old_ingested)):
            ingested, replayed = first_ingest[call_id]
            session.execute(m.calls.update().where(m.calls.c.call_id == call_id)
                            .values(ingested_at=ingested, replayed=replayed))
    call_rows, person_rows = [], []
    for e in winners:
        p = e.payload
        ingested, replayed = earliest(p.call_id)
        call_rows.append(dict(call_id=p.call_id, revision=p.revision, received_at=_utc(e.occurred_at),
                              category=p.category.value, nature_code=p.nature_code, priority=p.priority,
                              location_key=p.location.location_key, address=p.location.address,
                              sector=p.location.sector, caller_relation=p.caller_relation.value,
                              ingested_at=ingested, replayed=replayed))
        roles: dict[str, str] = {}
        for person in p.persons:  # a person named twice keeps the first role given
            roles.setdefault(person.person_key, person.role.value)
        person_rows += [dict(call_id=p.call_id, person_key=k, role=r) for k, r in roles.items()]
    for chunk in _chunks(call_rows):
        _insert(session, m.calls, chunk)
    for chunk in _chunks(person_rows):
        _insert(session, m.call_persons, chunk)


def reset(session: Session) -> None:
    """Empty every analytics table (before a rebuild). PostgreSQL: TRUNCATE, which leaves no dead rows
    behind to slow the replay down."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("TRUNCATE " + ", ".join(t.name for t in m.FACT_TABLES)))
        return
    for table in reversed(m.FACT_TABLES):
        session.execute(delete(table))


def load_facts(session: Session) -> Facts:
    """Every fact, as domain records."""
    persons: dict[str, list[tuple[str, str]]] = {}
    for call_id, key, role in session.execute(select(m.call_persons.c.call_id, m.call_persons.c.person_key,
                                                     m.call_persons.c.role)):
        persons.setdefault(call_id, []).append((key, role))
    calls = [CallFact(call_id=r.call_id, received_at=_utc(r.received_at), category=r.category,
                      nature_code=r.nature_code, location_key=r.location_key, address=r.address, sector=r.sector,
                      priority=r.priority, caller_relation=r.caller_relation,
                      persons=tuple(sorted(persons.get(r.call_id, ()))), ingested_at=_utc(r.ingested_at),
                      replayed=bool(r.replayed))
             for r in session.execute(select(m.calls))]
    updates = [CallUpdateFact(call_id=r.call_id, occurred_at=_utc(r.occurred_at), status=r.status,
                              disposition=r.disposition, dyad_id=r.dyad_id, sector=r.sector,
                              person_keys=tuple(r.person_keys or ()))
               for r in session.execute(select(m.call_updates))]
    decisions = [DecisionFact(decision_id=r.decision_id, call_id=r.call_id, level=r.level,
                              call_received_at=_utc(r.call_received_at), decided_at=_utc(r.decided_at),
                              sector=r.sector, call_revision=r.call_revision)
                 for r in session.execute(select(m.decisions))]
    alerts = [AlertEventFact(alert_id=r.alert_id, state=r.state, occurred_at=_utc(r.occurred_at), kind=r.kind,
                             call_id=r.call_id, person_key=r.person_key, dyad_id=r.dyad_id, sector=r.sector,
                             shift=r.shift, call_received_at=_utc(r.call_received_at))
              for r in session.execute(select(m.alert_events))]
    referrals = [ReferralEventFact(referral_id=r.referral_id, person_key=r.person_key, kind=r.kind,
                                   occurred_at=_utc(r.occurred_at), status=r.status, referrer_type=r.referrer_type,
                                   criteria=tuple(r.criteria or ()), received_at=_utc(r.received_at),
                                   first_contact_at=_utc(r.first_contact_at))
                 for r in session.execute(select(m.referral_events))]
    frames = [FrameEventFact(frame_id=r.frame_id, person_key=r.person_key, change=r.change, version=r.version,
                             occurred_at=_utc(r.occurred_at), first_activation=r.first_activation)
              for r in session.execute(select(m.frame_events))]
    return Facts(calls=calls, updates=updates, decisions=decisions, alerts=alerts, referrals=referrals, frames=frames)
