"""HTTP API of Info-social (thin: validate, delegate, answer)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import AwareDatetime, Field, field_validator

from dyade.auth import Principal, requires
from dyade.contracts import Criterion, InformationType, ReferralStatus, Role
from dyade.contracts.text import Line, OptLine, OptText, Text
from services.infosocial.adapters import desk_views, register
from services.infosocial.entrypoints import scope
from services.infosocial.domain.content import (PERSON_KEY, Approval, Archive, ConsentRecord, FrameSubmission,
                                                Model)
from services.infosocial.domain import desk as D
from services.infosocial.domain import suggestions as SG
from services.infosocial.domain.labels import AGE_BANDS, DISMISS_REASONS, ORIGINS
from services.infosocial.domain.review import today_in_montreal
from services.infosocial.domain.visibility import READ_ROLES
from services.infosocial.adapters.frames import Problem
from dyade.clock import utcnow
from services.infosocial.adapters.overview import frame_counts, frame_list
from services.infosocial.runtime import Runtime

router = APIRouter(prefix="/v1")
SocialWorker = Annotated[Principal, Depends(requires(Role.SOCIAL_WORKER))]
Reader = Annotated[Principal, Depends(requires(*READ_ROLES))]
Admin = Annotated[Principal, Depends(requires(Role.ADMIN))]
PersonKey = Annotated[str, Path(pattern=PERSON_KEY, description="Clé pseudonyme `p_…`.")]
FrameId = Annotated[str, Path(pattern=r"^f_[0-9a-f]{16}$", description="Identifiant de fiche `f_…`.")]
ReferralId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._:\-]{1,80}$", description="Identifiant de référence.")]
SuggestionId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._:\-]{1,80}$", description="Identifiant de suggestion.")]
CriterionQ = Annotated[Criterion | None, Query(description="Critère d'admissibilité.")]
SectorQ = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9 ._\-]{1,40}$",
                                      description="Secteur de l'appel (lu auprès du triage), ou `inconnu`.")]
AgeQ = Annotated[Literal[tuple(AGE_BANDS)] | None, Query(  # type: ignore[valid-type]
    description="Tranche d'âge (date de naissance lue auprès d'intake, lecture consignée).")]
PageQ = Annotated[int, Query(ge=1, le=100_000)]
PerPageQ = Annotated[int, Query(ge=1, le=D.MAX_PER_PAGE)]
CallId = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9._:\-]{1,64}$",
                                     description="Appel pour lequel la fiche est consultée (audit).")]


def rt(request: Request) -> Runtime:
    return request.app.state.runtime


class WrittenOut(Model):
    frame_id: str
    version: int
    status: str
    created: bool = False


class StatusMove(Model):
    status: ReferralStatus
    note: OptText = Field(None, max_length=2000)
    first_contact_at: AwareDatetime | None = None
    person_notified: bool = Field(False, description="Refus: la personne est avisée que je reste disponible.")


class ConfirmIn(Model):
    note: OptText = Field(None, max_length=2000)


class DismissIn(Model):
    reason: Literal[tuple(DISMISS_REASONS)] = Field(  # type: ignore[valid-type]
        description="Motif: " + ", ".join(f"`{k}` ({v[0]})" for k, v in DISMISS_REASONS.items()))
    note: OptText = Field(None, max_length=2000, description="Obligatoire pour le motif `autre`.")


class SearchIn(Model):
    last_name: Line = Field(min_length=1, max_length=100)
    first_name: OptLine = Field(None, max_length=100)
    birth_date: date

    @field_validator("birth_date")
    @classmethod
    def _plausible(cls, value: date) -> date:
        if not (date(1900, 1, 1) <= value <= today_in_montreal(utcnow())):
            raise ValueError("date de naissance hors limites (1900-01-01 à aujourd'hui)")
        return value


class OverrideIn(Model):
    recurrent: bool = Field(False, description="false: la personne n'est plus à traiter comme récurrente.")
    note: Text = Field(min_length=3, max_length=2000)
    until: AwareDatetime | None = None


# -- frames ---------------------------------------------------------------------------------------------
@router.post("/frames", status_code=201, response_model=WrittenOut, tags=["fiches"],
             summary="Écrire une fiche (ou une nouvelle version de la fiche ouverte de la personne)")
def create_frame(body: FrameSubmission, who: SocialWorker, request: Request) -> WrittenOut:
    w = rt(request).frames.submit(body, who.subject)
    return WrittenOut(frame_id=w.frame_id, version=w.version, status=w.status, created=w.created)


@router.put("/frames/{frame_id}", status_code=201, response_model=WrittenOut, tags=["fiches"],
            summary="Nouvelle version d'une fiche (en attente d'approbation)")
def new_version(frame_id: FrameId, body: FrameSubmission, who: SocialWorker, request: Request) -> WrittenOut:
    w = rt(request).frames.submit(body, who.subject, frame_id=frame_id)
    return WrittenOut(frame_id=w.frame_id, version=w.version, status=w.status)


@router.post("/frames/{frame_id}/approve", response_model=WrittenOut, tags=["fiches"],
             summary="Approuver la version en attente (par une autre personne que l'autrice)")
def approve(frame_id: FrameId, who: SocialWorker, request: Request, body: Approval | None = None) -> WrittenOut:
    w = rt(request).frames.approve(frame_id, who.subject, body or Approval())
    return WrittenOut(frame_id=w.frame_id, version=w.version, status=w.status)


@router.post("/frames/{frame_id}/consent", tags=["fiches"], summary="Consigner le consentement (effet immédiat)")
def record_consent(frame_id: FrameId, body: ConsentRecord, who: SocialWorker, request: Request) -> dict:
    c = rt(request).frames.record_consent(frame_id, body, who.subject, body.note)
    return {"frame_id": frame_id, "status": c.status.value, "date": c.date.isoformat() if c.date else None,
            "scope": list(c.scope), "legal_basis": c.basis(today_in_montreal(utcnow())).value}


@router.post("/frames/{frame_id}/archive", response_model=WrittenOut, tags=["fiches"],
             summary="Archiver une fiche (retirée des terminaux)")
def archive(frame_id: FrameId, body: Archive, who: SocialWorker, request: Request) -> WrittenOut:
    w = rt(request).frames.archive(frame_id, who.subject, body.reason)
    return WrittenOut(frame_id=w.frame_id, version=w.version, status=w.status)


@router.get("/frames", tags=["fiches"], summary="Fiches ouvertes (métadonnées): en attente, à réviser")
def list_frames(request: Request, who: SocialWorker,
                due_within_days: Annotated[int | None, Query(ge=0, le=3650)] = None,
                pending: bool = False, limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[dict]:
    return frame_list(rt(request).factory, today=today_in_montreal(utcnow()), due_within_days=due_within_days,
                      pending_only=pending, limit=limit)


@router.get("/frames/{frame_id}", tags=["fiches"], summary="Une fiche, selon le rôle (lecture auditée)")
def get_frame(frame_id: FrameId, who: Reader, request: Request, call_id: CallId = None) -> dict:
    r = rt(request).reads
    snap = r.of_frame(frame_id)
    scope.check(request, who, snap)  # a dyad: only a person of its sector (dyade.access)
    return r.read(who, snap, call_id=call_id, missing=f"fiche {frame_id} introuvable ou inactive")


@router.get("/frames/{frame_id}/versions", tags=["fiches"], summary="Versions d'une fiche (qui, quand, pourquoi)")
def versions(frame_id: FrameId, who: SocialWorker, request: Request, call_id: CallId = None) -> list[dict]:
    return rt(request).reads.versions(who, frame_id, call_id)


@router.get("/frames/{frame_id}/versions/{number}", tags=["fiches"], summary="Une version antérieure")
def version(frame_id: FrameId, number: Annotated[int, Path(ge=1, le=100_000)], who: SocialWorker,
            request: Request, call_id: CallId = None) -> dict:
    return rt(request).reads.version(who, frame_id, number, call_id)


# -- persons ---------------------------------------------------------------------------------------------
@router.get("/persons/{person_key}/frame", tags=["personnes"],
            summary="Fiche de la personne pour les terminaux (vue selon le rôle, lecture auditée)")
def person_frame(person_key: PersonKey, who: Reader, request: Request, call_id: CallId = None) -> Response:
    r = rt(request).reads
    snap = r.for_person(person_key)
    scope.check(request, who, snap)  # a dyad: only a person of its sector (dyade.access)
    view = r.read(who, snap, call_id=call_id)
    return Response(orjson.dumps(view), media_type="application/json")  # the terminals' hot path


@router.get("/persons/{person_key}/export", tags=["personnes"],
            summary="Tout le dossier d'une personne (droit d'accès), avec chaque communication la concernant")
def export(person_key: PersonKey, who: SocialWorker, request: Request) -> dict:
    return rt(request).reads.export(who, person_key)


@router.post("/persons/{person_key}/recurrence-override", status_code=201, tags=["personnes"],
             summary="La personne n'est plus à traiter comme récurrente (publié au triage)")
def override(person_key: PersonKey, body: OverrideIn, who: SocialWorker, request: Request) -> dict:
    if body.until and body.until <= utcnow():
        raise Problem(422, "until: doit être dans le futur")
    return rt(request).queue.override(person_key, recurrent=body.recurrent, note=body.note, author=who.subject,
                                      until=body.until)


# -- referral queue ------------------------------------------------------------------------------------------
@router.get("/referrals", tags=["références"], summary="File des références")
def referrals(request: Request, who: SocialWorker, status: Annotated[list[ReferralStatus] | None, Query()] = None,
              person_key: Annotated[str | None, Query(pattern=PERSON_KEY)] = None,
              limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[dict]:
    return rt(request).queue.list(statuses=[s.value for s in status or []], person_key=person_key, limit=limit)


@router.get("/referrals/{referral_id}", tags=["références"], summary="Une référence et ses étapes")
def referral(referral_id: ReferralId, who: SocialWorker, request: Request) -> dict:
    return rt(request).queue.get(referral_id)


@router.post("/referrals/{referral_id}/status", tags=["références"], summary="Faire avancer une référence")
def move(referral_id: ReferralId, body: StatusMove, who: SocialWorker,
         request: Request) -> dict:
    return rt(request).queue.move(referral_id, body.status, who.subject, note=body.note,
                                  first_contact_at=body.first_contact_at, person_notified=body.person_notified)


# -- the desk: paged lists, suggestions, caseload, search -----------------------------------------------------
def _page_out(page: D.Page) -> dict:
    return {"items": page.items, "total": page.total, "page": page.page, "per_page": page.per_page,
            "pages": page.pages, "notice": page.notice}


@router.get("/desk", tags=["bureau"], summary="Compteurs du bureau: à approuver, révisions dues, suggestions, références")
def desk_counts(request: Request, who: SocialWorker) -> dict:
    r = rt(request)
    return r.desk.counts() | {"frames": frame_counts(r.factory, today_in_montreal(utcnow()))}


@router.get("/desk/suggestions", tags=["bureau"],
            summary="Suggestions du triage (une par personne), classées, filtrées, paginées")
def desk_suggestions(request: Request, who: SocialWorker,
                     state: Annotated[Literal[(*SG.STATES, D.ALL_STATES)], Query()] = SG.OPEN,  # type: ignore[valid-type]
                     criterion: CriterionQ = None, sector: SectorQ = None, age: AgeQ = None,
                     sort: Annotated[Literal[D.SUGGESTION_SORTS], Query()] = "priorite",  # type: ignore[valid-type]
                     page: PageQ = 1, per_page: PerPageQ = D.PER_PAGE) -> dict:
    f = D.parse({"state": state, "criterion": criterion.value if criterion else None, "sector": sector, "age": age,
                 "sort": sort, "page": str(page), "per_page": str(per_page)}, kind="suggestions")
    return _page_out(desk_views.suggestions(request, f, today_in_montreal(utcnow())))


@router.get("/desk/referrals", tags=["bureau"], summary="Références, classées, filtrées, paginées")
def desk_referrals(request: Request, who: SocialWorker,
                   state: Annotated[str, Query(pattern=r"^(ouvertes|toutes|recue|admissible|premier_contact|en_suivi|"
                                                       r"refusee|fermee)$")] = D.OPEN_STATES,
                   criterion: CriterionQ = None, sector: SectorQ = None, age: AgeQ = None,
                   origin: Annotated[Literal[tuple(ORIGINS)] | None, Query()] = None,  # type: ignore[valid-type]
                   sort: Annotated[Literal[D.REFERRAL_SORTS], Query()] = "priorite",  # type: ignore[valid-type]
                   page: PageQ = 1, per_page: PerPageQ = D.PER_PAGE) -> dict:
    f = D.parse({"state": state, "criterion": criterion.value if criterion else None, "sector": sector, "age": age,
                 "origin": origin, "sort": sort, "page": str(page), "per_page": str(per_page)}, kind="referrals")
    return _page_out(desk_views.referrals(request, f, today_in_montreal(utcnow())))


@router.get("/suggestions/{suggestion_id}", tags=["bureau"], summary="Une suggestion du triage")
def suggestion(suggestion_id: SuggestionId, who: SocialWorker, request: Request) -> dict:
    return rt(request).queue.suggestion(suggestion_id)


@router.post("/suggestions/{suggestion_id}/confirm", tags=["bureau"],
             summary="Confirmer une suggestion: elle devient une référence (reçue, publiée)")
def confirm(suggestion_id: SuggestionId, who: SocialWorker, request: Request, body: ConfirmIn | None = None) -> dict:
    return rt(request).queue.confirm(suggestion_id, who.subject, (body or ConfirmIn()).note)


@router.post("/suggestions/{suggestion_id}/dismiss", tags=["bureau"], summary="Écarter une suggestion (motif consigné)")
def dismiss(suggestion_id: SuggestionId, body: DismissIn, who: SocialWorker, request: Request) -> dict:
    return rt(request).queue.dismiss(suggestion_id, who.subject, body.reason, body.note)


@router.get("/caseload", tags=["bureau"],
            summary="Personnes suivies et appels par mois avant / depuis le premier contact (d'après le triage)")
def caseload(request: Request, who: SocialWorker, team: bool = False, page: PageQ = 1,
             per_page: PerPageQ = D.PER_PAGE) -> dict:
    found, missing = desk_views.caseload(request, None if team else who.subject, page, per_page)
    return _page_out(found) | {"triage_unavailable": missing}


@router.post("/persons/search", tags=["personnes"],
             summary="Trouver une personne par nom et date de naissance (auprès d'intake, lecture consignée)")
def search(body: SearchIn, who: SocialWorker, request: Request) -> dict:
    out = desk_views.search(request, last_name=body.last_name, first_name=body.first_name,
                            birth_date=body.birth_date)
    if out["notice"] and not out["found"]:
        refused = out["notice"].startswith("recherche refusée")
        raise Problem(422 if refused else 503, out["notice"] if refused else f"recherche indisponible: {out['notice']}")
    return out


# -- audit and operations ----------------------------------------------------------------------------------------
@router.get("/audit/reads", tags=["audit"], summary="Journal des lectures de fiches (administrateurs)")
def audit(request: Request, who: Admin, person_key: Annotated[str | None, Query(pattern=PERSON_KEY)] = None,
          frame_id: Annotated[str | None, Query(pattern=r"^f_[0-9a-f]{16}$")] = None,
          reader: Annotated[str | None, Query(pattern=r"^[^\x00-\x1f]{1,100}$")] = None, since: AwareDatetime | None = None,
          limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[dict]:
    return rt(request).reads.audit_list(person_key=person_key, frame_id=frame_id, reader=reader, since=since,
                                        limit=limit)


@router.get("/audit/communications", tags=["audit"],
            summary="Registre des communications de renseignements, tous services confondus (administrateurs)",
            description="Chaque communication d'un renseignement sur une personne (LRSSS, art. 74 à 76) : quoi, à "
                        "qui, pour quelle finalité, sur quelle base légale, avec quelle justification, quand; par "
                        "Info-social, intake ou l'application terrain. Du plus récent au plus ancien.")
def communications(request: Request, who: Admin,
                   person_key: Annotated[str | None, Query(pattern=PERSON_KEY)] = None,
                   service: Annotated[Literal[register.SOURCES] | None, Query(  # type: ignore[valid-type]
                       description="Service qui a communiqué.")] = None,
                   information: Annotated[InformationType | None, Query(description="Type de renseignement.")] = None,
                   since: Annotated[AwareDatetime | None, Query(description="Depuis (inclus).")] = None,
                   until: Annotated[AwareDatetime | None, Query(description="Jusqu'à (exclu).")] = None,
                   page: PageQ = 1,
                   per_page: Annotated[int, Query(ge=1, le=register.MAX_PER_PAGE)] = register.PER_PAGE) -> dict:
    if since and until and until <= since:
        raise Problem(422, "until: doit être postérieur à since")
    return rt(request).register.page(person_key=person_key, source=service, information=information, since=since,
                                     until=until, page=page, per_page=per_page)


@router.post("/admin/sweep", tags=["audit"], summary="Lancer la revue quotidienne (révisions dues, fiches périmées)")
def sweep(request: Request, who: Admin, at: AwareDatetime | None = None) -> dict:
    return rt(request).frames.sweep(at or datetime.now().astimezone())
