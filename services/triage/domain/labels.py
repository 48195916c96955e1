"""The words triage's read API shows next to the codes: the catalogue's (dyade.contracts.labels), and for
each level what it asks of the patrol."""
from __future__ import annotations

from dyade.contracts.labels import labels
from dyade.contracts.vocabulary import (
    CallCategory, Criterion, DangerLevel, Disposition, ObservedFlag, ReferralStatus, TriageLevel,
)

LEVEL_HINTS = {
    TriageLevel.ROUTINE: "patrouille habituelle",
    TriageLevel.SECURITE_POLICIERS: "danger pour autrui, approche sécuritaire d'abord",
}
LEVELS = {code: (f"{word}: {LEVEL_HINTS[TriageLevel(code)]}" if TriageLevel(code) in LEVEL_HINTS else word)
          for code, word in labels(TriageLevel).items()}
DANGER = labels(DangerLevel)
CRITERIA = labels(Criterion)
CATEGORIES = labels(CallCategory)
FLAGS = labels(ObservedFlag)
DISPOSITIONS = labels(Disposition)
REFERRAL_STATUS = labels(ReferralStatus)


def label(table: dict[str, str], code: str | None) -> str | None:
    return None if code is None else table.get(code, code)
