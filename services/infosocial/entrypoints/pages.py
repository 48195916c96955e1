"""The social worker's pages (server-rendered, French first, English with ?lang=en — kept in a cookie): the desk
(what to approve and review first, the referrals, paged and filtered), triage's suggestions to confirm, her
caseload, finding a person by name and birth date, a person's file, writing and approving a frame, consent.
Login: a form that takes a token and keeps it in the `dyade_token` cookie (SameSite=Strict, so forms cannot be
posted from another site), or a sign-in link (`?access_token=` on any page, exchanged for the cookie and taken
out of the address: dyade.web.sign_in_link)."""
from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path as FsPath
from typing import Any, Callable
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import Field, ValidationError

from dyade.auth import Principal, read_token
from dyade.contracts import LEGAL_BASIS_LABELS, ConsentStatus, LegalBasis, ReferralStatus, Role
from dyade.contracts.envelope import describe_validation_error
from dyade.contracts.text import Line, OptLine, OptText, Text
from dyade.web import audience_refused, check_sign_in, lang_of, page_principal, sign_in_link, signed_in, signed_out
from services.infosocial.adapters import desk_views
from services.infosocial.domain import desk as D
from services.infosocial.domain.caseload import ZONE
from services.infosocial.domain import labels as L
from services.infosocial.domain.content import (PERSON_KEY, VERDICT_KINDS, Approval, Archive, ConsentRecord,
                                                FrameSubmission, Model)
from services.infosocial.domain.referrals import ALLOWED
from services.infosocial.domain.review import REVIEW_NOTICE_DAYS, today_in_montreal
from services.infosocial.adapters.frames import ConsentConflict, Problem
from dyade.clock import utcnow
from services.infosocial.entrypoints.forms import frame_form_values, parse_frame_form
from services.infosocial.adapters.identities import Lookup
from services.infosocial.adapters.overview import due_for_review, frame_counts, frame_list
from services.infosocial.runtime import Runtime

router = APIRouter(include_in_schema=False, dependencies=[Depends(sign_in_link)])
templates = Environment(loader=FileSystemLoader(FsPath(__file__).parent.parent / "templates"),
                        autoescape=select_autoescape(["html"]))
LANG_COOKIE = "dyade_lang"
PANEL = 8  # items of each list in the desk's first panel


def _local(iso: str | None, fmt: str) -> str:
    if not iso:
        return ""
    try:
        return datetime.fromisoformat(iso).astimezone(ZONE).strftime(fmt)
    except (TypeError, ValueError):
        return str(iso)[:10]


templates.filters["day"] = lambda iso: _local(iso, "%Y-%m-%d")
templates.filters["when"] = lambda iso: _local(iso, "%Y-%m-%d %H:%M")
templates.globals.update(t=L.FR, lang="fr", L=L)


class OverrideNote(Model):
    note: Text = Field(min_length=3, max_length=2000)


class MoveNote(Model):
    note: OptText = Field(None, max_length=2000)


ALLOWED_ROLES = {Role.SOCIAL_WORKER}  # not admin: frames, identities and referrals are the social workers' work
ADMIN_REFUSED = ("Le rôle « admin » n'a pas accès à cette page (réservée aux intervenantes sociales) : administrer "
                 "la plateforme ne donne accès ni aux fiches, ni aux renseignements de santé, ni aux identités.")


def lang_for(request: Request) -> str:
    """?lang=fr|en, else the language kept in the cookie, else the browser's (French unless English)."""
    asked = request.query_params.get("lang")
    if asked in L.LANGS:
        return asked
    kept = request.cookies.get(LANG_COOKIE)
    return kept if kept in L.LANGS else lang_of(request)


def page(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    lang = lang_for(request)
    other = "en" if lang == "fr" else "fr"
    query = {k: v for k, v in request.query_params.items() if k not in ("lang", "msg", "error", "access_token")}
    ctx.setdefault("who", None)
    html = templates.get_template(name).render(
        lang=lang, t=L.texts(lang), other_lang_url=request.url.path + "?" + urlencode(query | {"lang": other}),
        **ctx)
    response = HTMLResponse(html, status_code=status)
    if request.query_params.get("lang") in L.LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="strict", httponly=True)
    return response


def rt(request: Request) -> Runtime:
    return request.app.state.runtime


def principal(request: Request) -> Principal | None:
    return page_principal(request, set(Role))


