"""The triage decision for one call revision: danger, recurrence, level, admissibility, with reasons.

`decide` is a pure function of the call and the subject's state *as of the call's event time*: later
events and the call itself (when the state already holds it, e.g. after a crash) never change it, so a
replay yields the same decision, and the decision id only depends on call, revision and rule set.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from hashlib import sha1

from dyade.contracts.triage import FRAME_REASON, Danger, DecisionPayload, FrameStatus, Reason, Recurrence
from dyade.contracts.vocabulary import CallCategory, Criterion, DangerLevel, TriageLevel
from services.triage.domain import rules
from services.triage.domain.config import RulesetConfig
from services.triage.domain.state import (
    CallFacts, SubjectState, frame_as_of, high_risk_before, open_referrals, override_as_of, recurrence_as_of,
)

NAMESPACE = uuid.UUID("6f1c3c9e-5d7a-4a53-9c3e-7d1f0b1a2e10")
_NAMESPACE_BYTES = NAMESPACE.bytes
OVERRIDE = "Dérogation d'une intervenante sociale (triage.overridden.v1)"
REFERRAL_SOURCE = "Référence sociale ouverte (referrals.*)"

# The weight of every reason that is not a danger rule (those are in rules.RULES). Declared here, read by
# `decide` and by the rule-set version (version.py): changing one changes every decision id.
REASON_WEIGHTS: dict[str, float] = {
    "recurrence.derogation": 0.0,
    "recurrence.grande_utilisatrice": 0.5,
    "recurrence.30j": 0.3,
    "recurrence.90j": 0.2,
    "recurrence.lieu.30j": 0.2,
    FRAME_REASON: 0.2,
    "reference.ouverte": 0.1,
}


def _reason(factor: str, label: str, observed: str, source: str) -> Reason:
    w = REASON_WEIGHTS[factor]
    return Reason(factor=factor, label=label, observed=observed, weight=w, contribution=w, source=source)


def name_uuid(name: str) -> uuid.UUID:
    """`uuid.uuid5(NAMESPACE, name)`, without what uuid5 redoes on every call (an import, the namespace's
    bytes): two of these per decision were a twelfth of the stages' CPU."""
    return uuid.UUID(bytes=sha1(_NAMESPACE_BYTES + name.encode()).digest()[:16], version=5)


def decision_id(call_id: str, revision: int, ruleset_version: str) -> str:
    return str(name_uuid(f"decision:{call_id}:{revision}:{ruleset_version}"))


def event_id_for(kind: str, natural_id: str) -> uuid.UUID:
    """Deterministic event id: a reprocessed decision or suggestion is recognisably the same event."""
    return name_uuid(f"{kind}:{natural_id}")


@dataclass(frozen=True)
class Decision:
    payload: DecisionPayload
    open_referrals: tuple[str, ...]
    frame_active: bool


