"""What the services' server-rendered pages share: the signed-in person (bearer header, the `dyade_token`
cookie, or `?access_token=` once), signing in and out, and the page language (French first)."""
from __future__ import annotations

from fastapi import HTTPException, Request
from fastapi.responses import RedirectResponse

from dyade.auth import Principal, read_token, token_from
from dyade.contracts import Role

COOKIE = "dyade_token"
SESSION_S = 12 * 3600


def lang_of(request: Request) -> str:
    """`?lang=fr|en`, else the browser's first language if it is English, else French."""
    lang = request.query_params.get("lang")
    if lang in ("fr", "en"):
        return lang
    return "en" if request.headers.get("accept-language", "").lower().startswith("en") else "fr"


def page_principal(request: Request, allowed: set[Role] | frozenset[Role] | tuple[Role, ...]) -> Principal | None:
    """Who is looking at a page, if their token is valid and their role may see it."""
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else token_from(request, None)
    if not token:
        return None
    try:
        principal = read_token(request.app.state.token_secret, token)
    except HTTPException:
        return None
    return principal if principal.role in allowed else None


def check_sign_in(request: Request, token: str, allowed) -> tuple[Principal | None, str | None]:
    """(principal, None) when the token may open these pages; else (None, 'invalid' | 'role')."""
    try:
        principal = read_token(request.app.state.token_secret, token.strip())
    except HTTPException:
        return None, "invalid"
    return (principal, None) if principal.role in allowed else (None, "role")


def signed_in(request: Request, token: str, target: str = "/") -> RedirectResponse:
    """Keep the token in an HTTP-only cookie and go to `target` (a local path only)."""
    target = target if target.startswith("/") and not target.startswith("//") else "/"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict", max_age=SESSION_S,
                        secure=request.url.scheme == "https")
    return response


def signed_out(target: str) -> RedirectResponse:
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(COOKIE)
    return response
