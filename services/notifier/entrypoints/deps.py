"""Request helpers shared by the API, the live stream and the field app."""
from __future__ import annotations

from fastapi import Request

from dyade import access
from dyade.web import lang_of  # noqa: F401 (re-exported for the routes)
from dyade.auth import Principal
from dyade.contracts.vocabulary import Role

SUPERVISORS = (Role.SUPERVISOR, Role.ADMIN)  # the roster, webhooks, sectors: running the platform
FIELD = (Role.DYAD, Role.SUPERVISOR)  # alerts carry the call, the persons and the police view: not admin


def notifier(request: Request):
    return request.app.state.notifier


def own_dyad(principal: Principal) -> str | None:
    """The dyad a field user acts for; None for supervisors (they see and act on every alert). A dyad's token
    must carry its `dyad` and `sector` claims (dyade.access): 403 naming the missing one."""
    if principal.role == Role.DYAD:
        access.require_claims(principal)
        return principal.dyad_id
    return None