def guard(request: Request) -> Principal | HTMLResponse:
    who = principal(request)
    if who is None:
        return page(request, "login.html", 401, error=None)
    if who.role not in ALLOWED_ROLES:
        return page(request, "login.html", 403, error=refused(who.role))
    return who


def refused(role: Role) -> str:
    if role == Role.ADMIN:
        return ADMIN_REFUSED
    return f"Le rôle « {role.value} » n'a pas accès à cette page (réservée aux intervenantes sociales)."


def identities(request: Request, keys, purpose: str) -> Lookup:
    return request.app.state.identities.lookup(request, keys, purpose)


def back(url: str, message: str | None = None, error: str | None = None) -> RedirectResponse:
    params = {k: v for k, v in (("msg", message), ("error", error)) if v}
    if params:
        url += ("&" if "?" in url else "?") + urlencode(params)
    return RedirectResponse(url, status_code=303)


async def posted(request: Request) -> tuple[Principal, dict[str, str]] | HTMLResponse:
    """The signed-in social worker and the form's fields (trimmed), or the sign-in page."""
    who = guard(request)
    if not isinstance(who, Principal):
        return who
    return who, {k: str(v).strip() for k, v in (await request.form()).items()}


def acted(to: str, act: Callable[[], str]) -> RedirectResponse:
    """Do what the form asks and come back to `to` with what was done, or with why it was refused."""
    try:
        return back(to, act())
    except ValidationError as exc:
        return back(to, error=describe_validation_error(exc))
    except Problem as exc:
        return back(to, error=exc.message)


