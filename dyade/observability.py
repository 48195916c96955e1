"""Structured JSON logs (no personal data: log keys, ids and counts, never names or narratives),
Prometheus metrics, and the /healthz, /readyz and /metrics routes every service exposes."""
from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from datetime import datetime, timezone
from typing import Callable

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        doc.update({k: v for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")})
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, ensure_ascii=False)

    def formatException(self, ei) -> str:  # noqa: N802 (logging's name)
        return format_exception_safely(ei)


def _quotes_data(exc: BaseException) -> bool:
    """Exceptions whose message may quote what was received or stored: a database error (its statement's
    parameters, the server's DETAIL: "Failing row contains (...)"), a validation error (the input)."""
    names = {c.__module__.split(".")[0] + "." + c.__name__ for c in type(exc).__mro__}
    return any(n in names for n in ("sqlalchemy.StatementError", "sqlalchemy.DBAPIError", "psycopg.Error",
                                    "sqlite3.Error", "pydantic_core.ValidationError",
                                    "fastapi.ValidationException"))


def _safe_message(exc: BaseException) -> str:
    from dyade.db import describe_db_error
    errors = getattr(exc, "errors", None)
    if callable(errors) and not hasattr(exc, "orig"):  # pydantic / FastAPI: where and what, never the input
        try:
            return "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
                             for e in list(errors())[:5]) + " [valeurs masquées]"
        except Exception:
            return "[message masqué]"
    return describe_db_error(exc) + " [message masqué: il peut citer des données]"


def format_exception_safely(ei) -> str:
    """A traceback as logging would print it, but every exception of the chain that may quote personal data
    (see _quotes_data) shows only its class, SQLSTATE and the schema objects named, or the fields and
    problems of a validation error."""
    etype, value, tb = ei
    if value is None:
        return "".join(traceback.format_exception(etype, value, tb))
    te = traceback.TracebackException(etype, value, tb)
    seen: set[int] = set()
    stack = [(te, value)]
    while stack:
        t, exc = stack.pop()
        if t is None or exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        if _quotes_data(exc):
            if not hasattr(t, "_str"):  # a Python without this attribute: frames only, no message at all
                return "".join(traceback.format_tb(tb)) + f"{etype.__name__}: [message masqué]"
            t._str = _safe_message(exc)
        stack.append((t.__cause__, exc.__cause__))
        stack.append((t.__context__, exc.__context__))
    return "".join(te.format()).rstrip("\n")


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("kafka", "aiokafka", "faust", "mode", "uvicorn.access", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


HTTP_REQUESTS = Counter("dyade_http_requests_total", "HTTP requests handled", ["service", "route", "status"])
HTTP_LATENCY = Histogram("dyade_http_request_seconds", "HTTP request latency", ["service", "route"],
                         buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))

ReadyCheck = Callable[[], None]  # raises with a user-facing message when not ready


ConsumersHealth = Callable[[], list[dict]]  # each consumer's health (dyade.consumer.Consumer.health)


def health_router(service: str, checks: dict[str, ReadyCheck], consumers: ConsumersHealth | None = None) -> APIRouter:
    router = APIRouter(tags=["santé"])
    consumers = consumers or (lambda: [])

    @router.get("/healthz", summary="Le processus et ses boucles de consommation tournent",
                responses={500: {"description": "Une boucle de consommation est arrêtée ou bloquée"}})
    def healthz() -> Response:
        stuck = [c for c in consumers() if not c.get("live", True)]
        if stuck:
            return JSONResponse({"status": "stuck", "service": service,
                                 "detail": "; ".join(f"{c['group']}: {c['message']}" for c in stuck)}, status_code=500)
        return JSONResponse({"status": "ok", "service": service})

    @router.get("/readyz", summary="Broker, base de données et consommateurs en état de marche",
                responses={503: {"description": "Pas prêt: une dépendance ou un consommateur ne fonctionne pas (le détail "
                                                "dit quoi); « dégradé » en 200: des lettres mortes en rafale"}})
    def readyz() -> Response:
        results, ok = {}, True
        for name, check in checks.items():
            try:
                check()
                results[name] = "ok"
            except Exception as exc:
                ok = False
                results[name] = str(exc)[:300]
        loops = consumers()
        healthy = all(c["state"] == "running" for c in loops)
        # dead-lettering a burst (old poison records replayed, say) is an alarm, not a reason to stop serving:
        # "degraded" and still 200; starting, reconnecting or stalled consumers are not ready (503)
        serving = all(c["state"] in ("running", "degraded") for c in loops)
        status = "unavailable" if not ok else ("ok" if healthy else "degraded")
        return JSONResponse({"status": status, "service": service, "checks": results, "consumers": loops},
                            status_code=200 if ok and serving else 503)

    @router.get("/metrics", summary="Métriques Prometheus", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


class RequestMetrics:
    """Counts and times every request by route template (never by path: paths carry keys), until its answer
    starts (a live stream is timed to its first byte, not to its end). Plain ASGI: a `@app.middleware` costs
    a task and stream wrappers per request (a third of intake's CPU per call, bench.intake)."""

    def __init__(self, app, service: str) -> None:
        self.app, self.service = app, service

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0, started = time.perf_counter(), False

        def record(status: int) -> None:
            template = getattr(scope.get("route"), "path", "unmatched")
            HTTP_REQUESTS.labels(self.service, template, str(status)).inc()
            HTTP_LATENCY.labels(self.service, template).observe(time.perf_counter() - t0)

        async def timed_send(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start" and not started:
                started = True
                record(message["status"])
            await send(message)
        try:
            await self.app(scope, receive, timed_send)
        finally:
            if not started:   # an exception on its way to the 500 handler
                record(500)


def instrument(app, service: str) -> None:
    app.add_middleware(RequestMetrics, service=service)
