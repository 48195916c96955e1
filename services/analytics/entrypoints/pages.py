"""The admin dashboard (server-rendered, charts drawn by a vendored Chart.js), the printable monthly
report, and the login form that sets the `dyade_token` cookie (a sign-in link, `?access_token=` on a page, is
exchanged for it: dyade.web.sign_in_link). French first; `?lang=en` for English.

Times are shown in the organisation's time zone (DYADE_TIMEZONE), labelled with it (« heure de Montréal
(HNE) »), dates in the reader's locale (fr-CA by default; `localtime.py`)."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from dyade.auth import read_token
from dyade.web import audience_refused, check_sign_in, lang_of, page_principal, sign_in_link, signed_in, signed_out
from services.analytics.entrypoints.api import READERS, MONTH, params
from services.analytics.domain import localtime
from services.analytics.adapters.figures import Params
from services.analytics.entrypoints.i18n import labels_for
from dyade.clock import utcnow

env = Environment(loader=FileSystemLoader(Path(__file__).parent.parent / "templates"),
                  autoescape=select_autoescape(["html"]))
router = APIRouter(include_in_schema=False, dependencies=[Depends(sign_in_link)])


def _number(value, digits: int = 1, lang: str = "fr") -> str:
    """A figure for reading: `—` when absent, at most `digits` decimals, decimal comma in French."""
    if value is None:
        return "—"
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if lang == "fr" else text


env.filters["n"] = _number
env.filters["code"] = lambda code, t: t.get(f"code.{code}", code)


def _principal_or_login(request: Request):
    return page_principal(request, READERS)


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/", error: str | None = None):
    t = labels_for(lang_of(request))
    return HTMLResponse(env.get_template("login.html").render(t=t, next=_safe_next(next), error=error,
                                                              lang=lang_of(request)))


def _safe_next(target: str) -> str:
    return target if target.startswith("/") and not target.startswith("//") else "/"


@router.post("/login")
def login(request: Request, token: str = Form(...), next: str = Form("/")):
    t = labels_for(lang_of(request))
    principal, problem = check_sign_in(request, token, READERS)
    if problem == "invalid":
        return HTMLResponse(env.get_template("login.html").render(t=t, next=_safe_next(next), error=t["bad_token"],
                                                                  lang=lang_of(request)), status_code=401)
    if problem == "role":
        role = read_token(request.app.state.token_secret, token.strip()).role.value
        return HTMLResponse(env.get_template("login.html").render(
            t=t, next=_safe_next(next), error=t["bad_role"].format(role=role), lang=lang_of(request)), status_code=403)
    if problem == "audience":
        return HTMLResponse(env.get_template("login.html").render(
            t=t, next=_safe_next(next), error=audience_refused(request, lang_of(request)), lang=lang_of(request)),
            status_code=401)
    return signed_in(request, token, _safe_next(next))


@router.get("/logout")
def logout():
    return signed_out("/login")


def _clock(request: Request, lang: str, latest: str | None) -> dict:
    """What the page says about time: the zone's label, the newest fact, now, in the reader's locale."""
    tz = request.app.state.book.tz
    loc = localtime.locale_for(lang, request.headers.get("accept-language"))
    now = utcnow()
    latest_dt = datetime.fromisoformat(latest) if latest else None
    return {"tz": tz, "locale": loc, "zone": localtime.zone_name(tz, loc),
            "zone_now": localtime.zone_label(tz, now, loc), "now": localtime.moment(now, tz, loc),
            "latest": localtime.moment(latest_dt, tz, loc) if latest_dt else None}


def _env_for(clock: dict):
    """Filters that need the reader's zone and locale."""
    tz, loc = clock["tz"], clock["locale"]
    return {"day": lambda v: localtime.day(datetime.fromisoformat(v) if isinstance(v, str) else v, tz, loc),
            "moment": lambda v: localtime.moment(datetime.fromisoformat(v) if isinstance(v, str) else v, tz, loc),
            "month": lambda m: localtime.month_label(m, loc)}


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, p: Params = Depends(params)):
    principal = _principal_or_login(request)
    if principal is None:
        return _login_redirect(request)
    book = request.app.state.book
    lang = lang_of(request)
    data = {
        "overview": book.overview(p), "repeat": book.repeat_calls(p), "gu": book.grandes_utilisatrices(p),
        "dyads": book.dyads(p), "latency": book.latency(p), "dispositions": book.dispositions(p),
        "frames": book.frames(p), "referrals": book.referrals(p),
        "mental_health_weeks": book.calls_by_week(p, categories=("etat_mental_perturbe", "suicidaire")),
        "top_locations": book.top_locations(p, limit=15),
    }
    clock = _clock(request, lang, data["overview"]["latest_fact"])
    loc = clock["locale"]
    months = sorted({r["month"] for r in data["repeat"]["trend"]} | {r["month"] for r in data["gu"]})
    data["labels"] = {"months": {m: localtime.month_label(m, loc) for m in months},
                      "weeks": {w["week"]: localtime.week_label(w["week"], loc) for w in data["mental_health_weeks"]},
                      "locale": str(loc).replace("_", "-")}
    backfill = max((h["excluded_backfill"] for h in data["latency"].values()), default=0)
    unmeasured = max((h["excluded_unmeasured"] for h in data["latency"].values()), default=0)
    period = {"start": localtime.day(p.start, book.tz, loc) if p.start else None,
              "last": localtime.day(localtime.last_day(p.end, book.tz), book.tz, loc) if p.end else None}
    query = request.url.query
    html = env.get_template("dashboard.html").render(
        t=labels_for(lang), lang=lang, d=data, data_json=json.dumps(data, default=str).replace("</", "<\\/"), p=p,
        months=sorted(months, reverse=True), query=query, principal=principal, clock=clock, f=_env_for(clock),
        period=period, backfill=backfill, unmeasured=unmeasured, backfill_minutes=book.config.backfill_minutes,
        min_followup=p.min_followup_days if p.min_followup_days is not None else book.config.min_followup_days,
        start_value=p.start.astimezone(book.tz).date().isoformat() if p.start else "",
        end_value=p.end.astimezone(book.tz).date().isoformat() if p.end else "")
    return HTMLResponse(html)


@router.get("/rapport", response_class=HTMLResponse)
def printable_report(request: Request, month: str, p: Params = Depends(params)):
    principal = _principal_or_login(request)
    if principal is None:
        return _login_redirect(request)
    if not MONTH.match(month):
        raise HTTPException(422, detail=f"month: mois invalide ({month[:20]!r}); attendu AAAA-MM")
    report = request.app.state.book.monthly_report(month, p)
    lang = lang_of(request)
    clock = _clock(request, lang, report["period"]["end"])
    return HTMLResponse(env.get_template("report.html").render(t=labels_for(lang), lang=lang, r=report,
                                                               principal=principal, clock=clock, f=_env_for(clock)))
