"""The services' uvicorn server (dyade/service.py `Server`): its housekeeping tick turns once a second, and a stop
is heard at once rather than at the next tick."""
from __future__ import annotations

import asyncio

import uvicorn
from fastapi import FastAPI

from dyade.broker import free_port
from dyade.service import Server


def server() -> Server:
    return Server(uvicorn.Config(FastAPI(), host="127.0.0.1", port=free_port(), log_config=None, lifespan="off"))


async def test_the_tick_counts_a_second_each_time_so_the_date_header_is_refreshed_every_tick(monkeypatch):
    s, ticks = server(), []

    async def on_tick(counter: int) -> bool:
        ticks.append(counter)
        return len(ticks) == 3

    async def no_wait(awaitable, timeout):
        awaitable.close()
        raise asyncio.TimeoutError
    monkeypatch.setattr(s, "on_tick", on_tick)
    monkeypatch.setattr(asyncio, "wait_for", no_wait)
    await s.main_loop()
    assert ticks == [0, 10, 20]   # on_tick refreshes the Date header when counter % 10 == 0


async def test_a_stop_wakes_the_server_before_its_next_tick():
    s = server()
    serving = asyncio.ensure_future(s.serve())
    while not s.started:
        await asyncio.sleep(0.01)
    woken = s._woken
    s.stop()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert woken.is_set()          # the wait for the next tick ends now, not in up to a second
    await asyncio.wait_for(serving, timeout=10)
