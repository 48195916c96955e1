"""Roster adapter: dyads, sectors, busy dyads and device subscriptions in the database, turned into
the domain's values for routing."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from services.notifier.domain.roster import MONTREAL, Adjacency, Dyad, Shift, parse_time
from services.notifier.adapters.models import BusyRow, DyadRow, SectorRow


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
    for row in session.scalars(select(SectorRow)):
        merged[row.sector] = tuple(row.neighbours)
    session.info["notifier.adjacency"] = Adjacency(merged)
    return session.info["notifier.adjacency"]


def dyads_in(session: Session, sectors: list[str], tz: ZoneInfo = MONTREAL) -> list[Dyad]:
    if not sectors:
        return []
    return [to_dyad(r, tz) for r in session.scalars(select(DyadRow).where(DyadRow.sector.in_(sectors)))]


def on_duty(session: Session, dyad_id: str | None, at: datetime, tz: ZoneInfo = MONTREAL) -> bool:
    row = session.get(DyadRow, dyad_id) if dyad_id else None
    return row is not None and to_dyad(row, tz).on_duty(at)


def busy_dyads(session: Session, dyad_ids: list[str] | None = None) -> set[str]:
    q = select(BusyRow.dyad_id)
    if dyad_ids is not None:
        q = q.where(BusyRow.dyad_id.in_(dyad_ids))
    return set(session.scalars(q))


def set_busy(session: Session, dyad_id: str, call_id: str, now: datetime) -> None:
    if session.get(BusyRow, (dyad_id, call_id)) is None:
        session.add(BusyRow(dyad_id=dyad_id, call_id=call_id, since=now))


def dispatched_to(session: Session, call_id: str) -> str | None:
    """The dyad last made busy with the call, if one still is."""
    return session.scalars(select(BusyRow.dyad_id).where(BusyRow.call_id == call_id)
                           .order_by(BusyRow.since.desc()).limit(1)).first()


def clear_busy(session: Session, *, call_id: str, dyad_id: str | None = None) -> None:
    q = delete(BusyRow).where(BusyRow.call_id == call_id)
    if dyad_id:
        q = q.where(BusyRow.dyad_id == dyad_id)
    session.execute(q)
