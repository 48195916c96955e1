"""The social worker's page (French, server-rendered): the queue, a person's file, writing and approving a
frame, consent, what is due for review. Login: a form that takes a token and keeps it in the `dyade_token`
cookie (SameSite=Strict, so forms cannot be posted from another site)."""
from __future__ import annotations

import re
from pathlib import Path as FsPath
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import Field, ValidationError

from dyade.auth import Principal, read_token
from dyade.contracts import ConsentStatus, ReferralStatus, Role
from dyade.contracts.envelope import describe_validation_error
from dyade.web import check_sign_in, page_principal, signed_in, signed_out
from services.infosocial.domain.content import PERSON_KEY, Approval, Archive, ConsentRecord, FrameSubmission, Model
from services.infosocial.domain.referrals import ALLOWED, LABELS
from services.infosocial.domain.review import today_in_montreal
from services.infosocial.frames import Problem, utcnow
from services.infosocial.forms import frame_form_values, parse_frame_form
from services.infosocial.identities import Lookup
from services.infosocial.overview import due_for_review, frame_list
from services.infosocial.runtime import Runtime

router = APIRouter(include_in_schema=False)
templates = Environment(loader=FileSystemLoader(FsPath(__file__).parent / "templates"),
                        autoescape=select_autoescape(["html"]))


class OverrideNote(Model):
    note: str = Field(min_length=3, max_length=2000)
ALLOWED_ROLES = {Role.SOCIAL_WORKER}  # not admin: frames, identities and referrals are the social workers' work
ADMIN_REFUSED = ("Le rôle « admin » n'a pas accès à cette page (réservée aux intervenantes sociales) : administrer "
                 "la plateforme ne donne accès ni aux fiches, ni aux renseignements de santé, ni aux identités.")


