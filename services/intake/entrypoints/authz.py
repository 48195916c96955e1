"""`requires` for async routes: the same check as dyade.auth.requires (401 for a token in the address, a
missing or invalid token, or one whose audience does not name intake; 403 for a role not admitted), run on the
event loop instead of a worker thread (the hot path of POST /v1/calls avoids a thread hop)."""
from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dyade.auth import Principal, requires
from dyade.contracts import Role

_bearer = HTTPBearer(auto_error=False, description="Jeton Dyade (`dyade token ROLE`).")


def requires_async(*roles: Role):
    check = requires(*roles)

    async def dependency(request: Request,
                         credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
        return check(request, credentials)
    dependency.roles = check.roles
    return dependency
