"""The generator: reproducible for a seed, every record fits the inbound contracts, codes agree with
intake's table, and the stream looks like a police service's (day and week profile, third-party callers,
high utilisers at the published rates, most people once)."""
from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest
import yaml

from dyade.contracts.inbound import CallSubmission, CallUpdateSubmission, ReferralSubmission
from dyade.simulation.population import identity_key
from dyade.simulation.profiles import CODE_TABLE, NATURE_OF_CODE, PROFILES
from dyade.simulation.simulation import Knobs, Simulation

from sim_helpers import write_run  # type: ignore[import-not-found]

INTAKE_TABLE = Path(__file__).resolve().parents[2] / "services" / "intake" / "mappings" / "default.yaml"


def test_same_seed_gives_the_same_bytes(tmp_path, terrebonne_run):
    again = write_run(tmp_path, Knobs(PROFILES["terrebonne"], seed=2024, start=date(2026, 1, 5), days=120))
    assert again.raw.keys() == terrebonne_run.raw.keys()
    for name, content in terrebonne_run.raw.items():
        assert again.raw[name] == content, f"{name} differs between two runs of the same seed"


def test_another_seed_gives_another_city(tmp_path, terrebonne_run):
    other = write_run(tmp_path, Knobs(PROFILES["terrebonne"], seed=2025, start=date(2026, 1, 5), days=120))
    assert other.raw["calls.jsonl"] != terrebonne_run.raw["calls.jsonl"]
    assert {p["identity"]["last_name"] + p["identity"]["birth_date"] for p in other.truth["persons"]} != \
        {p["identity"]["last_name"] + p["identity"]["birth_date"] for p in terrebonne_run.truth["persons"]}


def test_every_record_fits_the_inbound_contracts(terrebonne_run):
    for call in terrebonne_run.calls:
        CallSubmission.model_validate(call)
    for line in terrebonne_run.updates:
        CallUpdateSubmission.model_validate(line["update"])
    assert terrebonne_run.referrals, "interventions should file referrals"
    for referral in terrebonne_run.referrals:
        ReferralSubmission.model_validate(referral)
    ids = [c["call_id"] for c in terrebonne_run.calls]
    known = set(ids)
    assert len(ids) == len(known)
    assert all(u["call_id"] in known for u in terrebonne_run.updates)


def test_the_stream_is_in_time_order(terrebonne_run):
    times = [datetime.fromisoformat(c["received_at"]) for c in terrebonne_run.calls]
    assert times == sorted(times)
    assert all(t.tzinfo is not None for t in times)


def test_codes_agree_with_intakes_default_table():
    table = yaml.safe_load(INTAKE_TABLE.read_text(encoding="utf-8"))
    for code, category in CODE_TABLE.items():
        assert table["codes"].get(code) == category.value, f"{code}: simulator {category.value}, intake " \
                                                            f"{table['codes'].get(code)}"


def test_calls_follow_the_day_and_the_week(terrebonne_run):
    hours = Counter(datetime.fromisoformat(c["received_at"]).hour for c in terrebonne_run.calls)
    assert sum(hours[h] for h in (3, 4, 5)) * 2.5 < sum(hours[h] for h in (15, 16, 17))
    days = Counter(datetime.fromisoformat(c["received_at"]).weekday() for c in terrebonne_run.calls)
    assert days[5] > days[1]  # Saturday busier than Tuesday


def test_natures_flags_and_third_party_callers(terrebonne_run):
    calls = terrebonne_run.calls
    categories = Counter(NATURE_OF_CODE[c["nature_code"]].category.value for c in calls)
    assert categories["autre"] > categories["desordre_public"] > categories["etat_mental_perturbe"] > 0
    crisis = [c for c in calls if NATURE_OF_CODE[c["nature_code"]].is_crisis]
    callers = Counter(c["caller_relation"] for c in crisis)
    for relation in ("famille", "voisin", "commercant", "soi"):
        assert callers[relation] > 0
    assert any("idees_suicidaires" in c["flags"] for c in crisis)
    dispositions = Counter(u["update"].get("disposition") for u in terrebonne_run.updates)
    assert dispositions["transport_p38"] > 0 and dispositions["regle_sur_place"] > 0


def test_most_people_call_once_and_a_few_call_often(terrebonne_run):
    seen = Counter()
    for c in terrebonne_run.calls:
        if NATURE_OF_CODE[c["nature_code"]].is_crisis:
            for p in c["persons"]:
                if p["role"] == "sujet" and p.get("birth_date"):
                    seen[identity_key(p.get("first_name"), p.get("last_name"), p["birth_date"])] += 1
    once = sum(1 for n in seen.values() if n == 1)
    assert once / len(seen) > 0.8
    top = seen.most_common(1)[0][1]
    assert top >= 15  # the extreme utiliser, even after an intervention


def test_the_extreme_utiliser_calls_about_65_times_in_6_months():
    sim = Simulation(Knobs(PROFILES["terrebonne"], seed=11, start=date(2026, 1, 1), days=182, intervention_share=0))
    for _ in sim.stream(updates=False):
        pass
    extreme = next(p for p in sim.population.persons if p.kind == "extreme")
    assert 45 <= len(sim.tally.person_calls[extreme.person_id]) <= 85


def test_scale_knobs_match_published_volumes():
    mtl, tb = PROFILES["montreal"], PROFILES["terrebonne"]
    mental = sum(n.share for n in mtl.natures if n.key == "EMP") * mtl.calls_per_year
    assert mental == pytest.approx(36_000, rel=0.01)
    assert mtl.crisis_calls_per_year / 365 == pytest.approx(140, rel=0.02)
    assert mtl.calls_per_year == 1_000_000 and tb.inhabitants == 140_000
    assert replace(tb, calls_per_year=10).crisis_calls_per_year < tb.crisis_calls_per_year


def test_limit_stops_after_exactly_that_many_calls():
    sim = Simulation(Knobs(PROFILES["demo"], seed=3, start=date(2026, 1, 1), days=60, limit=777))
    calls = [r for r in sim.stream() if r.kind == "call"]
    assert len(calls) == 777 == sim.tally.calls
