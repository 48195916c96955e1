"""The dyad's field app: a French, mobile-first page (Jinja2 + a little vanilla JS, no build step),
a login form that stores the bearer token in the `dyade_token` cookie (or a sign-in link, `?access_token=`,
exchanged for it: dyade.web.sign_in_link), and the push service worker."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from dyade import access
from dyade.web import audience_refused, check_sign_in, page_principal, sign_in_link, signed_in, signed_out
from dyade.contracts.vocabulary import Role, TriageLevel

from services.notifier.entrypoints.deps import FIELD, lang_of
from services.notifier.domain.labels import DISPOSITIONS, LEVELS
from services.notifier.domain.lifecycle import LABELS

HERE = Path(__file__).resolve().parent.parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
web_router = APIRouter(include_in_schema=False, dependencies=[Depends(sign_in_link)])


def _principal(request: Request):
    principal = page_principal(request, FIELD)
    if principal is None or access.missing_claims(principal):  # a dyad's token names its dyad and sector
        return None
    return principal


@web_router.get("/", response_class=HTMLResponse)
def home(request: Request):
    principal = _principal(request)
    if principal is None:
        return RedirectResponse("/connexion", status_code=303)
    config = request.app.state.notifier.config
    return templates.TemplateResponse(request, "index.html", {
        "principal": principal, "lang": lang_of(request), "supervisor": principal.role == Role.SUPERVISOR,
        "ack_delay_s": config.ack_delay_s, "timezone": config.timezone,
        "dispositions": [(d.value, label) for d, label in DISPOSITIONS.items()],
        "levels": [(lv.value, fr) for lv, (fr, _) in LEVELS.items() if lv != TriageLevel.ROUTINE],
        "states": [(st.value, label) for st, label in LABELS.items()]})


@web_router.get("/connexion", response_class=HTMLResponse)
def login_page(request: Request, erreur: str | None = None):
    return templates.TemplateResponse(request, "login.html", {"error": erreur, "lang": lang_of(request)})


@web_router.post("/connexion")
def login(request: Request, token: str = Form(..., min_length=10, max_length=4000)):
    principal, problem = check_sign_in(request, token, FIELD)
    if problem == "invalid":
        return templates.TemplateResponse(request, "login.html", {"error": "Jeton invalide ou expiré.", "lang": "fr"},
                                          status_code=401)
    if problem == "role":
        return templates.TemplateResponse(request, "login.html", {
            "error": "Ce jeton ne donne pas accès à l'application des dyades (rôle dyad avec une dyade et un "
                     "secteur, ou superviseur).", "lang": "fr"}, status_code=403)
    if problem == "audience":
        return templates.TemplateResponse(request, "login.html", {"error": audience_refused(request), "lang": "fr"},
                                          status_code=401)
    if access.missing_claims(principal):
        return templates.TemplateResponse(request, "login.html", {
            "error": f"Ce jeton ne donne pas accès à l'application des dyades : {access.claims_problem(principal)}.",
            "lang": "fr"}, status_code=403)
    return signed_in(request, token, "/")


@web_router.post("/deconnexion")
def logout():
    return signed_out("/connexion")


@web_router.get("/sw.js")
def service_worker() -> Response:
    """Served from the root so that its scope covers the whole app."""
    return FileResponse(HERE / "static" / "sw.js", media_type="application/javascript",
                        headers={"Service-Worker-Allowed": "/", "Cache-Control": "no-cache"})
