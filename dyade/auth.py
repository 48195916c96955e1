"""Bearer tokens (JWT, HS256) carrying a role. Every endpoint names the roles it admits: no role passes
everywhere, `admin` included (an administrator runs the platform; health and identity data are not its)."""
from __future__ import annotations

import time
from dataclasses import dataclass

import jwt
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dyade.contracts import Role

ISSUER = "dyade"
ADMIN_NOTE = " — administrer la plateforme ne donne accès ni aux renseignements de santé ni aux identités"


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    sector: str | None = None
    dyad_id: str | None = None


def issue_token(secret: str, *, subject: str, role: Role | str, ttl_s: int = 12 * 3600,
                sector: str | None = None, dyad_id: str | None = None) -> str:
    now = int(time.time())
    claims = {"sub": subject, "role": Role(role).value, "iss": ISSUER, "iat": now, "exp": now + ttl_s}
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


_bearer = HTTPBearer(auto_error=False, description="Jeton Dyade (`dyade token ROLE`).")


def token_from(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str | None:
    if credentials:
        return credentials.credentials
    return request.cookies.get("dyade_token") or request.query_params.get("access_token")


def requires(*roles: Role):
    """FastAPI dependency: 401 without a valid token, 403 when its role is not among `roles` (no exception for
    `admin`: it passes only where it is listed)."""
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
        return principal
    return dependency
