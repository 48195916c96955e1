"""Bearer tokens (JWT, HS256) carrying a role and an audience. Every endpoint names the roles it admits: no role
passes everywhere, `admin` included (an administrator runs the platform; health and identity data are not its).

The audience (`aud`, a list of service names) says where a token may be used: each service refuses (401) a token
whose audience does not name it, and a token without one (issued before audiences existed: `dyade token` makes a
new one). By default a token's audience is every service that admits its role (`AUDIENCE`); `dyade token ROLE
--service X` restricts it.

A token travels in the `Authorization: Bearer` header or in the HttpOnly `dyade_token` cookie the pages set;
never in the address: `?access_token=` on an API route is refused (401) — an address ends up in proxy logs,
browser history and Referer headers. Pages take it once from a sign-in link and exchange it for the cookie
(dyade.web.sign_in_link)."""
from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import jwt
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dyade import access
from dyade.contracts import Role

ISSUER = "dyade"
# How long a token may live: a person's one shift; a system's (the CAD's dispatch link) a month. Configured by
# DYADE_TOKEN_MAX_HOURS and DYADE_TOKEN_MAX_HOURS_SYSTEM (dyade.settings); these are the defaults.
SYSTEM_ROLES = frozenset({Role.DISPATCH})
PERSON_MAX_HOURS = 12
SYSTEM_MAX_HOURS = 720
ADMIN_NOTE = " — administrer la plateforme ne donne accès ni aux renseignements de santé ni aux identités"
COOKIE = "dyade_token"
QUERY_TOKEN = "access_token"

# Where a role's token is admitted: the services whose routes name the role in their `requires(...)` (and the
# pages' checks). A token's default audience. tests/foundation/test_token_audience.py derives it again from the
# five apps' routes and fails when a route admits a role at a service missing here (or the table names one no
# route admits).
AUDIENCE: dict[Role, tuple[str, ...]] = {
    Role.DISPATCH: ("intake", "triage", "infosocial", "notifier"),
    Role.OFFICER: ("intake", "triage", "infosocial"),
    Role.CALLTAKER: ("intake",),
    Role.PARTNER: ("intake",),
    Role.SOCIAL_WORKER: ("intake", "triage", "infosocial", "notifier"),
    Role.DYAD: ("triage", "infosocial", "notifier"),
    Role.SUPERVISOR: ("intake", "triage", "notifier", "analytics"),
    Role.ANALYST: ("intake", "infosocial", "analytics"),
    Role.ADMIN: ("intake", "infosocial", "notifier", "analytics"),
}
SERVICE_NAMES = ("intake", "triage", "infosocial", "notifier", "analytics")  # = dyade.service.SERVICES (tested)
# Services that pass the reader's own token on: Info-social asks intake (identities) and triage (sectors, the
# caseload's calls) with it; a triage worker forwards a read to the worker holding the key. A token meant for
# one of these needs the services it is forwarded to in its audience (`audience_for`).
FORWARDS: dict[str, tuple[str, ...]] = {"infosocial": ("intake", "triage"), "triage": ("triage",)}


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    sector: str | None = None
    dyad_id: str | None = None
    audience: tuple[str, ...] = ()


class TokenPolicyError(ValueError):
    """A token Dyade will not issue (no named subject, too long a life); the message is French."""


def max_token_hours(role: Role | str, settings=None) -> int:
    """The longest life of a token of `role`, in hours: DYADE_TOKEN_MAX_HOURS for people,
    DYADE_TOKEN_MAX_HOURS_SYSTEM for system roles (dispatch)."""
    system = Role(role) in SYSTEM_ROLES
    if settings is None:
        return SYSTEM_MAX_HOURS if system else PERSON_MAX_HOURS
    return settings.dyade_token_max_hours_system if system else settings.dyade_token_max_hours


def max_token_setting(role: Role | str) -> str:
    return "DYADE_TOKEN_MAX_HOURS_SYSTEM" if Role(role) in SYSTEM_ROLES else "DYADE_TOKEN_MAX_HOURS"


def audience_for(role: Role | str, services: Iterable[str] | None = None) -> tuple[str, ...]:
    """The audience of a token of `role`: every service admitting the role (None), or the services named
    together with those they forward the token to where the role is admitted (a social worker's token for
    Info-social also reaches intake and triage). TokenPolicyError for an unknown service or one that does not
    admit the role."""
    role = Role(role)
    admitted = AUDIENCE[role]
    if services is None:
        return admitted
    named = tuple(dict.fromkeys(s.strip() for s in services if s and s.strip()))
    _check_issuable(role, named)
    wanted = set(named)
    for service in named:
        wanted.update(s for s in FORWARDS.get(service, ()) if s in admitted)
    return tuple(s for s in SERVICE_NAMES if s in wanted)


def _check_issuable(role: Role, audience: tuple[str, ...]) -> None:
    if not audience:
        raise TokenPolicyError("un jeton vaut pour au moins un service (audience vide)")
    for service in audience:
        if service not in SERVICE_NAMES:
            raise TokenPolicyError(f"service inconnu : {service!r} (services : {', '.join(SERVICE_NAMES)})")
        if service not in AUDIENCE[role]:
            raise TokenPolicyError(f"le rôle {role.value} n'est admis par aucune route du service {service} "
                                   f"(services qui l'admettent : {', '.join(AUDIENCE[role])})")