def local_path(value: str | None, default: str = "/") -> str:
    """A page of this site to come back to (never another site)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value and len(value) < 1000:
        return value
    return default


def here(request: Request) -> str:
    query = {k: v for k, v in request.query_params.items() if k not in ("msg", "error", "access_token")}
    return request.url.path + ("?" + urlencode(query) if query else "")


def common(request: Request, who: Principal, **ctx: Any) -> dict:
    return {"who": who, "msg": request.query_params.get("msg"), "error": request.query_params.get("error"),
            "here": here(request), **ctx}


def moves(status: str, lang: str) -> list[tuple[str, str]]:
    return [(s.value, L.status(s.value, lang)) for s in sorted(ALLOWED[ReferralStatus(status)])]


@router.get("/", response_class=HTMLResponse)
def home(request: Request):
    who = guard(request)
    if not isinstance(who, Principal):
        return who
    r, lang = rt(request), lang_for(request)
    today = today_in_montreal(utcnow())
    f = D.parse(request.query_params, kind="referrals")
    refs = desk_views.referrals(request, f, today)
    for item in refs.items:
        item["moves"] = moves(item["status"], lang)
    pending = frame_list(r.factory, today=today, pending_only=True, limit=PANEL)
    due = due_for_review(r.factory, today, limit=PANEL)
    shown = identities(request, [x["person_key"] for x in (*pending, *due, *refs.items)], "infosocial: file de travail")
    states = [(D.OPEN_STATES, L.texts(lang)["open"]), *L.status_choices(lang), (D.ALL_STATES, L.texts(lang)["all"])]
    return page(request, "queue.html", **common(
        request, who, nav="desk", refs=refs, f=f, due=due, pending=pending, frame_counts=frame_counts(r.factory, today),
        counts=r.desk.counts(), names=shown.names, identity_notice=shown.notice, states=states,
        sorts=[(s, L.of(L.SORTS, s, lang)) for s in D.REFERRAL_SORTS],
        sectors=sectors(request, lang), origins=L.choices(L.ORIGINS, lang)))


def sectors(request: Request, lang: str) -> list[tuple[str, str]]:
    return [(x, x) for x in rt(request).desk.known_sectors()] + [(D.UNKNOWN_SECTOR, L.texts(lang)["unknown_sector"])]


@router.get("/suggestions", response_class=HTMLResponse)
def suggestions_page(request: Request):
    who = guard(request)
    if not isinstance(who, Principal):
        return who
    r, lang = rt(request), lang_for(request)
    f = D.parse(request.query_params, kind="suggestions")
    pg = desk_views.suggestions(request, f, today_in_montreal(utcnow()))
    shown = identities(request, [x["person_key"] for x in pg.items], "infosocial: suggestions du triage")
    states = [*L.choices(L.SUGGESTION_STATE, lang), (D.ALL_STATES, L.texts(lang)["all"])]
    return page(request, "suggestions.html", **common(
        request, who, nav="suggestions", pg=pg, f=f, counts=r.desk.counts(), names=shown.names,
        identity_notice=shown.notice, states=states, sorts=[(s, L.of(L.SORTS, s, lang)) for s in D.SUGGESTION_SORTS],
        sectors=sectors(request, lang)))


@router.post("/suggestions/{suggestion_id}/confirmer")
async def confirm_suggestion(suggestion_id: str, request: Request):
    if not isinstance(got := await posted(request), tuple):
        return got
    who, form = got

    def confirm() -> str:
        out = rt(request).queue.confirm(suggestion_id, who.subject,
                                        MoveNote.model_validate({"note": form.get("note") or None}).note)
        if out.get("joined"):
            return f"Suggestion jointe à la référence ouverte {out['referral_id']}"
        return f"Suggestion confirmée: référence {out['referral_id']} reçue"
    return acted(local_path(form.get("retour"), "/suggestions"), confirm)


@router.post("/suggestions/{suggestion_id}/ecarter")
async def dismiss_suggestion(suggestion_id: str, request: Request):
    if not isinstance(got := await posted(request), tuple):
        return got
    who, form = got

    def dismiss() -> str:
        note = MoveNote.model_validate({"note": form.get("note") or None}).note
        rt(request).queue.dismiss(suggestion_id, who.subject, form.get("motif", ""), note)
        return f"Suggestion écartée: {L.of(L.DISMISS_REASONS, form.get('motif'), 'fr')}"
    return acted(local_path(form.get("retour"), "/suggestions"), dismiss)


@router.get("/suivis", response_class=HTMLResponse)
def caseload_page(request: Request):
    who = guard(request)
    if not isinstance(who, Principal):
        return who
    team = request.query_params.get("equipe") == "1"
    f = D.parse(request.query_params, kind="referrals")
    pg, missing = desk_views.caseload(request, None if team else who.subject, f.page, f.per_page)
    shown = identities(request, [x["person_key"] for x in pg.items], "infosocial: mes suivis")
    return page(request, "caseload.html", **common(
        request, who, nav="caseload", pg=pg, f=CaseloadQuery(team, f), team=team, counts=rt(request).desk.counts(),
        names=shown.names, identity_notice=shown.notice, triage_missing=missing))


class CaseloadQuery:
    """The pager's links of the caseload (keeps « toute l'équipe »)."""

    def __init__(self, team: bool, f: D.Filters):
        self.team, self.f = team, f

    def query(self, page: int) -> str:
        return urlencode({k: v for k, v in (("equipe", "1" if self.team else None), ("page", page)) if v})


class SearchForm(Model):
    last_name: Line = Field(min_length=1, max_length=100)
    first_name: OptLine = Field(None, max_length=100)
    birth_date: date


@router.get("/recherche", response_class=HTMLResponse)
def search_form(request: Request):
    who = guard(request)
    if not isinstance(who, Principal):
        return who
    return page(request, "search.html", **common(request, who, result=None, search_values=None))


@router.post("/recherche", response_class=HTMLResponse)
async def search(request: Request):
    """POST, never GET: names and birth dates stay out of URLs, browser history and access logs."""
    who = guard(request)
    if not isinstance(who, Principal):
        return who
    form = {k: str(v).strip() for k, v in (await request.form()).items()}
    values = {k: form.get(k, "") for k in ("nom", "prenom", "naissance")}
    try:
        q = SearchForm.model_validate({"last_name": values["nom"], "first_name": values["prenom"] or None,
                                       "birth_date": values["naissance"] or None})
        if not (date(1900, 1, 1) <= q.birth_date <= today_in_montreal(utcnow())):
            raise ValueError("date de naissance hors limites")
    except ValidationError:
        return page(request, "search.html", 422, **common(request, who, result=None, search_values=values,
                                                          error=L.texts(lang_for(request))["required"]))
    except ValueError as exc:
        return page(request, "search.html", 422, **common(request, who, result=None, search_values=values,
                                                          error=str(exc)))
    result = desk_views.search(request, last_name=q.last_name, first_name=q.first_name, birth_date=q.birth_date)
    return page(request, "search.html", **common(request, who, result=result, search_values=values))


@router.get("/fiches", response_class=HTMLResponse)
def frames_page(request: Request):
    who = guard(request)
    if not isinstance(who, Principal):
        return who
    r, t = rt(request), L.texts(lang_for(request))
    today = today_in_montreal(utcnow())
    liste = request.query_params.get("liste")
    liste = liste if liste in ("approbations", "revisions") else "toutes"
    f = D.parse(request.query_params, kind="referrals")
    counts = frame_counts(r.factory, today)
    kwargs = {"approbations": dict(pending_only=True), "revisions": dict(due_within_days=REVIEW_NOTICE_DAYS)}.get(
        liste, {})
    frames = frame_list(r.factory, today=today, limit=f.per_page, offset=f.offset, **kwargs)
    total = {"approbations": counts["approvals"], "revisions": counts["reviews"]}.get(liste, counts["open"])
    shown = identities(request, [x["person_key"] for x in frames], "infosocial: liste des fiches")
    title = {"approbations": t["list_approvals"], "revisions": t["list_reviews"]}.get(liste, t["list_frames"])
    return page(request, "frames.html", **common(
        request, who, nav="frames", frames=frames, liste=liste, title=title, total=total, page=f.page,
        pages=max(1, -(-total // f.per_page)), frame_counts=counts, names=shown.names, identity_notice=shown.notice))


@router.post("/connexion")
async def login(request: Request):
    form = await request.form()
    token = str(form.get("token", "")).strip()
    who, problem = check_sign_in(request, token, ALLOWED_ROLES)
    if problem == "invalid":
        return page(request, "login.html", 401, error="Jeton invalide ou expiré.")
    if problem == "role":
        return page(request, "login.html", 403, error=refused(read_token(request.app.state.token_secret, token).role))
    if problem == "audience":
        return page(request, "login.html", 401, error=audience_refused(request, lang_for(request)))
    return signed_in(request, token, "/")


@router.post("/deconnexion")
def logout() -> RedirectResponse:
    return signed_out("/")


@router.get("/personnes/{person_key}", response_class=HTMLResponse)
def person(person_key: str, request: Request):
    who = guard(request)
    if not isinstance(who, Principal):
        return who
    r = rt(request)
    snap = r.reads.for_person(person_key)
    frame = versions = None
    if snap is not None:
        frame = r.reads.read(who, snap, call_id=None, purpose="page")
        versions = r.reads.versions(who, snap.frame_id, None)
    known = bool(re.fullmatch(PERSON_KEY, person_key))
    referrals = r.queue.list(statuses=None, person_key=person_key, limit=50) if known else []
    suggested = r.desk.suggestions_of(person_key) if known else []
    shown = identities(request, [person_key], "infosocial: dossier de la personne")
    suicide = {(e["field"], e["index"]): e for e in (frame or {}).get("suicide_elements", [])}
    return page(request, "person.html", **common(
        request, who, person_key=person_key, frame=frame, versions=versions or [], referrals=referrals,
        suggestions=suggested, identity=shown.names.get(person_key), identity_notice=shown.notice,
        consent_statuses=[s.value for s in ConsentStatus], basis_choices=basis_choices(), suicide=suicide,
        basis_labels={b.value: LEGAL_BASIS_LABELS[b][0] for b in LegalBasis},
        verdict_kinds={k: v[0] for k, v in VERDICT_KINDS.items()}))


@router.get("/fiches/nouvelle", response_class=HTMLResponse)
def new_frame_form(request: Request, person_key: str = ""):
    who = guard(request)
    if not isinstance(who, Principal):
        return who
    values: dict[str, Any] = {"person_key": person_key}
    reads = rt(request).reads
    snap = reads.for_person(person_key) if person_key else None
    if snap is None:
        return frame_form(request, who, values)
    reads.audit(who, snap, "complete", "page", None, utcnow())  # the form shows the whole frame
    return frame_form(request, who, frame_form_values(snap), consent_locked=True,
                      current_consent=L.consent(snap.consent))


# The bases a social worker records without consent (consent itself is the status above them).
RECORDED_BASES = (LegalBasis.LRSSS_74_76, LegalBasis.LRSSS_74_76_VERDICT_NCR, LegalBasis.DANGER_IMMINENT)


def basis_choices() -> list[tuple[str, str]]:
    return [(b.value, LEGAL_BASIS_LABELS[b][0]) for b in RECORDED_BASES]


def frame_form(request: Request, who: Principal, values: dict, errors: str | None = None, status: int = 200,
               consent_locked: bool = False, current_consent: str | None = None) -> HTMLResponse:
    """The frame form. A new version's shows the consent read-only (`consent_locked`) and sends none: only the
    consent form of the person's page changes it."""
    return page(request, "frame_form.html", status, who=who, values=values, errors=errors,
                consent_locked=consent_locked, current_consent=current_consent,
                basis_choices=basis_choices(), verdict_kinds=[(k, v[0]) for k, v in VERDICT_KINDS.items()])


