"""Roster adapter: dyads, sectors, busy dyads and device subscriptions in the database, turned into
the domain's values for routing."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, delete, exists, select
from sqlalchemy.orm import Session

from services.notifier.domain.roster import MONTREAL, Adjacency, Dyad, Shift, parse_time
from services.notifier.adapters.models import BusyRow, DyadRow, SectorRow


ROSTER, DISPATCHED = "notifier.roster", "notifier.dispatched"   # read once per transaction (`in_transaction`)
SECTORS = select(SectorRow.sector, SectorRow.neighbours)
# the dyads of some sectors, each with whether it is busy (built once: building a statement costs as much as
# sending it)
DYADS_OF_SECTORS = select(DyadRow.dyad_id, DyadRow.sector, DyadRow.shifts, DyadRow.active,
                          exists().where(BusyRow.dyad_id == DyadRow.dyad_id).label("busy")) \
    .where(DyadRow.sector.in_(bindparam("sectors", expanding=True)))


def in_transaction(session: Session, key: str) -> dict:
    """What was read under `key` in the session's current transaction (a consumed batch): kept in
    session.info, forgotten once the transaction ends."""
    transaction = session.get_transaction()
    held = session.info.get(key)
    if held is None or held[0] is not transaction:
        held = session.info[key] = (transaction, {})
    return held[1]


def to_dyad(row: DyadRow, tz: ZoneInfo = MONTREAL) -> Dyad:
    shifts = tuple(Shift(tuple(s["days"]), parse_time(s["start"]), parse_time(s["end"])) for s in row.shifts)
    if shifts:
        return Dyad(row.dyad_id, row.sector, shifts, row.active, tz=tz)
    return Dyad(row.dyad_id, row.sector, active=row.active, tz=tz)


def adjacency(session: Session, default: Adjacency) -> Adjacency:
    """Configured neighbours overridden by the API's; read once per transaction (a consumed batch)."""
    cached = session.info.get("notifier.adjacency")
    if cached is not None:
        return cached
    merged = dict(default.neighbours)
    for sector, neighbours in session.execute(SECTORS):
        merged[sector] = tuple(neighbours)
    session.info["notifier.adjacency"] = Adjacency(merged)
    return session.info["notifier.adjacency"]


def dyads_in(session: Session, sectors: list[str], tz: ZoneInfo = MONTREAL) -> list[Dyad]:
    return available(session, sectors, tz)[0]


def available(session: Session, sectors: list[str], tz: ZoneInfo = MONTREAL) -> tuple[list[Dyad], set[str]]:
    """The dyads of these sectors and which of them are busy, in one read; read once per transaction (a
    consumed batch) for the same sectors, and again once the session made a dyad busy or free
    (`set_busy`, `clear_busy`). The roster itself changes through the API, in its own transactions."""
    if not sectors:
        return [], set()
    cache = in_transaction(session, ROSTER)
    key = (tuple(sectors), tz)
    if key not in cache:
        rows = session.execute(DYADS_OF_SECTORS, {"sectors": list(sectors)}).all()
        cache[key] = ([to_dyad(r, tz) for r in rows], {r.dyad_id for r in rows if r.busy})
    dyads, busy = cache[key]
    return list(dyads), set(busy)


def already_read(session: Session, dyad_id: str, tz: ZoneInfo | None = None) -> Dyad | None:
    """The dyad as `available` read it in this transaction (in the time zone `tz`, if given), if it did."""
    for (_, read_in), (dyads, _) in in_transaction(session, ROSTER).items():
        if tz is None or read_in == tz:
            for dyad in dyads:
                if dyad.dyad_id == dyad_id:
                    return dyad
    return None


def on_duty(session: Session, dyad_id: str | None, at: datetime, tz: ZoneInfo = MONTREAL) -> bool:
    if not dyad_id:
        return False
    dyad = already_read(session, dyad_id, tz)
    if dyad is None:
        row = session.get(DyadRow, dyad_id)
        dyad = to_dyad(row, tz) if row is not None else None
    return dyad is not None and dyad.on_duty(at)


def busy_dyads(session: Session, dyad_ids: list[str] | None = None) -> set[str]:
    q = select(BusyRow.dyad_id)
    if dyad_ids is not None:
        q = q.where(BusyRow.dyad_id.in_(dyad_ids))
    return set(session.scalars(q))


def set_busy(session: Session, dyad_id: str, call_id: str, now: datetime) -> None:
    if session.get(BusyRow, (dyad_id, call_id)) is None:
        session.add(BusyRow(dyad_id=dyad_id, call_id=call_id, since=now))
    _busy_changed(session, call_id)


def dispatched_to(session: Session, call_id: str) -> str | None:
    """The dyad last made busy with the call, if one still is (known from `know_dispatched` for a batch's
    calls, else read)."""
    known = in_transaction(session, DISPATCHED)
    if call_id in known:
        return known[call_id]
    return session.scalars(select(BusyRow.dyad_id).where(BusyRow.call_id == call_id)
                           .order_by(BusyRow.since.desc()).limit(1)).first()


def know_dispatched(session: Session, call_ids: list[str], rows: list[tuple[str, str, datetime]]) -> None:
    """What `dispatched_to` answers for these calls in this transaction, from their busy rows (call_id,
    dyad_id, since) read once for a consumed batch, until the session makes a dyad busy with one or frees it."""
    latest: dict[str, tuple] = {}
    for call_id, dyad_id, since in rows:
        if call_id not in latest or since > latest[call_id][1]:
            latest[call_id] = (dyad_id, since)
    known = in_transaction(session, DISPATCHED)
    for call_id in call_ids:
        known[call_id] = latest[call_id][0] if call_id in latest else None


def clear_busy(session: Session, *, call_id: str, dyad_id: str | None = None) -> None:
    q = delete(BusyRow).where(BusyRow.call_id == call_id)
    if dyad_id:
        q = q.where(BusyRow.dyad_id == dyad_id)
    session.execute(q)
    _busy_changed(session, call_id)


def _busy_changed(session: Session, call_id: str) -> None:
    """The session made a dyad busy with the call or free: the roster and the call's dyad are read again."""
    in_transaction(session, ROSTER).clear()
    in_transaction(session, DISPATCHED).pop(call_id, None)
