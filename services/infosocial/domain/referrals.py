"""The social worker's referral work queue: states and the moves allowed between them. Pure.

reçue → admissible → premier contact → en suivi → fermée
reçue → fermée (non admissible); admissible / premier contact / en suivi → refusée (the person declines:
her choice is respected and she is told the worker stays available); refusée → premier contact (she
came back, often after a new police call); anything open → fermée.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dyade.contracts import ReferralStatus as S

LABELS = {S.RECUE: "reçue", S.ADMISSIBLE: "admissible", S.PREMIER_CONTACT: "premier contact",
          S.EN_SUIVI: "en suivi", S.REFUSEE: "refusée", S.FERMEE: "fermée"}

ALLOWED: dict[S, frozenset[S]] = {
    S.RECUE: frozenset({S.ADMISSIBLE, S.FERMEE}),
    S.ADMISSIBLE: frozenset({S.PREMIER_CONTACT, S.REFUSEE, S.FERMEE}),
    S.PREMIER_CONTACT: frozenset({S.EN_SUIVI, S.REFUSEE, S.FERMEE}),
    S.EN_SUIVI: frozenset({S.REFUSEE, S.FERMEE}),
    S.REFUSEE: frozenset({S.PREMIER_CONTACT, S.FERMEE}),
    S.FERMEE: frozenset(),
}
OPEN = frozenset({S.RECUE, S.ADMISSIBLE, S.PREMIER_CONTACT, S.EN_SUIVI, S.REFUSEE})
REFUSAL_NOTICE = "la personne est avisée que je reste disponible"


class TransitionRefused(ValueError):
    """A move the queue does not allow; the message says which moves are allowed."""


@dataclass(frozen=True)
class Transition:
    status: S
    previous: S
    first_contact_at: datetime | None
    note: str | None


def transition(current: S, target: S, *, now: datetime, first_contact_at: datetime | None,
               existing_first_contact: datetime | None, person_notified: bool, note: str | None) -> Transition:
    if target == current:
        raise TransitionRefused(f"la référence est déjà « {LABELS[current]} »")
    if target not in ALLOWED[current]:
        allowed = ", ".join(LABELS[s] for s in sorted(ALLOWED[current])) or "aucun (état final)"
        raise TransitionRefused(f"passage de « {LABELS[current]} » à « {LABELS[target]} » non permis "
                                f"(permis: {allowed})")
    if first_contact_at and first_contact_at > now:
        raise TransitionRefused("first_contact_at ne peut pas être dans le futur")
    if target == S.REFUSEE:
        if not person_notified:
            raise TransitionRefused("refus: confirmer que « " + REFUSAL_NOTICE + " » (person_notified=true)")
        note = f"{note} — {REFUSAL_NOTICE}" if note else REFUSAL_NOTICE
    if target == S.FERMEE and current == S.RECUE and not note:
        raise TransitionRefused("fermeture d'une référence non admissible: une note est obligatoire")
    contact = existing_first_contact
    if target == S.PREMIER_CONTACT and existing_first_contact is None:
        contact = first_contact_at or now
    return Transition(target, current, contact, note)