@router.post("/fiches", response_class=HTMLResponse)
async def submit_frame(request: Request):
    who = guard(request)
    if not isinstance(who, Principal):
        return who
    form = {k: str(v) for k, v in (await request.form()).items()}
    locked = "consent_status" not in form  # sent by the form of a new version
    try:
        sub = FrameSubmission.model_validate(parse_frame_form(form))
        written = rt(request).frames.submit(sub, who.subject)
    except ValidationError as exc:
        return frame_form(request, who, form, describe_validation_error(exc, 10), 422, locked)
    except ConsentConflict as exc:  # shown again without the consent fields: sent again, it keeps the current one
        kept = {k: v for k, v in form.items() if not k.startswith("consent_")}
        return frame_form(request, who, kept, exc.message, exc.status, True, L.consent(exc.current))
    except (Problem, ValueError) as exc:
        return frame_form(request, who, form, str(getattr(exc, "message", exc)), 422, locked)
    return back(f"/personnes/{sub.person_key}", f"Version {written.version} enregistrée, en attente d'approbation")


@router.post("/fiches/{frame_id}/approuver")
async def approve(frame_id: str, request: Request):
    if not isinstance(got := await posted(request), tuple):
        return got
    who, form = got

    def approved() -> str:
        return f"Version {rt(request).frames.approve(frame_id, who.subject, Approval()).version} approuvée: fiche active"
    return acted(f"/personnes/{form.get('person_key', '')}", approved)


