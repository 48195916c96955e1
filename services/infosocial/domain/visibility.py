"""Who sees what of a frame. Pure: a snapshot of the frame in, a dict out.

| role                       | view      | what                                                            |
|----------------------------|-----------|-----------------------------------------------------------------|
| social_worker              | complete  | everything, with each element's source, consent, identity, PII   |
| officer, dyad              | police    | police view: police-derived elements, health ones only with a basis |
| dispatch                   | dispatch  | that a frame exists, its status, and the safety notes (risques)  |
| analyst                    | analyst   | no identity, no narrative: status, dates, consent, counts       |
| any other role, admin too  | —         | refused (403)                                                   |

An administrator runs the platform (audit of reads, the daily sweep); it sees no frame, not even the analyst's
view: a frame is health information about a named person.

A health-derived element reaches the police view (and, for the risks, dispatch's safety notes) with a basis.
Without the person's consent (LRSSS 74–76, the 2024 extension for a person under a verdict, imminent danger), a
suicide-related one needs more: the disclosure test recorded for it (content.Disclosure). Otherwise it is
withheld, and SUICIDE_WITHHELD_NOTE takes its place at the head of the risks — so the dyad, and dispatch, know
to ask the social worker. With no basis at all there is no such note: that suicide-related information exists
is itself health information. Police-derived elements always reach officers: they come from police work.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import datetime as dt
from datetime import date, datetime
from typing import Any, NamedTuple

from dyade.access import FRAME_VIEWS
from dyade.contracts import ConsentStatus, LegalBasis, Role
from dyade.contracts.frames import Contact, PoliceView
from services.infosocial.domain.content import ContactIn, FrameContent, Item, SuicideMarks, legal_basis_of

# The table above, kept in dyade.access (one place: the field app's police view follows it too).
VIEW_OF_ROLE: dict[Role, str] = dict(FRAME_VIEWS)
READ_ROLES = tuple(VIEW_OF_ROLE)

STATUS_PENDING = "en_attente"   # written, waiting for a second person's approval
STATUS_ACTIVE = "active"
STATUS_STALE = "perimee"        # review date passed: shown, always flagged as stale
STATUS_ARCHIVED = "archivee"

SUICIDE_WITHHELD_NOTE = "Renseignement lié au suicide retenu : critère de divulgation non consigné"
# The bases on which health information reaches officers without the person's consent: a suicide-related element
# then needs its own disclosure test.
WITHOUT_CONSENT = frozenset({LegalBasis.LRSSS_74_76, LegalBasis.LRSSS_74_76_VERDICT_NCR, LegalBasis.DANGER_IMMINENT})

STALE_WARNING = ("FICHE PÉRIMÉE — la révision annuelle était due le {due}. Les recommandations peuvent ne plus "
                 "être à jour: à utiliser avec prudence et à signaler à l'intervenante.")


@dataclass(frozen=True)
class Consent:
    status: ConsentStatus = ConsentStatus.NON_DEMANDE
    date: dt.date | None = None
    scope: tuple[str, ...] = ()
    legal_basis: str | None = None  # override without consent: lrsss_74_76(_verdict_ncr) or danger_imminent
    justification: str | None = None
    recorded_on: date | None = None  # when the current consent / basis was recorded (imminent danger lapses)

    def basis(self, today: date) -> LegalBasis:
        return legal_basis_of(self.status, self.legal_basis, self.recorded_on, today)


@dataclass(frozen=True)
class FrameSnapshot:
    """The active (approved) version of a frame, with what lives beside the versions."""
    frame_id: str
    person_key: str
    version: int
    content: FrameContent
    consent: Consent
    review_due: date | None
    stale_flag: bool
    archived: bool
    author: str
    approved_by: str | None
    approved_at: datetime | None
    owner: str
    display_name: str | None = None
    reason: str | None = None
    pending_versions: tuple[int, ...] = field(default=())
    active: bool = True  # False: no version approved yet; the snapshot shows the latest draft

    def basis(self, today: date) -> LegalBasis:
        return effective_basis(self.consent, self.content, today)

    def is_stale(self, today: date) -> bool:
        return self.active and (self.stale_flag or (self.review_due is not None and today > self.review_due))

    def status(self, today: date) -> str:
        if self.archived:
            return STATUS_ARCHIVED
        if not self.active:
            return STATUS_PENDING
        return STATUS_STALE if self.is_stale(today) else STATUS_ACTIVE


def effective_basis(consent: Consent, content: FrameContent, today: date) -> LegalBasis:
    """The consent's basis; the 2024 basis only while the frame shown records the verdict it rests on."""
    basis = consent.basis(today)
    if basis == LegalBasis.LRSSS_74_76_VERDICT_NCR and content.verdict is None:
        return LegalBasis.AUCUNE
    return basis


class Shown(NamedTuple):
    view: PoliceView
    withheld: int          # health-derived elements withheld for want of a basis
    suicide_withheld: int  # suicide-related health elements withheld for want of a disclosure test


