"""Bearer tokens (JWT, HS256) carrying a role. Every endpoint names the roles it admits: no role passes
everywhere, `admin` included (an administrator runs the platform; health and identity data are not its)."""
from __future__ import annotations

import time
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


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    sector: str | None = None
    dyad_id: str | None = None


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


def issue_token(secret: str, *, subject: str, role: Role | str, ttl_s: int = PERSON_MAX_HOURS * 3600,
                sector: str | None = None, dyad_id: str | None = None, max_ttl_s: int | None = None) -> str:
    """A signed token for a NAMED person or system. Its life is bounded: `max_ttl_s`, by default the
    default maximum of the role (12 h for a person, 720 h for dispatch); callers with settings pass
    `max_token_hours(role, settings) * 3600`."""
    role = Role(role)
    subject = (subject or "").strip()
    if not subject:
        raise TokenPolicyError("un jeton nomme la personne ou le système qui l'utilise (sujet requis)")
    limit = max_ttl_s if max_ttl_s is not None else max_token_hours(role) * 3600
    if ttl_s <= 0:
        raise TokenPolicyError("la durée de validité d'un jeton doit être positive")
    if ttl_s > limit:
        raise TokenPolicyError(f"durée de validité trop longue pour le rôle {role.value} : {ttl_s / 3600:g} h "
                               f"demandées, {limit / 3600:g} h au plus ({max_token_setting(role)})")
    now = int(time.time())
    claims = {"sub": subject, "role": role.value, "iss": ISSUER, "iat": now, "exp": now + ttl_s}
    if sector:
        claims["sector"] = sector
    if dyad_id:
        claims["dyad"] = dyad_id
    return jwt.encode(claims, secret, algorithm="HS256")


def read_token(secret: str, token: str) -> Principal:
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], issuer=ISSUER,
                            options={"require": ["exp", "sub", "role"]})
        return Principal(claims["sub"], Role(claims["role"]), claims.get("sector"), claims.get("dyad"))
    except (jwt.PyJWTError, ValueError) as exc:
        raise HTTPException(401, detail=f"jeton invalide: {exc}", headers={"WWW-Authenticate": "Bearer"}) from exc


_bearer = HTTPBearer(auto_error=False, description="Jeton Dyade (`dyade token ROLE --subject NOM`).")


def token_from(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str | None:
    if credentials:
        return credentials.credentials
    return request.cookies.get("dyade_token") or request.query_params.get("access_token")


def requires(*roles: Role):
    """FastAPI dependency: 401 without a valid token, 403 when its role is not among `roles` (no exception for
    `admin`: it passes only where it is listed), 403 for a `dyad` token without its `dyad` and `sector` claims
    (dyade.access: the message names the missing claim). What a principal may then read is dyade.access's rule."""
    if not roles:
        raise ValueError("requires: nommer au moins un rôle")
    allowed = set(roles)

    def dependency(request: Request,
                   credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
        token = token_from(request, credentials)
        if not token:
            raise HTTPException(401, detail="authentification requise (jeton Bearer)",
                                headers={"WWW-Authenticate": "Bearer"})
        principal = read_token(request.app.state.token_secret, token)
        if principal.role not in allowed:
            raise HTTPException(403, detail=f"le rôle {principal.role.value} n'a pas accès à cette ressource "
                                            f"(rôles admis: {', '.join(sorted(r.value for r in allowed))})"
                                            + (ADMIN_NOTE if principal.role == Role.ADMIN else ""))
        access.require_claims(principal)
        return principal
    return dependency
