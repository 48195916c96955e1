"""Need to know on the police-view read path (`GET /v1/persons/{key}/frame`, `GET /v1/frames/{id}`): a dyad
reads the frame of a person of its sector only (dyade.access). Info-social keeps frames, not calls: it asks
triage — which holds each decision's sector and applies the same rule — with the reader's own token
(`GET /v1/persons/{key}/triage`, audited by triage): the frame is shown when triage answers with a decision of
the dyad's sector. Triage not answering → 503 (refused, not shown: the field app's alert detail carries the
police view of the dyad's own alerts without this call). Other roles: unchanged (their view by role)."""
from __future__ import annotations

import httpx
from fastapi import Request

from dyade import access
from dyade.auth import Principal
from services.infosocial.domain.visibility import FrameSnapshot
from services.infosocial.adapters.frames import Problem
from services.infosocial.adapters.identities import page_token

TRIAGE_DOWN = ("le triage ne répond pas : impossible de vérifier que cette personne relève de votre secteur "
               "(la fiche d'une personne de vos alertes reste dans l'application des dyades)")


def check(request: Request, who: Principal, snap: FrameSnapshot | None) -> None:
    """AccessDenied (403) for a dyad token missing a claim, or when the frame's person has no decision of the
    dyad's sector; Problem(503) when triage cannot say. No-op for the other roles and for no frame (→ 404)."""
    if not access.scoped(who):
        return
    access.require_claims(who)
    if snap is None or not snap.active or snap.archived:
        return  # nothing a dyad may see: the read answers 404
    triage = request.app.state.triage
    try:
        r = triage.client.get(f"{triage.base_url}/v1/persons/{snap.person_key}/triage",
                              headers={"Authorization": f"Bearer {page_token(request)}"})
    except httpx.HTTPError:
        raise Problem(503, TRIAGE_DOWN) from None
    if r.status_code == 200:
        sectors = [d.get("sector") for d in r.json().get("dernieres_decisions") or ()]
        if access.may_see(who, sectors=sectors):
            return
    elif r.status_code not in (403, 404):
        raise Problem(503, TRIAGE_DOWN)
    raise access.AccessDenied(access.out_of_sector(
        who, f"la fiche de {snap.person_key} (aucune décision de votre secteur ne concerne cette personne)"))
