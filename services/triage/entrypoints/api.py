"""HTTP side of the worker: /healthz, /readyz, /metrics, OpenAPI at /docs, and the read API — a FastAPI
app served by uvicorn *inside the faust worker's event loop*, so async routes read the tables directly
and safely (same thread as the agents). /readyz is 200 only once partitions are assigned and the tables
recovered, and not during a rebalance.

Who reads what is `dyade.access`'s rule: a dyad's token must carry its `dyad` and `sector` claims (checked
by `requires` on the worker that receives the read, before anything is looked up or forwarded), and a dyad
sees a call's decision of its sector, a person's (or place's) state when one of the decisions it keeps is in
its sector — with those decisions only. The sector check needs the state, so it runs on the worker that
answers: a read forwarded to the worker holding the key (peers.py) carries the reader's token and goes
through the same route there; the forwarding worker only relays the answer (403 included)."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import orjson
import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from mode import Service

from dyade import access
from dyade.auth import Principal, requires
from dyade.contracts import Role
from dyade.service import Server, create_app, proxy_options
from dyade.settings import Settings
from services.triage.domain import state as S
from services.triage.adapters.metrics import READY
from services.triage.adapters.tables import table_of
from services.triage.adapters.peers import Peers, forwarded
from services.triage.entrypoints.views import explain_decision, subject_view
from dyade.clock import utcnow

if TYPE_CHECKING:
    from services.triage.bootstrap import TriageApp

log = logging.getLogger("dyade.triage")
audit = logging.getLogger("dyade.triage.audit")
READERS = (Role.DISPATCH, Role.OFFICER, Role.DYAD, Role.SOCIAL_WORKER, Role.SUPERVISOR)


def worker_ready(app: TriageApp) -> bool:
    return app.startup_finished and not app.rebalancing


def create_web(app: TriageApp, settings: Settings) -> FastAPI:
    """`app` is the faust app (its tables are read here)."""
    def worker_check() -> None:
        READY.set(1 if worker_ready(app) else 0)
        if not app.startup_finished:
            raise RuntimeError("le worker démarre (partitions non assignées ou tables en récupération)")
        if app.rebalancing:
            raise RuntimeError("rééquilibrage des partitions en cours")

    api = create_app("triage", settings, title="Triage: récurrence et dangerosité", uses_database=False,
                     extra_checks={"worker": worker_check}, consumers=lambda: [app.progress.health()],
                     description="Décisions de triage expliquées (lecture seule). Les décisions sont publiées sur "
                                 "`triage.decided.v1`; les suggestions de référence sur `referrals.suggested.v1`.")
    peers = Peers(app)

    @api.get("/v1/persons/{person_key}/triage", tags=["triage"],
             summary="État de triage d'une personne (ou d'un lieu: clé l_...)")
    async def person_triage(request: Request, person_key: str,
                            au: datetime | None = Query(None, description="Calculer les fenêtres à cette date "
                                                                           "(défaut: maintenant)"),
                            principal: Principal = Depends(requires(*READERS))) -> dict:
        owner = peers.owner(table_of(person_key), person_key)
        if owner and not forwarded(request):
            return await peers.forward(owner, request)
        st = app.state_of(person_key)
        decisions = [orjson.loads(d) for d in S.decisions_of(st)] if st is not None else []
        shown = [d for d in decisions if access.may_see(principal, sectors=[d.get("sector")])]
        refused = st is not None and access.scoped(principal) and not shown
        audit.info("lecture de l'état de triage", extra={"reader": principal.subject, "role": principal.role.value,
                                                         "sector": principal.sector, "person_key": person_key,
                                                         "found": st is not None, "refused": refused})
        if st is None:
            raise HTTPException(404, detail=f"aucun état de triage pour {person_key} (aucun appel ni événement reçu)")
        if refused:
            raise access.AccessDenied(access.out_of_sector(
                principal, f"l'état de triage de {person_key} (aucune de ses dernières décisions n'est de votre "
                           f"secteur)"))
        at = (au or utcnow())
        if at.tzinfo is None:
            at = at.replace(tzinfo=timezone.utc)
        return subject_view(person_key, st, at.timestamp(), app.ruleset, decisions=shown)

    @api.get("/v1/calls/{call_id}/decision", tags=["triage"], summary="Décision de triage d'un appel, expliquée")
    async def call_decision(request: Request, call_id: str,
                            principal: Principal = Depends(requires(*READERS))) -> dict:
        key = app.index.lookup(call_id)
        if key is None and not forwarded(request):
            for peer in peers.others():  # another worker decided it (the call's partitions are not ours)
                answer = await peers.forward(peer, request)
                if answer.status_code != 404:
                    return answer
        st = app.state_of(key) if key is not None else None
        found = S.decisions_of(st, call_id) if st else []
        decision = orjson.loads(found[0]) if found else None
        refused = decision is not None and not access.may_see(principal, sectors=[decision.get("sector")])
        audit.info("lecture d'une décision", extra={"reader": principal.subject, "role": principal.role.value,
                                                    "sector": principal.sector, "call_id": call_id,
                                                    "found": bool(found), "refused": refused})
        if decision is None:
            raise HTTPException(404, detail=f"aucune décision connue pour l'appel {call_id} (appel inconnu, en cours "
                                            f"de traitement, ou plus ancien que les {S.MAX_DECISIONS} dernières "
                                            f"décisions de son sujet)")
        if refused:
            raise access.AccessDenied(access.out_of_sector(
                principal, f"la décision de l'appel {call_id} (secteur {decision.get('sector') or 'inconnu'})"))
        return explain_decision(decision)

    return api


class _EmbeddedServer(Server):
    @contextlib.contextmanager
    def capture_signals(self):  # the faust worker owns SIGINT/SIGTERM and stops this service itself
        yield


class WebService(Service):
    """Serves the FastAPI app in the worker's loop from the worker's start to its stop."""

    def __init__(self, api: FastAPI, host: str, port: int, **kwargs):
        super().__init__(**kwargs)
        self.server = _EmbeddedServer(uvicorn.Config(api, host=host, port=port, log_config=None, access_log=False,
                                                     lifespan="off", timeout_graceful_shutdown=5,
                                                     **proxy_options(api.state.settings)))
        self._task: asyncio.Task | None = None

    async def on_start(self) -> None:
        self._task = asyncio.ensure_future(self.server.serve())

    async def on_stop(self) -> None:
        self.server.stop()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, timeout=8)