def render(name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    return HTMLResponse(templates.get_template(name).render(**ctx), status_code=status)


def rt(request: Request) -> Runtime:
    return request.app.state.runtime


def principal(request: Request) -> Principal | None:
    return page_principal(request, set(Role))


def guard(request: Request) -> Principal | HTMLResponse:
    who = principal(request)
    if who is None:
        return render("login.html", 401, error=None)
    if who.role not in ALLOWED_ROLES:
        return render("login.html", 403, error=refused(who.role))
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
        url += "?" + urlencode(params)
    return RedirectResponse(url, status_code=303)


@router.get("/", response_class=HTMLResponse)
def home(request: Request):
    token = request.query_params.get("access_token")
    if token and principal(request):
        return signed_in(request, token, "/")
    who = guard(request)
    if not isinstance(who, Principal):
        return who
    r = rt(request)
    today = today_in_montreal(utcnow())
    queue = r.queue.list(statuses=[s.value for s in ReferralStatus if s != ReferralStatus.FERMEE], person_key=None,
                         limit=200)
    for item in queue:
        item["moves"] = [(s.value, LABELS[s]) for s in sorted(ALLOWED[ReferralStatus(item["status"])])]
    due = due_for_review(r.factory, today)
    pending = frame_list(r.factory, today=today, pending_only=True)
    shown = identities(request, [x["person_key"] for x in (*queue, *pending, *due)], "infosocial: file de travail")
    return render("queue.html", who=who, queue=queue, due=due, pending=pending, today=today, names=shown.names,
                  identity_notice=shown.notice, msg=request.query_params.get("msg"),
                  error=request.query_params.get("error"))


@router.post("/connexion")
async def login(request: Request):
    form = await request.form()
    token = str(form.get("token", "")).strip()
    who, problem = check_sign_in(request, token, ALLOWED_ROLES)
    if problem == "invalid":
        return render("login.html", 401, error="Jeton invalide ou expiré.")
    if problem == "role":
        return render("login.html", 403, error=refused(read_token(request.app.state.token_secret, token).role))
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
    referrals = r.queue.list(statuses=None, person_key=person_key, limit=50) if person_key.startswith("p_") else []
    shown = identities(request, [person_key], "infosocial: dossier de la personne")
    return render("person.html", who=who, person_key=person_key, frame=frame, versions=versions or [],
                  referrals=referrals, identity=shown.names.get(person_key), identity_notice=shown.notice,
                  consent_statuses=[s.value for s in ConsentStatus],
                  msg=request.query_params.get("msg"), error=request.query_params.get("error"))


@router.get("/fiches/nouvelle", response_class=HTMLResponse)
def new_frame_form(request: Request, person_key: str = ""):
    who = guard(request)
    if not isinstance(who, Principal):
        return who
    values: dict[str, Any] = {"person_key": person_key}
    snap = rt(request).reads.for_person(person_key) if person_key else None
    if snap is not None:
        values = frame_form_values(snap)
    return render("frame_form.html", who=who, values=values, errors=None)


@router.post("/fiches", response_class=HTMLResponse)
async def submit_frame(request: Request):
    who = guard(request)
    if not isinstance(who, Principal):
        return who
    form = {k: str(v) for k, v in (await request.form()).items()}
    try:
        sub = FrameSubmission.model_validate(parse_frame_form(form))
        written = rt(request).frames.submit(sub, who.subject)
    except ValidationError as exc:
        return render("frame_form.html", 422, who=who, values=form, errors=describe_validation_error(exc, 10))
    except (Problem, ValueError) as exc:
        return render("frame_form.html", 422, who=who, values=form, errors=str(getattr(exc, "message", exc)))
    return back(f"/personnes/{sub.person_key}", f"Version {written.version} enregistrée, en attente d'approbation")


@router.post("/fiches/{frame_id}/approuver")
async def approve(frame_id: str, request: Request):
    who = guard(request)
    if not isinstance(who, Principal):
        return who
    form = await request.form()
    person_key = str(form.get("person_key", ""))
    try:
        w = rt(request).frames.approve(frame_id, who.subject, Approval())
    except Problem as exc:
        return back(f"/personnes/{person_key}", error=exc.message)
    return back(f"/personnes/{person_key}", f"Version {w.version} approuvée: fiche active")


@router.post("/fiches/{frame_id}/consentement")
async def consent(frame_id: str, request: Request):
    who = guard(request)
    if not isinstance(who, Principal):
        return who
    form = {k: str(v).strip() for k, v in (await request.form()).items()}
    person_key = form.pop("person_key", "")
    try:
        rec = ConsentRecord.model_validate({
            "status": form.get("status"), "date": form.get("date") or None,
            "scope": [s.strip() for s in form.get("scope", "").split(",") if s.strip()],
            "legal_basis": form.get("legal_basis") or None, "justification": form.get("justification") or None,
            "note": form.get("note") or None})
        rt(request).frames.record_consent(frame_id, rec, who.subject, rec.note)
    except ValidationError as exc:
        return back(f"/personnes/{person_key}", error=describe_validation_error(exc))
    except Problem as exc:
        return back(f"/personnes/{person_key}", error=exc.message)
    return back(f"/personnes/{person_key}", "Consentement consigné")


@router.post("/references/{referral_id}/statut")
async def move_referral(referral_id: str, request: Request):
    who = guard(request)
    if not isinstance(who, Principal):
        return who
    form = {k: str(v).strip() for k, v in (await request.form()).items()}
    try:
        target = ReferralStatus(form.get("status", ""))
        rt(request).queue.move(referral_id, target, who.subject, note=form.get("note") or None,
                               first_contact_at=None, person_notified=form.get("person_notified") == "on")
    except ValueError:
        return back("/", error="Statut inconnu")
    except Problem as exc:
        return back("/", error=exc.message)
    return back("/", f"Référence {referral_id}: {LABELS[target]}")


@router.post("/fiches/{frame_id}/archiver")
async def archive(frame_id: str, request: Request):
    who = guard(request)
    if not isinstance(who, Principal):
        return who
    form = {k: str(v).strip() for k, v in (await request.form()).items()}
    person_key = form.get("person_key", "")
    try:
        reason = Archive.model_validate({"reason": form.get("reason", "")}).reason
        rt(request).frames.archive(frame_id, who.subject, reason)
    except ValidationError as exc:
        return back(f"/personnes/{person_key}", error=describe_validation_error(exc))
    except Problem as exc:
        return back(f"/personnes/{person_key}", error=exc.message)
    return back(f"/personnes/{person_key}", "Fiche archivée: retirée des terminaux")


@router.post("/personnes/{person_key}/recurrence")
async def recurrence(person_key: str, request: Request):
    who = guard(request)
    if not isinstance(who, Principal):
        return who
    form = {k: str(v).strip() for k, v in (await request.form()).items()}
    try:
        body = OverrideNote.model_validate({"note": form.get("note", "")})
        if not re.fullmatch(PERSON_KEY, person_key):
            raise Problem(422, "clé de personne invalide")
        rt(request).queue.override(person_key, recurrent=False, note=body.note, author=who.subject, until=None)
    except ValidationError as exc:
        return back(f"/personnes/{person_key}", error=describe_validation_error(exc))
    except Problem as exc:
        return back(f"/personnes/{person_key}", error=exc.message)
    return back(f"/personnes/{person_key}", "Triage informé: la personne n'est plus traitée comme récurrente")
