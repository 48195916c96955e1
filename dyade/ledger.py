"""The two event ledgers a service keeps in its own database, one shape for every service:

- `<service>_processed_events(event_id, topic, handled_at)`: the events its consumers handled. Delivery is
  at least once (the consumer kernel rewinds after a pause, intake republishes with the same event ids):
  a handler asks `first_seen` in the transaction of its effect, so that the effect and the record of the
  event are committed together, or neither; an event id seen before is dropped.
- `<service>_outbox(id, topic, key, value, event_type, created_at, sent_at)`: the events of a change,
  written by `enqueue` in the transaction of the change and published in `id` order by an `OutboxTable`
  relay (dyade.outbox). A row without a value is a tombstone on a compacted topic.

Intake's outbox is not this one: it keeps each event's id, partition and offset to restore a broker that
lost its history (services/intake/adapters/outbox.py).
"""
from __future__ import annotations

from functools import cache
from typing import Iterable, Sequence, TypeVar

from sqlalchemy import (Column, DateTime, Index, Integer, LargeBinary, MetaData, String, Table, cast, delete, func,
                        literal, select)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from dyade.clock import utcnow
from dyade.contracts import Event, topic_for
from dyade.db import insert_ignore_returning, insert_ignoring_duplicates
from dyade.kafka import Record, key_of
from dyade.outbox import OutboxRelay

E = TypeVar("E", bound=Event)
TS = DateTime(timezone=True)


# --- what was handled ---------------------------------------------------------------------------------------
def processed_events(service: str, metadata: MetaData) -> Table:
    return Table(
        f"{service}_processed_events", metadata,
        Column("event_id", String(36), primary_key=True),
        Column("topic", String(100)),  # NULL: handled before the ledger kept the topic
        Column("handled_at", TS, nullable=False),
    )


@cache
def _topic_name(event_type: type[Event]) -> str | None:
    try:
        return topic_for(event_type).name
    except KeyError:  # an event no topic declares: kept all the same
        return None


def first_seen(session: Session, ledger: Table, events: Iterable[E]) -> list[E]:
    """The events never handled before, in their order (an id twice in `events` counts once), recorded as
    handled in the session's transaction. Two consumers racing on one event: the second waits for the
    first's transaction and, once it commits, sees the event as handled."""
    unique: dict[str, E] = {}
    for event in events:
        unique.setdefault(str(event.event_id), event)
    if not unique:
        return []
    new = _recorded(session, ledger, {event_id: _topic_name(type(e)) for event_id, e in unique.items()})
    return [e for event_id, e in unique.items() if event_id in new]


def _recorded(session: Session, ledger: Table, topics: dict[str, str | None]) -> set[str]:
    """INSERT ... ON CONFLICT DO NOTHING of these event ids (and their topics): the ids actually inserted."""
    now = utcnow()
    if session.get_bind().dialect.name != "postgresql":
        rows = [{"event_id": event_id, "topic": topic, "handled_at": now} for event_id, topic in topics.items()]
        return insert_ignore_returning(session, ledger, rows, ledger.c.event_id)
    # one statement for a whole batch, the ids passed as arrays: a multi-row VALUES per thousand rows made a
    # rebuild of analytics half again as slow
    given = func.unnest(cast(list(topics), ARRAY(String)), cast(list(topics.values()), ARRAY(String))) \
        .table_valued("event_id", "topic").render_derived("given")
    rows = select(given.c.event_id, given.c.topic, literal(now, TS))
    stmt = insert_ignoring_duplicates(session, ledger).from_select(["event_id", "topic", "handled_at"], rows)
    return set(session.scalars(stmt.returning(ledger.c.event_id)))


def first_time(session: Session, ledger: Table, event: Event) -> bool:
    """Whether this event was never handled before; it is recorded as handled (see `first_seen`)."""
    return bool(first_seen(session, ledger, [event]))


# --- what is to be published ----------------------------------------------------------------------------------
def outbox(service: str, metadata: MetaData) -> Table:
    table = Table(
        f"{service}_outbox", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("topic", String(100), nullable=False),
        Column("key", String(100), nullable=False),
        Column("value", LargeBinary),  # None: a tombstone
        Column("event_type", String(64)),  # None: a tombstone
        Column("created_at", TS, nullable=False),
        Column("sent_at", TS),
    )
    Index(f"ix_{service}_outbox_unsent", table.c.sent_at, table.c.id)
    return table


def prune(session: Session, *, outbox_table: Table, processed: Table, sent_before, processed_before) -> int:
    """Forgets outbox rows published before `sent_before`, and handled event ids older than `processed_before`
    (past the input topics' retention, no redelivery can bring them back)."""
    a = session.execute(delete(outbox_table).where(outbox_table.c.sent_at.is_not(None),
                                                   outbox_table.c.sent_at < sent_before)).rowcount
    b = session.execute(delete(processed).where(processed.c.handled_at < processed_before)).rowcount
    return (a or 0) + (b or 0)


def enqueue(session: Session, row: type, event: Event) -> None:
    """The event, to be published once the session's transaction commits (and only if it does); `row`: the
    service's class mapped to its outbox (added to the session: the flush writes a transaction's rows in one go)."""
    topic = topic_for(type(event))
    session.add(row(topic=topic.name, key=key_of(event, topic).decode()[:100], value=event.to_bytes(),
                    event_type=event.TYPE, created_at=utcnow()))


def enqueue_tombstone(session: Session, row: type, topic: str, key: str) -> None:
    """Removes `key` from a compacted topic once the session's transaction commits."""
    session.add(row(topic=topic, key=key[:100], value=None, event_type=None, created_at=utcnow()))


class OutboxTable(OutboxRelay):
    """Publishes a `<service>_outbox` table in order, one relay at a time (`lock_key`: an advisory lock)."""

    def records(self, session: Session, rows: Sequence) -> list[Record]:
        return [Record(row.topic, row.key.encode(), row.value,
                       [("type", row.event_type.encode())] if row.event_type else []) for row in rows]
