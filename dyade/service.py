"""What every service's FastAPI app shares: health and metrics routes, JSON logs, bearer-token secret,
clear 4xx errors in French, a body-size limit, and a uvicorn runner with graceful shutdown.

Bad text at the edge: a control character (NUL...), a lone surrogate or U+FFFE/U+FFFF in the path or the
query string is a 422 before any route runs (the bodies are checked by their models: dyade.contracts.text).
A 500 says nothing of the error to the caller; its log line goes through the JSON formatter, which masks
what a database or validation error may quote (dyade.observability.format_exception_safely).

Tokens: an API request (`/v1/...`) with `?access_token=` is a 401 (dyade.auth); every answer carries `nosniff`
and `Referrer-Policy: no-referrer`, HTML ones a Content-Security-Policy (dyade.web.SecurityHeaders). Behind a
TLS proxy, uvicorn takes the scheme (X-Forwarded-Proto) and the client's address from the proxies listed in
DYADE_FORWARDED_ALLOW_IPS only, so that the sign-in cookie is Secure there (`proxy_options`)."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Callable

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dyade import __version__
from dyade.auth import TOKEN_IN_ADDRESS, QUERY_TOKEN
from dyade.contracts.text import line_problem, text_problem
from dyade.db import check_database
from dyade.kafka import admin
from dyade.observability import ConsumersHealth, ReadyCheck, configure_logging, health_router, instrument
from dyade.settings import Settings, SettingsError
from dyade.web import SecurityHeaders, SignInLink

log = logging.getLogger("dyade.service")

MAX_BODY_BYTES = 1_000_000


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    title: str
    module: str  # `python -m <module>` runs it


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("intake", "Réception des appels et références", "services.intake"),
    ServiceSpec("triage", "Triage: récurrence et dangerosité", "services.triage"),
    ServiceSpec("infosocial", "Fiches Info-social", "services.infosocial"),
    ServiceSpec("notifier", "Alertes aux dyades", "services.notifier"),
    ServiceSpec("analytics", "Indicateurs du programme", "services.analytics"),
)


def broker_check(bootstrap: str) -> ReadyCheck:
    def check() -> None:
        client = admin(bootstrap, timeout_ms=2000)
        client.close()
    return check


def database_check(url: str) -> ReadyCheck:
    return lambda: check_database(url, timeout=2)


def create_app(service: str, settings: Settings, *, title: str, description: str = "", lifespan=None,
               extra_checks: dict[str, ReadyCheck] | None = None, uses_database: bool = True,
               consumers: ConsumersHealth | None = None) -> FastAPI:
    """`uses_database=False` for a service that keeps no state in the database (triage: faust tables);
    `consumers` gives the health of the service's consumers for /readyz and /healthz."""
    app = FastAPI(title=f"Dyade — {title}", version=__version__, description=description, lifespan=lifespan)
    settings.check_secrets()  # outside the embedded default: secrets of at least 32 bytes
    app.state.settings = settings
    app.state.service = service  # the audience a token must name here (dyade.auth.require_audience)
    app.state.token_secret = settings.secret("dyade_token_secret")
    checks: dict[str, ReadyCheck] = {"database": database_check(settings.db_url)} if uses_database else {}
    if settings.kafka_bootstrap_servers:
        checks["broker"] = broker_check(settings.kafka_bootstrap_servers)
    checks.update(extra_checks or {})
    app.include_router(health_router(service, checks, consumers))
    instrument(app, service)
    _install_error_handlers(app)
    app.add_middleware(SecurityHeaders)
    return app


def proxy_options(settings: Settings) -> dict:
    """uvicorn's options for the proxy in front: X-Forwarded-Proto and X-Forwarded-For are believed from the
    addresses of DYADE_FORWARDED_ALLOW_IPS only (anyone else could claim https, or another client address)."""
    return {"proxy_headers": True, "forwarded_allow_ips": settings.dyade_forwarded_allow_ips}


