"""From what the dispatch system sent to the events Dyade publishes. Pure: the caller resolves persons
and locations (they need intake's database) and passes them in."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import orjson

from dyade.contracts import CallCategory, CallReceived, CallUpdated, ReferralFiled
from dyade.contracts.calls import CallPayload, CallUpdatePayload, Location, PersonRef
from dyade.contracts.inbound import CallSubmission, CallUpdateSubmission, ReferralSubmission
from dyade.contracts.referrals import ReferralPayload
from services.intake.domain.redaction import redact

SOURCE = "intake"
# A dispatch system's clock may run a little ahead; beyond this a time "in the future" is refused.
MAX_CLOCK_SKEW = timedelta(minutes=5)
SUMMARY_MAX = 500
REFERRAL_SUMMARY_MAX = 2000


class InvalidSubmission(ValueError):
    """Valid JSON of the right shape, refused by a domain rule. `field` names what is wrong."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def fingerprint(model) -> str:
    """Stable hash of a submission's content: two bodies that mean the same thing hash alike."""
    data = model.model_dump(mode="json", exclude_none=True)
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


def check_not_future(field: str, at: datetime, now: datetime) -> None:
    if at - now > MAX_CLOCK_SKEW:
        raise InvalidSubmission(field, f"date dans le futur ({at.isoformat()}), plus de "
                                       f"{int(MAX_CLOCK_SKEW.total_seconds() // 60)} minutes après l'heure du serveur")


def summary_of(narrative: str | None, limit: int = SUMMARY_MAX, *, persons=(),
               today: date | None = None) -> str | None:
    """The narrative as an event carries it: who anyone is redacted (names and birth dates of `persons`,
    phones, RAMQ numbers, e-mails, civic numbers: domain/redaction.py), one line, at most `limit` characters.
    The narrative itself stays in intake (intake_narratives)."""
    if not narrative:
        return None
    text = " ".join(redact(narrative, persons, today=today).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class ResolvedLocation:
    location_key: str
    address: str  # block level
    sector: str | None


def call_received(sub: CallSubmission, *, category: CallCategory, location: ResolvedLocation,
                  persons: list[PersonRef], source_system: str) -> CallReceived:
    payload = CallPayload(
        call_id=sub.call_id, revision=sub.revision, nature_code=sub.nature_code, category=category,
        priority=sub.priority,
        location=Location(location_key=location.location_key, address=location.address, sector=location.sector,
                          lat=sub.location.lat, lon=sub.location.lon),
        persons=tuple(persons), caller_relation=sub.caller_relation,
        flags=tuple(dict.fromkeys(sub.flags)), source_system=source_system,
        summary=summary_of(sub.narrative, persons=sub.persons, today=sub.received_at.date()))
    return CallReceived.new(payload=payload, occurred_at=sub.received_at, source=SOURCE, correlation_id=sub.call_id)


def call_updated(call_id: str, sub: CallUpdateSubmission, *, person_keys: list[str],
                 sector: str | None, location_key: str) -> CallUpdated:
    payload = CallUpdatePayload(call_id=call_id, status=sub.status, disposition=sub.disposition,
                                dyad_id=sub.dyad_id, person_keys=tuple(person_keys), sector=sector,
                                location_key=location_key)
    return CallUpdated.new(payload=payload, occurred_at=sub.at, source=SOURCE, correlation_id=call_id)


def referral_filed(referral_id: str, sub: ReferralSubmission, *, person_key: str, referrer: str,
                   filed_at: datetime) -> ReferralFiled:
    payload = ReferralPayload(
        referral_id=referral_id, referrer_type=sub.referrer_type, referrer_key=referrer, person_key=person_key,
        clientele=tuple(dict.fromkeys(sub.clientele)), criteria=tuple(dict.fromkeys(sub.criteria)),
        linked_call_ids=tuple(dict.fromkeys(sub.linked_call_ids)),
        summary=summary_of(sub.narrative, REFERRAL_SUMMARY_MAX, persons=[sub.person], today=filed_at.date()))
    return ReferralFiled.new(payload=payload, occurred_at=filed_at, source=SOURCE, correlation_id=referral_id)
