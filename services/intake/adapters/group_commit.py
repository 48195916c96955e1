"""Group commit for single calls: HTTP requests hand their call to a writer thread (one by default:
measured, a second one only adds contention on 2 cores), which accepts everything waiting (up to
`max_group`) in one transaction and answers each request after the commit. Under load a commit serves
many calls; alone, a call waits for nobody. Two calls racing to create the same person are sorted out by
the group's retry (see Intake.accept_calls), and one call's failure is that call's answer only: the others
of its group are accepted (each in its own SAVEPOINT when the group's transaction failed)."""
from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from typing import Any

from dyade.db import describe_db_error
from services.intake.adapters.acceptance import CallItem, Intake, Outcome

log = logging.getLogger("intake.group")


class GroupWriter:
    def __init__(self, intake: Intake, max_group: int = 128, threads: int = 1):
        self.intake = intake
        self.max_group = max_group
        self.threads: list[threading.Thread] = []
        self.n_threads = threads
        self.pending: queue.Queue[tuple[CallItem, Any] | None] = queue.Queue()
        self.groups = 0
        self.calls = 0
        self.busy_s = 0.0

    def start(self) -> "GroupWriter":
        for i in range(self.n_threads):
            t = threading.Thread(target=self._run, name=f"intake-group-writer-{i}", daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        for _ in self.threads:
            self.pending.put(None)
        for t in self.threads:
            t.join(timeout)

    @property
    def alive(self) -> bool:
        return bool(self.threads) and all(t.is_alive() for t in self.threads)

    async def submit(self, item: CallItem) -> Outcome:
        """Accept one call; raises what accept_call raises (InvalidSubmission, Conflict...)."""
        if not self.alive:  # not started (tests driving the app without its lifespan): do it inline
            return await asyncio.to_thread(self.intake.accept_call, item[0], code_table=item[1], channel=item[2])
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.pending.put((item, (loop, future)))
        return await future

    def _run(self) -> None:
        stop = False
        conn = None  # this thread's own connection, kept across groups
        while not stop:
            first = self.pending.get()
            if first is None:
                break
            group = [first]
            while len(group) < self.max_group:
                try:
                    nxt = self.pending.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                group.append(nxt)
            t0 = time.perf_counter()
            try:
                if conn is None:
                    conn = self.intake.sessions.kw["bind"].connect()
                results: list[Any] = self.intake.accept_calls([item for item, _ in group], bind=conn)
            except Exception as exc:  # database lost: every call of the group gets the error (503 → retry);
                # anything else is one call's own result (Intake.accept_calls isolates each call)
                log.warning("group commit failed", extra={"error": describe_db_error(exc), "calls": len(group)})
                results = [exc] * len(group)
                if conn is not None:  # a fresh (pre-pinged) connection for the next group
                    try:
                        conn.invalidate()
                        conn.close()
                    except Exception:
                        pass
                    conn = None
            self.busy_s += time.perf_counter() - t0
            self.groups += 1
            self.calls += len(group)
            for (_, (loop, future)), result in zip(group, results):
                loop.call_soon_threadsafe(_settle, future, result)
        if conn is not None:
            conn.close()
        while True:  # refuse what arrived after stop
            try:
                left = self.pending.get_nowait()
            except queue.Empty:
                break
            if left is not None:
                loop, future = left[1]
                loop.call_soon_threadsafe(_settle, future, RuntimeError("service en arrêt"))


def _settle(future: asyncio.Future, result: Any) -> None:
    if future.done():
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)
