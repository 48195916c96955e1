"""The ground truth written beside the stream says what the stream holds: each known person's calls
(found again in the stream through their spelling variants), before and after their intervention, the
referral that marks it, and an effect of the size the knobs asked for."""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import replace
from datetime import date, datetime

import pytest

from dyade.simulation.population import identity_key
from dyade.simulation.profiles import PROFILES
from dyade.simulation.simulation import Knobs, Simulation
from dyade.simulation.truth import ground_truth


def subjects_by_identity(calls: list[dict]) -> dict[str, list[dict]]:
    """What a reader of the stream alone can see: calls grouped by who they are about."""
    out: dict[str, list[dict]] = defaultdict(list)
    for c in calls:
        for p in c["persons"]:
            if p["role"] == "sujet":
                out[identity_key(p.get("first_name"), p.get("last_name"), p.get("birth_date"))].append(c)
    return out


def test_truth_counts_are_the_streams(terrebonne_run):
    stream = terrebonne_run.truth["stream"]
    assert stream["calls"] == len(terrebonne_run.calls)
    assert stream["updates"] == len(terrebonne_run.updates) == 3 * len(terrebonne_run.calls)
    assert stream["referrals"] == len(terrebonne_run.referrals)
    by_code = defaultdict(int)
    for c in terrebonne_run.calls:
        by_code[c["nature_code"]] += 1
    assert stream["by_nature"] == dict(by_code)


def test_each_known_persons_calls_are_found_in_the_stream(terrebonne_run):
    seen = subjects_by_identity(terrebonne_run.calls)
    persons = terrebonne_run.truth["persons"]
    assert any(p["kind"] == "extreme" for p in persons) and any(p["kind"] == "cohort" for p in persons)
    for p in persons:
        ident = p["identity"]
        calls = seen.get(identity_key(ident["first_name"], ident["last_name"], ident["birth_date"]), [])
        assert [c["call_id"] for c in calls] == p["call_ids"], p["person_id"]
        cut = datetime.fromisoformat(p["intervention"]["at"]) if p["intervention"] else None
        before = sum(1 for c in calls if cut is None or datetime.fromisoformat(c["received_at"]) < cut)
        assert (before, len(calls) - before) == (p["calls_before"], p["calls_after"]), p["person_id"]


def test_each_intervention_is_a_referral_in_the_stream(terrebonne_run):
    referrals = {r["referral_id"]: r for r in terrebonne_run.referrals}
    intervened = [p for p in terrebonne_run.truth["persons"] if p["intervention"]]
    assert intervened and len(referrals) == len(intervened)
    for p in intervened:
        r = referrals[p["intervention"]["referral_id"]]
        assert datetime.fromisoformat(r["filed_at"]) == datetime.fromisoformat(p["intervention"]["at"])
        assert identity_key(**{k: r["person"][k] for k in ("first_name", "last_name", "birth_date")}) == \
            identity_key(**p["identity"])
        cut = datetime.fromisoformat(p["intervention"]["at"])
        assert set(r["linked_call_ids"]) <= set(p["call_ids"][: p["calls_before"]])
        assert p["calls_before"] == 0 or r["linked_call_ids"], "a referral names the calls that led to it"
        assert all(datetime.fromisoformat(c["received_at"]) < cut for c in terrebonne_run.calls
                   if c["call_id"] in set(r["linked_call_ids"]))


def _run(knobs: Knobs) -> dict:
    sim = Simulation(knobs)
    for _ in sim.stream(updates=False):
        pass
    return ground_truth(sim)


@pytest.fixture(scope="module")
def big_cohort() -> dict:
    """A city where many people call often, over a year, so that the effect can be measured."""
    profile = replace(PROFILES["terrebonne"], cohort_share=0.08, calls_per_year=30_000)
    return _run(Knobs(profile, seed=2, start=date(2025, 1, 1), days=365, intervention_share=0.8,
                      effect_share=0.5, reduction=0.6))


def test_interventions_reduce_calls_by_the_configured_share(big_cohort):
    persons = [p for p in big_cohort["persons"] if p["intervention"]]
    assert len(persons) > 80
    responders = [p for p in persons if p["intervention"]["responder"]]
    others = [p for p in persons if not p["intervention"]["responder"]]
    assert 0.35 < len(responders) / len(persons) < 0.65  # effect_share 0.5
    for p in responders:
        assert p["expected_rate_after"] == pytest.approx(p["expected_rate_before"] * 0.4)
    for p in others:
        assert p["expected_rate_after"] == pytest.approx(p["expected_rate_before"])
    # Calls in each window are Poisson around rate × duration: within 4 standard deviations per group.
    for group in (responders, others):
        for which in ("before", "after"):
            observed = sum(p[f"calls_{which}"] for p in group)
            expected = sum(p[f"expected_rate_{which}"] * p[f"days_{which}"] / 365 for p in group)
            assert abs(observed - expected) < 4 * math.sqrt(expected), (which, observed, expected)

    def pooled(group, which):
        return sum(p[f"calls_{which}"] for p in group) / sum(p[f"days_{which}"] for p in group)

    assert 1 - pooled(responders, "after") / pooled(responders, "before") == pytest.approx(0.6, abs=0.1)
    cohort = big_cohort["cohort"]
    assert cohort["expected_reduction_of_intervened"] == pytest.approx(0.3)
    assert 0.1 < cohort["observed_reduction_of_intervened"] < 0.5
    assert cohort["responders"] == len(responders)


def test_without_interventions_nobody_calls_less():
    truth = _run(Knobs(PROFILES["demo"], seed=5, start=date(2025, 1, 1), days=120, intervention_share=0.0))
    assert truth["stream"]["referrals"] == 0
    assert all(p["intervention"] is None and p["calls_after"] == 0 for p in truth["persons"])
    assert truth["cohort"]["with_intervention"] == 0
