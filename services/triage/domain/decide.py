"""The triage decision for one call revision: danger, recurrence, level, admissibility, with reasons.

`decide` is a pure function of the call and the subject's state *as of the call's event time*: later
events and the call itself (when the state already holds it, e.g. after a crash) never change it, so a
replay yields the same decision, and the decision id only depends on call, revision and rule set.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from dyade.contracts.triage import Danger, DecisionPayload, FrameStatus, Reason, Recurrence
from dyade.contracts.vocabulary import CallCategory, Criterion, DangerLevel, TriageLevel
from services.triage.domain import rules
from services.triage.domain.config import RulesetConfig
from services.triage.domain.recurrence import Past, counts, crisis_categories, decayed_score
from services.triage.domain.state import (
    CallFacts, frame_as_of, high_risk_before, open_referrals, override_as_of, past_calls,
)

NAMESPACE = uuid.UUID("6f1c3c9e-5d7a-4a53-9c3e-7d1f0b1a2e10")
OVERRIDE = "Dérogation d'une intervenante sociale (triage.overridden.v1)"
REFERRAL_SOURCE = "Référence sociale ouverte (referrals.*)"


def decision_id(call_id: str, revision: int, ruleset_version: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"decision:{call_id}:{revision}:{ruleset_version}"))


def event_id_for(kind: str, natural_id: str) -> uuid.UUID:
    """Deterministic event id: a reprocessed decision or suggestion is recognisably the same event."""
    return uuid.uuid5(NAMESPACE, f"{kind}:{natural_id}")


@dataclass(frozen=True)
class Decision:
    payload: DecisionPayload
    open_referrals: tuple[str, ...]
    frame_active: bool


def decide(call: CallFacts, state: dict, location_counts: dict[str, int], location_crisis_30d: int,
           cfg: RulesetConfig) -> Decision:
    """`location_counts`: calls at the location per window, `location_crisis_30d`: crisis calls there in
    30 days (both include this call and only calls up to its event time)."""
    at = call.t
    person = call.subject is not None
    earlier = past_calls(state, at, exclude=call.call_id) if person else []
    history = earlier + [Past(at, call.crisis, call.category)]
    person_counts = counts(history, at) if person else {}
    crisis_365 = counts(history, at, crisis_only=True)["365j"] if person else 0
    frame = frame_as_of(state, at) if person else None
    frame_active = bool(frame and frame[1])
    referrals = tuple(open_referrals(state, at)) if person else ()
    override = override_as_of(state, at) if person else None

    reasons: list[Reason] = []
    grande = person and crisis_365 >= cfg.grande_utilisatrice_calls
    recurrent = person and (grande or person_counts["30j"] >= cfg.recurrence_calls_30d
                            or person_counts["90j"] >= cfg.recurrence_calls_90d)
    if override is not None:
        if override[1]:
            recurrent = True
        else:
            recurrent = grande = False
        reasons.append(Reason(factor="recurrence.derogation",
                              label="Récurrence fixée par une intervenante" if override[1]
                              else "Récurrence écartée par une intervenante",
                              observed="récurrent" if override[1] else "non récurrent",
                              weight=0.0, contribution=0.0, source=OVERRIDE))
    if override is None or override[1]:
        reasons += _recurrence_reasons(person_counts, crisis_365, grande, cfg)
    location_recurrent = call.crisis and location_crisis_30d >= cfg.location_calls_30d
    if location_recurrent:
        reasons.append(Reason(factor="recurrence.lieu.30j", label="Appels de crise répétés au même endroit",
                              observed=f"{location_crisis_30d} appels de crise en 30 jours à cette adresse",
                              weight=0.2, contribution=0.2, source=rules.TERREBONNE))

    fired = rules.evaluate(rules.Context(
        flags=frozenset(call.flags), category=call.category,
        earlier_high_risk=tuple(high_risk_before(state, at, call.call_id, cfg.high_risk_lookback_days)) if person else (),
        earlier_vcf_calls=sum(1 for p in earlier if p.category == CallCategory.VIOLENCE_CONJUGALE_FAMILIALE
                              and at - p.t < 365 * 86_400),
        frame_risks=int(frame[4]) if frame_active else 0,
    ))
    reasons += [Reason(factor=f.rule.id, label=f.rule.label + (" (danger imminent)" if f.imminent else ""),
                       observed=f.observed, weight=f.rule.weight, contribution=f.rule.weight, source=f.rule.source)
                for f in fired]
    danger = rules.danger_level(fired)
    if frame_active:
        reasons.append(Reason(factor="fiche.active", label="Fiche Info-social active",
                              observed=f"fiche version {frame[2]}" + (" (à réviser)" if frame[3] else ""),
                              weight=0.2, contribution=0.2, source=rules.FRAME))
    if referrals:
        reasons.append(Reason(factor="reference.ouverte", label="Référence sociale en cours",
                              observed=f"{len(referrals)} référence(s) ouverte(s)", weight=0.1, contribution=0.1,
                              source=REFERRAL_SOURCE))

    level = _level(call, danger, fired, recurrent, grande, frame_active, location_recurrent)
    criteria = _criteria(call, history, danger, fired, recurrent, cfg) if person else ()
    payload = DecisionPayload(
        decision_id=decision_id(call.call_id, call.revision, cfg.version), call_id=call.call_id,
        call_revision=call.revision, person_keys=call.person_keys, location_key=call.location_key,
        sector=call.sector, category=CallCategory(call.category), level=level,
        danger=Danger(level=danger, score=rules.danger_score(fired)),
        recurrence=Recurrence(person_calls=person_counts, location_calls=dict(location_counts),
                              decayed_score=decayed_score(history, at, cfg.decay_half_life_days) if person else 0.0,
                              grande_utilisatrice=bool(grande), overridden=override is not None),
        criteria_met=criteria,
        frame=FrameStatus(exists=frame_active, stale=bool(frame_active and frame[3]),
                          version=frame[2] if frame_active else None),
        reasons=tuple(reasons), ruleset_version=cfg.version, call_received_at=call.received_at,
        summary=call.summary)
    return Decision(payload, referrals, frame_active)


def _recurrence_reasons(person_counts: dict, crisis_365: int, grande: bool, cfg: RulesetConfig) -> list[Reason]:
    out = []
    if grande:
        out.append(Reason(factor="recurrence.grande_utilisatrice", label="Grande utilisatrice de services",
                          observed=f"{crisis_365} appels de crise en 365 jours (seuil {cfg.grande_utilisatrice_calls})",
                          weight=0.5, contribution=0.5, source=rules.TERREBONNE))
    if person_counts and person_counts["30j"] >= cfg.recurrence_calls_30d:
        out.append(Reason(factor="recurrence.30j", label="Appels récurrents concernant la personne (30 jours)",
                          observed=f"{person_counts['30j']} appels en 30 jours", weight=0.3, contribution=0.3,
                          source=rules.TERREBONNE))
    elif person_counts and person_counts["90j"] >= cfg.recurrence_calls_90d:
        out.append(Reason(factor="recurrence.90j", label="Appels récurrents concernant la personne (90 jours)",
                          observed=f"{person_counts['90j']} appels en 90 jours", weight=0.2, contribution=0.2,
                          source=rules.TERREBONNE))
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


def _criteria(call: CallFacts, history: list[Past], danger: DangerLevel, fired: list, recurrent: bool,
              cfg: RulesetConfig) -> tuple[Criterion, ...]:
    met = []
    if recurrent:
        met.append(Criterion.RECURRENCE)
    if len(crisis_categories(history, call.t)) >= cfg.complexity_categories_365d or len(call.flags) >= 3:
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
