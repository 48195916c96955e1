"""Need to know: who may read which person, frame and decision. One rule, here; triage's read API, the notifier
(alerts, the field app) and Info-social's police view apply it to the facts each holds. Pure: no I/O.

**The rule.** A `dyad` token carries two claims, `dyad` (its dyad's id) and `sector` (the sector it works);
both are required, a token missing one is refused (403, the message names the missing claim) before anything
is looked up. A dyad sees the persons, frames and decisions of the calls and alerts routed to it or to its
sector: an alert whose `dyad_id` is the token's dyad (it was sent there, a neighbour sector's call included),
or a call, decision or alert whose `sector` is the token's sector. A decision or alert without a sector is
never in a dyad's sector (it stays with the supervisor). Out of scope → 403 « hors de votre secteur » (see
`OUT_OF_SECTOR` for why not 404). Each service applies it to what it knows:

- triage knows the sector of each decision (not the dyad it was routed to: routing is the notifier's): a call's
  decision is seen when its sector is the dyad's; a person's (or place's) state when one of the decisions it
  keeps is in the dyad's sector, and then with the decisions of the dyad's sector only (the recurrence and the
  recent calls, which carry no place, stay whole: they are what the dyad needs to know of the person);
- the notifier knows each alert's dyad and sector: the detail (with the police view) when routed to the dyad or
  in its sector; the lists, the live stream and "Suivis du jour" show the dyad's own alerts (a subset);
- Info-social knows frames, not calls: it asks triage, with the reader's own token, whether the person has a
  decision in the dyad's sector (the same rule, where the facts are).

**What of a frame each role sees** (`FRAME_VIEWS`): Info-social's table, shared so that the field app's
police view follows it. The supervisor sees no frame content in Info-social (403) — so in the field app its
alert detail lists the person's frame as withheld: no police view, no contacts, no consent, no legal basis.

**The matrix** (other roles keep the access they had; "sector" = the rule above):

| role                  | triage: person, decision | notifier: alerts, detail      | frame: Info-social / field app  |
|-----------------------|--------------------------|-------------------------------|---------------------------------|
| dispatch              | all                      | 403 (roster list only)        | dispatch: exists, safety notes  |
| officer               | all                      | 403                           | police view                     |
| calltaker, partner    | 403                      | 403                           | 403                             |
| dyad (dyad + sector)  | its sector ¹             | routed to it or its sector ²  | police view, its sector ³       |
| dyad missing a claim  | 403, claim named         | 403, claim named              | 403, claim named                |
| supervisor            | all                      | all; frame content withheld   | none (403 in Info-social)       |
| social_worker         | all                      | 403                           | complete (Info-social)          |
| analyst               | 403                      | 403                           | analyst: counts, no identity    |
| admin                 | 403                      | 403 (runs the roster)         | 403                             |

¹ a decision of its sector; a person with a decision of its sector, shown with those decisions only.
² the detail (with the police view); `GET /v1/alerts`, `/v1/stream`, `/v1/followups/today`: its own alerts
  (and its sector's deferred calls in the morning list); actions (acknowledge, close…): its own, as before.
³ Info-social asks triage; in the field app, the police view of the alerts it may read (²).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import HTTPException

from dyade.contracts.vocabulary import Role

DYAD_CLAIM = "dyad"
SECTOR_CLAIM = "sector"

# 403, not 404: the read is refused for who is asking, not because nothing is there. A dyad sent to a
# neighbour sector's call, or reading a colleague's call by its number, learns why (and that asking again will
# not help) instead of "not found yet"; the audit records a refused read rather than a miss. What it learns —
# that a call number or a pseudonymous person key exists — tells nothing of the call or the person. Claims are
# checked first, so a token without them learns not even that.
OUT_OF_SECTOR = "hors de votre secteur"

# What of a frame each role sees (Info-social's views, services/infosocial/domain/visibility.py). A role absent
# here sees no frame content: supervisor, calltaker, partner, admin.
FRAME_VIEWS: dict[Role, str] = {
    Role.SOCIAL_WORKER: "complete",
    Role.OFFICER: "police", Role.DYAD: "police",
    Role.DISPATCH: "dispatch",
    Role.ANALYST: "analyst",
}

# A frame's content in the police view (dyade.contracts.frames.PoliceView) — health information once a basis
# lets health-derived elements through: what a withheld view never carries.
POLICE_VIEW_FIELDS = ("interventions_a_privilegier", "interventions_a_eviter", "contacts", "niveau_tolerance",
                      "mode_liberation", "risques", "particularites", "legal_basis")
WITHHELD_NOTE = ("Fiche Info-social : contenu non communiqué au rôle {role} (comme dans Info-social) — la vue "
                 "policière est réservée aux dyades et aux policiers.")


class AccessDenied(HTTPException):
    """403 with a French message; an HTTPException, so every Dyade service answers it as it is."""

    def __init__(self, detail: str):
        super().__init__(403, detail=detail)


def missing_claims(principal) -> tuple[str, ...]:
    """The claims a token of its role must carry and does not (only a dyad's are required)."""
    if principal.role != Role.DYAD:
        return ()
    return tuple(name for name, value in ((DYAD_CLAIM, principal.dyad_id), (SECTOR_CLAIM, principal.sector))
                 if not value)


def claims_problem(principal) -> str | None:
    """French message naming the missing claims, None when the token has what its role needs."""
    missing = missing_claims(principal)
    if not missing:
        return None
    what = {DYAD_CLAIM: "`dyad` (la dyade)", SECTOR_CLAIM: "`sector` (le secteur)"}
    names = " ni ".join(what[m] for m in missing)
    return (f"jeton de dyade sans revendication {names} : accès refusé (un jeton de dyade nomme sa dyade et son "
            f"secteur, p. ex. `dyade token dyad --dyad D1 --sector S1 --subject NOM`)")


def require_claims(principal) -> None:
    problem = claims_problem(principal)
    if problem:
        raise AccessDenied(problem)


def scoped(principal) -> bool:
    """True when the principal's reads are limited to its dyad and sector (a dyad)."""
    return principal.role == Role.DYAD


def may_see(principal, *, dyad_ids: Iterable[str | None] = (), sectors: Iterable[str | None] = ()) -> bool:
    """Whether `principal` may see a resource routed to `dyad_ids` or in `sectors` (the rule). Roles other than
    dyad are not limited here (their role check is the endpoint's). A dyad missing a claim sees nothing."""
    if not scoped(principal):
        return True
    if missing_claims(principal):
        return False
    return principal.dyad_id in set(dyad_ids) - {None} or principal.sector in set(sectors) - {None}


def require(principal, *, dyad_ids: Iterable[str | None] = (), sectors: Iterable[str | None] = (),
            what: str = "cette ressource") -> None:
    """AccessDenied unless `may_see`; a missing claim is named first. `what` names the resource in French
    ("l'alerte A-1", "la décision de l'appel C-1")."""
    require_claims(principal)
    if not may_see(principal, dyad_ids=dyad_ids, sectors=sectors):
        raise AccessDenied(out_of_sector(principal, what))


def out_of_sector(principal, what: str) -> str:
    return f"{what} : {OUT_OF_SECTOR} (votre secteur : {principal.sector}, votre dyade : {principal.dyad_id})"


def frame_view(role: Role | str) -> str | None:
    """The view of a frame `role` gets (`complete`, `police`, `dispatch`, `analyst`), None: no content."""
    return FRAME_VIEWS.get(Role(role))


def police_view_for(role: Role | str, police_view: dict[str, Any] | None) -> dict[str, Any] | None:
    """The part of a police view (`PoliceView` as JSON) `role` may see: whole for the police and complete views,
    the safety notes for dispatch, None for the others (supervisor included)."""
    kind = frame_view(role)
    if police_view is None or kind not in ("complete", "police", "dispatch"):
        return None
    if kind == "dispatch":
        return {"risques": list(police_view.get("risques") or ())}
    return police_view
