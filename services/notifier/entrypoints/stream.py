"""Live stream of alert changes to the field app (Server-Sent Events). Each message's `id` is the
cursor; a client that reconnects with Last-Event-ID (or `?cursor=`) gets everything it missed. The
stream also re-reads a short window behind its cursor, from the first read on (behind the client's own
cursor too), because on PostgreSQL a change can commit after one with a higher id: a change the client
already had may come again, which is harmless (the app upserts the alert's current summary)."""
from __future__ import annotations

import asyncio

import orjson
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import bindparam, func, or_, select
from starlette.concurrency import run_in_threadpool

from dyade.auth import Principal, requires

from services.notifier.adapters import alerts
from services.notifier.entrypoints import views
from services.notifier.entrypoints.deps import FIELD, lang_of, notifier, own_dyad
from services.notifier.adapters.models import AlertEventRow, AlertRow, utc

stream_router = APIRouter(prefix="/v1", tags=["notifier"])
WINDOW = 200
KEEPALIVE_S = 15.0
# built once (building a statement costs as much as sending it): the ids of the changes past a cursor (all,
# or a dyad's), then those changes with their alerts
CHANGES_PAST = select(AlertEventRow.id).where(AlertEventRow.id > bindparam("past")).order_by(AlertEventRow.id) \
    .limit(1000)
DYAD_CHANGES_PAST = CHANGES_PAST.where(or_(AlertEventRow.dyad_id == bindparam("dyad_id"),
                                           AlertEventRow.previous_dyad_id == bindparam("dyad_id")))
CHANGES_WITH_ALERTS = select(AlertEventRow, AlertRow).join(AlertRow, AlertRow.alert_id == AlertEventRow.alert_id) \
    .where(AlertEventRow.id.in_(bindparam("ids", expanding=True))).order_by(AlertEventRow.id)


def _cursor_now(n) -> int:
    with n.sessions() as session:
        return session.scalar(select(func.max(AlertEventRow.id))) or 0


def _fetch(n, after: int, sent: set[int], dyad_id: str | None, lang: str) -> list[tuple[int, dict]]:
    """Changes past the cursor, plus late commits in the window behind it not sent on this connection."""
    with n.sessions() as session:
        ids = session.scalars(DYAD_CHANGES_PAST if dyad_id else CHANGES_PAST,
                              {"past": after - WINDOW, "dyad_id": dyad_id})
        unseen = [i for i in ids if i not in sent]   # ids only: cheap
        if not unseen:
            return []
        changes = session.execute(CHANGES_WITH_ALERTS, {"ids": unseen}).all()   # each change with its alert
        rows = [r for r, _ in changes]
        found = {a.alert_id: a for _, a in changes}
        summaries = {s["alert_id"]: s for s in views.summaries(session, list(found.values()), lang=lang, tz=n.config.tz)}
        return [(r.id, {"cursor": r.id,
                        "change": {"state": r.state, "previous": r.previous, "reason": r.reason,
                                   "dyad_id": r.dyad_id, "previous_dyad_id": r.previous_dyad_id,
                                   "at": utc(r.occurred_at).isoformat()},
                        "alert": summaries[r.alert_id]}) for r in rows]


def _mark_delivered(n, alert_ids: list[str], dyad_id: str) -> None:
    with n.work() as session:   # one transaction for the batch the client just received
        for alert_id in alert_ids:
            alerts.mark_delivered(session, alert_id, dyad_id, now=n.clock(), channel="application")


@stream_router.get("/stream", summary="Flux en direct (SSE); reprise avec Last-Event-ID ou ?cursor=")
async def stream(request: Request, cursor: int | None = None,
                 last_event_id: str | None = Header(None, alias="Last-Event-ID"),
                 principal: Principal = Depends(requires(*FIELD))):
    n = notifier(request)
    dyad_id = own_dyad(principal)
    lang = lang_of(request)
    if last_event_id and last_event_id.isdigit():
        start = int(last_event_id)
    elif cursor is not None:
        start = max(0, cursor)
    else:
        start = await run_in_threadpool(_cursor_now, n)

    async def messages():
        wake = n.hub.subscribe()
        pos, sent = start, set()
        try:
            yield f"retry: 2000\n: curseur {pos}\n\n".encode()
            while True:
                wake.clear()
                batch = await run_in_threadpool(_fetch, n, pos, sent, dyad_id, lang)
                to_mark = []
                for row_id, data in batch:
                    yield b"id: %d\nevent: alert\ndata: %s\n\n" % (row_id, orjson.dumps(data))
                    sent.add(row_id)
                    pos = max(pos, row_id)
                    alert = data["alert"]
                    if dyad_id and alert["dyad_id"] == dyad_id and alert["state"] in ("created", "escalated"):
                        to_mark.append(alert["alert_id"])
                sent = {i for i in sent if i > pos - WINDOW}
                if to_mark:
                    await run_in_threadpool(_mark_delivered, n, sorted(set(to_mark)), dyad_id)
                if await request.is_disconnected():
                    return
                try:
                    await asyncio.wait_for(wake.wait(), KEEPALIVE_S)
                except asyncio.TimeoutError:
                    yield b": ping\n\n"
        finally:
            n.hub.unsubscribe(wake)

    return StreamingResponse(messages(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