def issue_token(secret: str, *, subject: str, role: Role | str, ttl_s: int = PERSON_MAX_HOURS * 3600,
                sector: str | None = None, dyad_id: str | None = None, max_ttl_s: int | None = None,
                audience: Iterable[str] | None = None) -> str:
    """A signed token for a NAMED person or system. Its life is bounded: `max_ttl_s`, by default the
    default maximum of the role (12 h for a person, 720 h for dispatch); callers with settings pass
    `max_token_hours(role, settings) * 3600`. `audience`: the services it may be used at, exactly (each must
    admit the role); by default every service that admits the role (`AUDIENCE`)."""
    role = Role(role)
    subject = (subject or "").strip()
    if not subject:
        raise TokenPolicyError("un jeton nomme la personne ou le système qui l'utilise (sujet requis)")
    if isinstance(audience, str):
        audience = (audience,)
    aud = AUDIENCE[role] if audience is None else tuple(dict.fromkeys(audience))
    _check_issuable(role, aud)
    limit = max_ttl_s if max_ttl_s is not None else max_token_hours(role) * 3600
    if ttl_s <= 0:
        raise TokenPolicyError("la durée de validité d'un jeton doit être positive")
    if ttl_s > limit:
        raise TokenPolicyError(f"durée de validité trop longue pour le rôle {role.value} : {ttl_s / 3600:g} h "
                               f"demandées, {limit / 3600:g} h au plus ({max_token_setting(role)})")
    now = int(time.time())
    claims = {"sub": subject, "role": role.value, "iss": ISSUER, "iat": now, "exp": now + ttl_s, "aud": list(aud)}
    if sector:
        claims["sector"] = sector
    if dyad_id:
        claims["dyad"] = dyad_id
    return jwt.encode(claims, secret, algorithm="HS256")


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


NO_AUDIENCE = ("jeton sans audience (émis avant que chaque jeton nomme les services où il vaut) : émettez-en un "
               "nouveau avec `dyade token ROLE --subject NOM`")


def read_token(secret: str, token: str) -> Principal:
    """The principal of a valid token (signature, issuer, expiry, an audience); 401 otherwise. Whether the
    audience names the service reading it is `require_audience`."""
    try:
        # Its presence is checked below, that it names the reading service by require_audience (PyJWT's check
        # would need the service at every call, the test stand-ins' included).
        claims = jwt.decode(token, secret, algorithms=["HS256"], issuer=ISSUER,
                            options={"require": ["exp", "sub", "role"], "verify_aud": False})
        role = Role(claims["role"])
    except (jwt.PyJWTError, ValueError) as exc:
        raise _unauthorized(f"jeton invalide: {exc}") from exc
    aud = claims.get("aud")
    aud = [aud] if isinstance(aud, str) else aud
    if not aud or not isinstance(aud, list) or not all(isinstance(a, str) for a in aud):
        raise _unauthorized(NO_AUDIENCE)
    return Principal(claims["sub"], role, claims.get("sector"), claims.get("dyad"), tuple(aud))


def audience_problem(principal: Principal, service: str) -> str | None:
    """French message when the token's audience does not name `service`, else None."""
    if service in principal.audience:
        return None
    return (f"ce jeton ne vaut pas pour le service {service} (il vaut pour : {', '.join(principal.audience)}) : "
            f"émettez-en un qui le nomme, p. ex. `dyade token {principal.role.value} --service {service} "
            f"--subject NOM`")


def require_audience(principal: Principal, service: str) -> None:
    if (problem := audience_problem(principal, service)) is not None:
        raise _unauthorized(problem)


def service_of(request: Request) -> str:
    """The service answering the request (set by dyade.service.create_app)."""
    service = getattr(request.app.state, "service", None)
    if not service:
        raise RuntimeError("app.state.service absent : l'application est créée par dyade.service.create_app")
    return service


TOKEN_IN_ADDRESS = ("jeton refusé dans l'adresse (?access_token=) : une adresse se retrouve dans les journaux, "
                    "l'historique et l'en-tête Referer. Envoyez le jeton dans l'en-tête « Authorization: Bearer "
                    "JETON »")


def refuse_token_in_address(request: Request) -> None:
    """401 for an API request carrying `?access_token=` (whatever else it carries)."""
    if QUERY_TOKEN in request.query_params:
        raise _unauthorized(TOKEN_IN_ADDRESS)


_bearer = HTTPBearer(auto_error=False, description="Jeton Dyade (`dyade token ROLE --subject NOM`).")


def token_from(request: Request, credentials: HTTPAuthorizationCredentials | None = None) -> str | None:
    """The bearer header's token, else the sign-in cookie's; never the address's."""
    if credentials:
        return credentials.credentials
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer " and auth[7:].strip():
        return auth[7:].strip()
    return request.cookies.get(COOKIE) or None


def requires(*roles: Role):
    """FastAPI dependency: 401 for a token in the address, without a valid token, or with a token whose audience
    does not name this service; 403 when its role is not among `roles` (no exception for `admin`: it passes only
    where it is listed), 403 for a `dyad` token without its `dyad` and `sector` claims (dyade.access: the message
    names the missing claim). The role is checked before the audience: a role refused here is told so, whatever
    the token's audience. What a principal may then read is dyade.access's rule."""
    if not roles:
        raise ValueError("requires: nommer au moins un rôle")
    allowed = frozenset(roles)

    def dependency(request: Request,
                   credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
        refuse_token_in_address(request)
        token = token_from(request, credentials)
        if not token:
            raise _unauthorized("authentification requise (jeton Bearer)")
        principal = read_token(request.app.state.token_secret, token)
        if principal.role not in allowed:
            raise HTTPException(403, detail=f"le rôle {principal.role.value} n'a pas accès à cette ressource "
                                            f"(rôles admis: {', '.join(sorted(r.value for r in allowed))})"
                                            + (ADMIN_NOTE if principal.role == Role.ADMIN else ""))
        require_audience(principal, service_of(request))
        access.require_claims(principal)
        return principal
    dependency.roles = allowed  # read by tests/foundation/test_token_audience.py
    return dependency