@router.post("/fiches/{frame_id}/consentement")
async def consent(frame_id: str, request: Request):
    if not isinstance(got := await posted(request), tuple):
        return got
    who, form = got

    def record() -> str:
        rec = ConsentRecord.model_validate({
            "status": form.get("status"), "date": form.get("date") or None,
            "scope": [s.strip() for s in form.get("scope", "").split(",") if s.strip()],
            "legal_basis": form.get("legal_basis") or None, "justification": form.get("justification") or None,
            "note": form.get("note") or None})
        rt(request).frames.record_consent(frame_id, rec, who.subject, rec.note)
        return "Consentement consigné"
    return acted(f"/personnes/{form.get('person_key', '')}", record)


@router.post("/references/{referral_id}/statut")
async def move_referral(referral_id: str, request: Request):
    if not isinstance(got := await posted(request), tuple):
        return got
    who, form = got

    def move() -> str:
        try:
            target = ReferralStatus(form.get("status", ""))
        except ValueError:
            raise Problem(422, "Statut inconnu") from None
        note = MoveNote.model_validate({"note": form.get("note") or None}).note
        rt(request).queue.move(referral_id, target, who.subject, note=note,
                               first_contact_at=None, person_notified=form.get("person_notified") == "on")
        return f"Référence {referral_id}: {L.status(target.value)}"
    return acted(local_path(form.get("retour")), move)


@router.post("/fiches/{frame_id}/archiver")
async def archive(frame_id: str, request: Request):
    if not isinstance(got := await posted(request), tuple):
        return got
    who, form = got

    def archived() -> str:
        rt(request).frames.archive(frame_id, who.subject,
                                   Archive.model_validate({"reason": form.get("reason", "")}).reason)
        return "Fiche archivée: retirée des terminaux"
    return acted(f"/personnes/{form.get('person_key', '')}", archived)


@router.post("/personnes/{person_key}/recurrence")
async def recurrence(person_key: str, request: Request):
    if not isinstance(got := await posted(request), tuple):
        return got
    who, form = got

    def override() -> str:
        body = OverrideNote.model_validate({"note": form.get("note", "")})
        if not re.fullmatch(PERSON_KEY, person_key):
            raise Problem(422, "clé de personne invalide")
        rt(request).queue.override(person_key, recurrent=False, note=body.note, author=who.subject, until=None)
        return "Triage informé: la personne n'est plus traitée comme récurrente"
    return acted(f"/personnes/{person_key}", override)