def refused_text(request: Request) -> tuple[str, str] | None:
    """(where, problem) when the decoded path (one line) or a query parameter (free text) holds text that
    must not reach a database or a log, else None."""
    if (problem := line_problem(request.scope.get("path", ""))) is not None:  # percent-decoded already
        return "(chemin)", problem
    if request.scope.get("query_string"):
        for name, value in request.query_params.multi_items():
            if (problem := line_problem(name)) is not None:
                return "(paramètre)", problem
            if (problem := text_problem(value)) is not None:
                return name, problem
    return None


class RequestGuard:
    """What is refused before any route runs: a body over MAX_BODY_BYTES (413), a token in an API address
    (401), bad text in the path or the query string (422). Plain ASGI, as dyade.observability.RequestMetrics."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and (refusal := self.refusal(Request(scope))) is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    def refusal(request: Request) -> JSONResponse | None:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return JSONResponse({"detail": f"corps de requête trop volumineux (max {MAX_BODY_BYTES} octets)"},
                                status_code=413)
        if request.scope["path"].startswith("/v1/") and QUERY_TOKEN in request.query_params:
            return JSONResponse({"detail": TOKEN_IN_ADDRESS}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        if (refused := refused_text(request)) is not None:
            field, problem = refused
            return JSONResponse({"detail": f"requête invalide — {field}: {problem}",
                                 "errors": [{"field": field, "problem": problem, "type": "texte_interdit"}]},
                                status_code=422)
        return None


def _install_error_handlers(app: FastAPI) -> None:
    app.add_middleware(RequestGuard)

    @app.exception_handler(Exception)
    async def _server_error(request: Request, exc: Exception):
        """The caller learns nothing of the fault (a message may quote data); the server logs it (uvicorn,
        through the JSON formatter that masks what it may quote)."""
        return JSONResponse({"detail": "erreur interne du service; rien ne garantit que la requête a été traitée: "
                                       "réessayez (les envois sont idempotents) ou signalez l'incident"},
                            status_code=500)

    @app.exception_handler(SignInLink)
    async def _sign_in_link(request: Request, exc: SignInLink):
        return exc.response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p != "body"]
            errors.append({"field": ".".join(loc) or "(corps)", "problem": err.get("msg", ""), "type": err.get("type")})
        summary = "; ".join(f"{e['field']}: {e['problem']}" for e in errors[:5])
        return JSONResponse({"detail": f"requête invalide — {summary}", "errors": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


class Server(uvicorn.Server):
    """uvicorn's server, whose housekeeping tick (the Date header, the exit flag) turns once a second instead of
    ten times — a tenth of an idle service's CPU — and at once when a signal asks it to stop."""

    _woken: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    async def main_loop(self) -> None:
        self._loop, self._woken = asyncio.get_running_loop(), asyncio.Event()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 10) % 864000   # on_tick counts tenths of a second
            try:
                await asyncio.wait_for(self._woken.wait(), timeout=1.0)
            except asyncio.TimeoutError:
                pass
            should_exit = await self.on_tick(counter)

    def handle_exit(self, sig, frame) -> None:
        super().handle_exit(sig, frame)
        self._wake()

    def stop(self) -> None:
        """Stop serving (from the server's loop, or another thread)."""
        self.should_exit = True
        self._wake()

    def _wake(self) -> None:
        if self._loop is not None and self._woken is not None:
            self._loop.call_soon_threadsafe(self._woken.set)


def run(app_factory: Callable[[Settings], FastAPI], service: str, settings: Settings) -> None:
    """Serve until SIGINT/SIGTERM; uvicorn drains requests and runs the app's shutdown."""
    configure_logging(service, settings.dyade_log_level)
    try:
        app = app_factory(settings)
    except SettingsError as exc:  # one clear line, no traceback
        raise SystemExit(f"erreur : {exc}") from None
    server = Server(server_config(app, service, settings))
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    if not server.started:  # the port taken...: uvicorn has logged why; its exit code
        raise SystemExit(3)


def server_config(app: FastAPI, service: str, settings: Settings) -> uvicorn.Config:
    return uvicorn.Config(app, host=settings.dyade_host, port=settings.port_of(service), log_config=None,
                          access_log=False, timeout_graceful_shutdown=10, **proxy_options(settings))
