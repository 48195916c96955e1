"""Spelling variants of one person (accents dropped, case, hyphens, given and family names swapped) name
one identity, by the simulator's rule and by intake's resolver's normalisation; two persons never merge."""
from __future__ import annotations

import random
from datetime import date

import pytest

from dyade.simulation.population import VARIANTS, Person, City, draw_birth_date, draw_name, identity_key, spell
from dyade.simulation.profiles import PROFILES
from services.intake.domain import identity


@pytest.fixture(scope="module")
def persons() -> list[Person]:
    rng = random.Random(8)
    city = City.build(PROFILES["demo"], rng)
    people = [Person(f"P{i}", "Marie-Ève", "Côté-Gagnon", date(1984, 2, 29), city.address(rng), "cohort")
              for i in range(1)]
    for i in range(300):
        first, last = draw_name(rng)
        people.append(Person(f"Q{i}", first, last, draw_birth_date(rng, date(2026, 1, 1)), city.address(rng), "once"))
    return people


def test_every_variant_names_the_same_identity(persons):
    for p in persons:
        keys = {identity_key(**spell(p, v)) for v in VARIANTS}
        assert keys == {identity_key(p.first_name, p.last_name, p.birth_date)}, p


def test_variants_really_differ_in_spelling(persons):
    marie = persons[0]
    spellings = {(s["first_name"], s["last_name"]) for s in (spell(marie, v) for v in VARIANTS)}
    assert ("Marie-Eve", "Cote-Gagnon") in spellings
    assert ("MARIE-ÈVE", "CÔTÉ-GAGNON") in spellings
    assert ("Marie Ève", "Côté Gagnon") in spellings
    assert ("Côté-Gagnon", "Marie-Ève") in spellings
    assert len(spellings) == len(VARIANTS)


def test_different_persons_stay_different(persons):
    canon = {(p.first_name, p.last_name, p.birth_date) for p in persons}
    keys = {identity_key(f, l, b) for f, l, b in canon}
    assert len(keys) == len(canon)


def test_intakes_resolver_sees_one_person_per_variant_set(persons):
    for p in persons:
        names = {identity.normalise_name(s["first_name"], s["last_name"]) for s in (spell(p, v) for v in VARIANTS)}
        assert len(names) == 1, (p, names)
        fingerprints = {identity.identity_of(s["first_name"], s["last_name"], date.fromisoformat(s["birth_date"]), None)
                        .name_fingerprint() for s in (spell(p, v) for v in VARIANTS)}
        assert len(fingerprints) == 1


def test_the_stream_spells_a_frequent_caller_several_ways(terrebonne_run):
    extreme = next(p for p in terrebonne_run.truth["persons"] if p["kind"] == "extreme")
    ids = set(extreme["call_ids"])
    spellings = {(q["first_name"], q["last_name"]) for c in terrebonne_run.calls if c["call_id"] in ids
                 for q in c["persons"] if q["role"] == "sujet"}
    assert len(spellings) >= 3
    assert len({identity_key(f, l, extreme["identity"]["birth_date"]) for f, l in spellings}) == 1