def reaches_police(element: SuicideMarks, basis: LegalBasis) -> str:
    """`shown`, or why not: `no_basis` (health-derived, no consent nor legal basis), `no_disclosure_test`
    (suicide-related, reaching officers without consent, its disclosure test not recorded)."""
    if element.source == "police":
        return "shown"
    if basis == LegalBasis.AUCUNE:
        return "no_basis"
    if basis in WITHOUT_CONSENT and element.disclosure is None and element.is_suicide_related():
        return "no_disclosure_test"
    return "shown"


def police_view(content: FrameContent, basis: LegalBasis) -> Shown:
    """The officer's view, with how many elements were withheld and why."""
    withheld = {"no_basis": 0, "no_disclosure_test": 0}

    def keep(element: SuicideMarks) -> bool:
        why = reaches_police(element, basis)
        if why != "shown":
            withheld[why] += 1
        return why == "shown"

    def one(item: Item | None) -> str | None:
        return item.text if item is not None and keep(item) else None

    def many(items: list[Item]) -> tuple[str, ...]:
        return tuple(i.text for i in items if keep(i))

    def contact(c: ContactIn) -> Contact:
        return Contact(name=c.name, role=c.role, phone=c.phone, when_to_call=c.when_to_call)

    view = dict(
        interventions_a_privilegier=many(content.interventions_a_privilegier),
        interventions_a_eviter=many(content.interventions_a_eviter),
        contacts=tuple(contact(c) for c in content.contacts if keep(c)), niveau_tolerance=one(content.niveau_tolerance),
        mode_liberation=one(content.mode_liberation), risques=many(content.risques),
        particularites=one(content.particularites), legal_basis=basis)
    if withheld["no_disclosure_test"]:
        view["risques"] = (SUICIDE_WITHHELD_NOTE, *view["risques"])
    return Shown(PoliceView(**view), withheld["no_basis"], withheld["no_disclosure_test"])


def suicide_elements(content: FrameContent, basis: LegalBasis) -> list[dict[str, Any]]:
    """For the social worker: each suicide-related element, how it is known (ticked, found in its text), its
    disclosure test, and whether it reaches officers on the current basis."""
    out = []
    for name, index, element in content.elements():
        if not element.is_suicide_related():
            continue
        test = element.disclosure
        out.append({"field": name, "index": index, "text": element.text if isinstance(element, Item) else element.name,
                    "source": element.source, "ticked": element.suicide_related, "detected": element.detected(),
                    "disclosure": test.model_dump(mode="json") if test else None,
                    "reaches_police": reaches_police(element, basis) == "shown"})
    return out


def view_for(role: Role, frame: FrameSnapshot, today: date) -> dict[str, Any]:
    """The frame as `role` may see it. Raises KeyError for a role that sees no frame."""
    kind = VIEW_OF_ROLE[role]
    status = frame.status(today)
    base: dict[str, Any] = {"frame_id": frame.frame_id, "person_key": frame.person_key, "version": frame.version,
                            "status": status, "stale": status == STATUS_STALE, "view": kind}
    if status == STATUS_STALE:
        base["avertissement"] = STALE_WARNING.format(due=frame.review_due.isoformat())
    basis = frame.basis(today)
    if kind == "dispatch":
        return base | {"exists": True, "safety_notes": list(police_view(frame.content, basis).view.risques)}
    if kind == "analyst":
        c = frame.content
        return base | {
            "review_due": _iso(frame.review_due), "consent_status": frame.consent.status.value,
            "legal_basis": basis.value,
            "approved_at": frame.approved_at.isoformat() if frame.approved_at else None,
            "counts": {"interventions_a_privilegier": len(c.interventions_a_privilegier),
                       "interventions_a_eviter": len(c.interventions_a_eviter), "contacts": len(c.contacts),
                       "risques": len(c.risques)},
            "has_pii": bool(c.pii_link)}
    if kind == "police":
        view, withheld, suicide = police_view(frame.content, basis)
        out = base | {"review_due": _iso(frame.review_due), "consent_status": frame.consent.status.value,
                      "intervenante": frame.owner,
                      "legal_basis": basis.value, "police_view": view.model_dump(mode="json"),
                      "elements_retenus": withheld, "elements_suicide_retenus": suicide}
        if withheld:
            out["note"] = (f"{withheld} élément(s) issus du réseau de la santé ne sont pas communiqués: "
                           "aucun consentement ni base légale. Les recommandations affichées viennent des "
                           "interventions policières antérieures.")
        if suicide:
            out["note_suicide"] = (f"{SUICIDE_WITHHELD_NOTE} ({suicide} élément(s)) — s'adresser à l'intervenante "
                                   f"{frame.owner}.")
        return out
    # complete
    c = frame.consent
    return base | {
        "display_name": frame.display_name, "owner": frame.owner, "author": frame.author,
        "approved_by": frame.approved_by, "approved_at": frame.approved_at.isoformat() if frame.approved_at else None,
        "reason": frame.reason, "review_due": _iso(frame.review_due),
        "consent": {"status": c.status.value, "date": c.date.isoformat() if c.date else None, "scope": list(c.scope),
                    "legal_basis": c.legal_basis, "justification": c.justification},
        "legal_basis": basis.value, "content": frame.content.model_dump(mode="json"),
        "police_view": police_view(frame.content, basis).view.model_dump(mode="json"),
        "suicide_elements": suicide_elements(frame.content, basis),
        "pending_versions": list(frame.pending_versions)}


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
