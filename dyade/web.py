"""What the services' server-rendered pages share: the signed-in person (bearer header or the HttpOnly
`dyade_token` cookie), the sign-in link (`?access_token=` once, exchanged for the cookie), signing in and out,
the page language (French first) and the security headers of every HTML answer.

A sign-in link (`dyade up`'s demo prints some) carries the token in the address. Every page router depends on
`sign_in_link`: a GET with `?access_token=` answers 303 to the same address without it — so the token leaves
the address bar, the history and the Referer of what the page loads — having set the cookie when the token is
valid at this service (signature, expiry, audience). An invalid token sets nothing: the page then asks to sign
in. The API never reads a token from the address (dyade.auth: 401)."""
from __future__ import annotations

from urllib.parse import urlencode

from fastapi import HTTPException, Request
from fastapi.responses import RedirectResponse

from dyade.auth import COOKIE, QUERY_TOKEN, Principal, audience_problem, read_token, service_of, token_from
from dyade.contracts import Role

SESSION_S = 12 * 3600

# Pages load their scripts, styles and images from their own service only, and no other site may frame them.
# No inline script runs (tests/foundation/test_page_security.py reads every template); inline styles remain
# (Info-social's base template and a few style attributes) and can run no code.
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self'; "
               "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# FastAPI's /docs and /redoc load Swagger UI and ReDoc from jsDelivr and start them with an inline script;
# they show no data of their own (a request made from them carries the token typed in them).
DOCS_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
               "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
               "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
               "https://cdn.redoc.ly; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
               "frame-ancestors 'none'")
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")
HEADERS = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"))


class SecurityHeaders:
    """ASGI middleware: `nosniff` and `Referrer-Policy: no-referrer` on every answer, the Content-Security-Policy
    on HTML ones (streams pass through untouched: it only adds headers to the response start)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        policy = (DOCS_POLICY if scope.get("path") in DOCS_PATHS else PAGE_POLICY).encode()

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [h for h in HEADERS if h[0] not in present]
                content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
                if content_type.startswith(b"text/html") and b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", policy))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def lang_of(request: Request) -> str:
    """`?lang=fr|en`, else the browser's first language if it is English, else French."""
    lang = request.query_params.get("lang")
    if lang in ("fr", "en"):
        return lang
    return "en" if request.headers.get("accept-language", "").lower().startswith("en") else "fr"


def _read(request: Request, token: str) -> Principal | None:
    try:
        return read_token(request.app.state.token_secret, token.strip())
    except HTTPException:
        return None


def page_principal(request: Request, allowed: set[Role] | frozenset[Role] | tuple[Role, ...]) -> Principal | None:
    """Who is looking at a page, if their token (header or cookie) is valid, names this service in its audience
    and their role may see it."""
    token = token_from(request)
    principal = _read(request, token) if token else None
    if principal is None or principal.role not in allowed or audience_problem(principal, service_of(request)):
        return None
    return principal


def check_sign_in(request: Request, token: str, allowed) -> tuple[Principal | None, str | None]:
    """(principal, None) when the token may open these pages; else (None, 'invalid' | 'role' | 'audience') —
    the role is checked before the audience, as the API does (`audience_refused` says what to do)."""
    principal = _read(request, token)
    if principal is None:
        return None, "invalid"
    if principal.role not in allowed:
        return None, "role"
    if audience_problem(principal, service_of(request)):
        return None, "audience"
    return principal, None


def audience_refused(request: Request, lang: str = "fr") -> str:
    """What a sign-in page says of a token that is not meant for this service."""
    service = service_of(request)
    if lang == "en":
        return (f"This token is not valid for this application ({service}): issue one that names it "
                f"(`dyade token ROLE --service {service} --subject NAME`).")
    return (f"Ce jeton ne vaut pas pour cette application ({service}) : émettez-en un qui la nomme "
            f"(`dyade token ROLE --service {service} --subject NOM`).")


def signed_in(request: Request, token: str, target: str = "/") -> RedirectResponse:
    """Keep the token in an HTTP-only cookie and go to `target` (a local path only). The cookie is Secure when
    the request came over https — behind a TLS proxy, one of DYADE_FORWARDED_ALLOW_IPS that says so
    (X-Forwarded-Proto, honoured by dyade.service)."""
    target = target if target.startswith("/") and not target.startswith("//") else "/"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict", max_age=SESSION_S,
                        secure=request.url.scheme == "https")
    return response


def signed_out(target: str) -> RedirectResponse:
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(COOKIE)
    return response


def address_without_token(request: Request) -> str:
    """The path and query of the request, `access_token` taken out (a local path: never another site)."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k != QUERY_TOKEN]
    path = request.url.path
    path = "/" + path.lstrip("/")  # `//host` would leave the site
    return path + ("?" + urlencode(query) if query else "")


class SignInLink(Exception):
    """Raised by `sign_in_link`; dyade.service answers with `response` (303 to the address without the token)."""

    def __init__(self, response: RedirectResponse):
        super().__init__("lien de connexion")
        self.response = response


def sign_in_link(request: Request) -> None:
    """Dependency of every page router: a page opened with `?access_token=` (GET) is answered 303 to the same
    address without it; the cookie is set when the token is valid here (signature, expiry, audience naming this
    service), whatever its role — the page then says whether the role may see it."""
    token = request.query_params.get(QUERY_TOKEN)
    if token is None or request.method not in ("GET", "HEAD"):
        return
    target = address_without_token(request)
    principal = _read(request, token) if token.strip() else None
    if principal is None or audience_problem(principal, service_of(request)):
        raise SignInLink(RedirectResponse(target, status_code=303))
    raise SignInLink(signed_in(request, token, target))