def decide(call: CallFacts, state: SubjectState, location_counts: dict[str, int], location_crisis_30d: int,
           cfg: RulesetConfig) -> Decision:
    """`location_counts`: calls at the location per window, `location_crisis_30d`: crisis calls there in
    30 days (both include this call and only calls up to its event time)."""
    at = call.t
    person = call.subject is not None
    # the subject's earlier calls (exact per window past the kept detail), then this call added to them
    earlier = recurrence_as_of(state, at, cfg.decay_half_life_days, exclude=call) if person else None
    person_counts = {w: n + 1 for w, n in earlier.calls.items()} if person else {}
    crisis_365 = earlier.crisis_year + call.crisis if person else 0
    categories = frozenset()      # crisis categories in 365 days, this call's included
    if person:
        categories = earlier.categories | {call.category} if call.crisis else earlier.categories
    frame = frame_as_of(state, at) if person else None
    frame_active = bool(frame and frame.active)
    referrals = tuple(open_referrals(state, at)) if person else ()
    override = override_as_of(state, at) if person else None

    reasons: list[Reason] = []
    grande = person and crisis_365 >= cfg.grande_utilisatrice_calls
    recurrent = person and (grande or person_counts["30j"] >= cfg.recurrence_calls_30d
                            or person_counts["90j"] >= cfg.recurrence_calls_90d)
    if override is not None:
        if override.recurrent:
            recurrent = True
        else:
            recurrent = grande = False
        reasons.append(_reason("recurrence.derogation",
                               "Récurrence fixée par une intervenante" if override.recurrent
                               else "Récurrence écartée par une intervenante",
                               "récurrent" if override.recurrent else "non récurrent", OVERRIDE))
    if override is None or override.recurrent:
        reasons += _recurrence_reasons(person_counts, crisis_365, grande, cfg)
    location_recurrent = call.crisis and location_crisis_30d >= cfg.location_calls_30d
    if location_recurrent:
        reasons.append(_reason("recurrence.lieu.30j", "Appels de crise répétés au même endroit",
                               f"{location_crisis_30d} appels de crise en 30 jours à cette adresse", rules.TERREBONNE))

    fired = rules.evaluate(rules.Context(
        flags=frozenset(call.flags), category=call.category,
        earlier_high_risk=tuple(high_risk_before(state, at, call.call_id, cfg.high_risk_lookback_days)) if person else (),
        earlier_vcf_calls=earlier.vcf if person else 0,
        frame_risks=frame.risk_count if frame_active else 0,
    ))
    reasons += [Reason(factor=f.rule.id, label=f.rule.label + (" (danger imminent)" if f.imminent else ""),
                       observed=f.observed, weight=f.rule.weight, contribution=f.rule.weight, source=f.rule.source)
                for f in fired]
    danger = rules.danger_level(fired)
    if frame_active:
        reasons.append(_reason(FRAME_REASON, "Fiche Info-social active",
                               f"fiche version {frame.version}" + (" (à réviser)" if frame.stale else ""), rules.FRAME))
    if referrals:
        reasons.append(_reason("reference.ouverte", "Référence sociale en cours",
                               f"{len(referrals)} référence(s) ouverte(s)", REFERRAL_SOURCE))

    level = _level(call, danger, fired, recurrent, grande, frame_active, location_recurrent)
    criteria = _criteria(call, categories, danger, fired, recurrent, cfg) if person else ()
    payload = DecisionPayload(
        decision_id=decision_id(call.call_id, call.revision, cfg.version), call_id=call.call_id,
        call_revision=call.revision, person_keys=call.person_keys, location_key=call.location_key,
        sector=call.sector, address=call.address, lat=call.lat, lon=call.lon, nature_code=call.nature_code,
        category=CallCategory(call.category), level=level,
        danger=Danger(level=danger, score=rules.danger_score(fired)),
        recurrence=Recurrence(person_calls=person_counts, location_calls=dict(location_counts),
                              decayed_score=round(earlier.decayed + 1.0, 4) if person else 0.0,
                              grande_utilisatrice=bool(grande), overridden=override is not None),
        criteria_met=criteria,
        frame=FrameStatus(exists=frame_active, stale=bool(frame_active and frame.stale),
                          version=frame.version if frame_active else None),
        reasons=tuple(reasons), ruleset_version=cfg.version, call_received_at=call.received_at,
        summary=call.summary)
    return Decision(payload, referrals, frame_active)


def _recurrence_reasons(person_counts: dict, crisis_365: int, grande: bool, cfg: RulesetConfig) -> list[Reason]:
    out = []
    if grande:
        out.append(_reason("recurrence.grande_utilisatrice", "Grande utilisatrice de services",
                           f"{crisis_365} appels de crise en 365 jours (seuil {cfg.grande_utilisatrice_calls})",
                           rules.TERREBONNE))
    if person_counts and person_counts["30j"] >= cfg.recurrence_calls_30d:
        out.append(_reason("recurrence.30j", "Appels récurrents concernant la personne (30 jours)",
                           f"{person_counts['30j']} appels en 30 jours", rules.TERREBONNE))
    elif person_counts and person_counts["90j"] >= cfg.recurrence_calls_90d:
        out.append(_reason("recurrence.90j", "Appels récurrents concernant la personne (90 jours)",
                           f"{person_counts['90j']} appels en 90 jours", rules.TERREBONNE))
    return out


def _level(call: CallFacts, danger: DangerLevel, fired: list, recurrent: bool, grande: bool, frame_active: bool,
           location_recurrent: bool) -> TriageLevel:
    if any(f.rule.officer_safety and f.imminent for f in fired):
        return TriageLevel.SECURITE_POLICIERS
    if danger == DangerLevel.IMMINENT:
        return TriageLevel.DYADE_PRIORITAIRE
    if call.crisis and (grande or (danger == DangerLevel.PREVISIBLE and recurrent)):
        return TriageLevel.DYADE_PRIORITAIRE
    if call.crisis and (danger == DangerLevel.PREVISIBLE or recurrent or frame_active or location_recurrent):
        return TriageLevel.DYADE_SUGGEREE
    if grande or frame_active:
        return TriageLevel.DYADE_SUGGEREE
    return TriageLevel.ROUTINE


def _criteria(call: CallFacts, categories: frozenset[str], danger: DangerLevel, fired: list, recurrent: bool,
              cfg: RulesetConfig) -> tuple[Criterion, ...]:
    met = []
    if recurrent:
        met.append(Criterion.RECURRENCE)
    if len(categories) >= cfg.complexity_categories_365d or len(call.flags) >= 3:
        met.append(Criterion.COMPLEXITE_INTERVENTION)
    if danger == DangerLevel.PREVISIBLE:
        met.append(Criterion.DANGEROSITE_PREVISIBLE)
    if danger == DangerLevel.IMMINENT:
        met.append(Criterion.DANGEROSITE_IMMINENTE)
    if any(f.rule.officer_safety for f in fired):
        met.append(Criterion.INTERVENTION_HAUT_RISQUE)
    if call.caller_relation == "partenaire":
        met.append(Criterion.IMPLICATION_PARTENAIRES)
    return tuple(met)
