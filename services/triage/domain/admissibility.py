"""When to suggest a social referral: the person meets Terrebonne admissibility criteria and has no file
open (no open referral, no active frame) — once per person until the situation changes (a criterion not
met at the last suggestion appears, or a referral was filed and closed since)."""
from __future__ import annotations

from dyade.contracts.referrals import ReferralSuggestedPayload
from services.triage.domain.decide import Decision, name_uuid
from services.triage.domain.state import CallFacts, Suggestion, SubjectState


def suggestion(decision: Decision, call: CallFacts, state: SubjectState) -> ReferralSuggestedPayload | None:
    d = decision.payload
    if call.subject is None or not d.criteria_met or decision.open_referrals or decision.frame_active:
        return None
    last = state.suggested
    if last is not None and set(d.criteria_met) <= set(last.criteria):
        return None
    natural = f"suggestion:{call.subject}:{call.call_id}:{call.revision}:{d.ruleset_version}"
    return ReferralSuggestedPayload(
        suggestion_id=str(name_uuid(natural)), person_key=call.subject, call_id=call.call_id,
        criteria=d.criteria_met, reasons=tuple(r.label for r in d.reasons if r.contribution > 0),
        ruleset_version=d.ruleset_version)


def remember_suggestion(state: SubjectState, s: ReferralSuggestedPayload, t: float) -> None:
    state.suggested = Suggestion(criteria=sorted(c.value for c in s.criteria), call_id=s.call_id, time=t)


def file_opened(state: SubjectState) -> None:
    """A referral was filed for the person: a later suggestion needs a new situation, not the old one."""
    state.suggested = None
