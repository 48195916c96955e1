"""A seeded population: persons with Québec names and birth dates, homes in sectors, and the share of
them who call often (one extreme utiliser, a cohort at >= 7 crisis calls a year, occasional repeaters).

Everything is drawn from a `random.Random` handed in: the same seed gives the same city.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from unidecode import unidecode

from dyade.simulation import names
from dyade.simulation.profiles import CityProfile

KM_PER_DEG_LAT = 111.0


def one(rng: random.Random, seq):
    """rng.choice, with one draw of random() (a million calls make a few million such choices)."""
    return seq[int(rng.random() * len(seq))]


def between(rng: random.Random, lo: int, hi: int) -> int:
    """rng.randint(lo, hi), with one draw of random()."""
    return lo + int(rng.random() * (hi - lo + 1))


@dataclass(frozen=True)
class Address:
    civic: int
    street: str
    sector: str
    lat: float
    lon: float
    place: str | None = None  # a public place (dépanneur, parc...) rather than a home

    @property
    def text(self) -> str:
        base = f"{self.civic}, {self.street}"
        return f"{self.place}, {base}" if self.place else base


@dataclass(frozen=True)
class Person:
    person_id: str  # the simulator's own id (ground truth only, never sent)
    first_name: str
    last_name: str
    birth_date: date
    home: Address
    kind: str  # extreme | cohort | repeater | once
    rate_per_year: float = 0.0  # crisis calls a year before any intervention

    @property
    def canonical(self) -> dict:
        return {"first_name": self.first_name, "last_name": self.last_name,
                "birth_date": self.birth_date.isoformat()}


# --- spelling variants ------------------------------------------------------------------------------
VARIANTS = ("exact", "sans_accents", "majuscules", "minuscules", "sans_trait_union", "ordre_inverse")
VARIANT_WEIGHTS = (0.48, 0.16, 0.12, 0.06, 0.10, 0.08)


def spell(person: Person, variant: str) -> dict:
    """The person as one call taker typed them: accents dropped, case changed, hyphens dropped,
    given and family names swapped. Returns PersonIdentity fields (without role)."""
    first, last = person.first_name, person.last_name
    if variant == "sans_accents":
        first, last = unidecode(first), unidecode(last)
    elif variant == "majuscules":
        first, last = first.upper(), last.upper()
    elif variant == "minuscules":
        first, last = first.lower(), last.lower()
    elif variant == "sans_trait_union":
        first, last = first.replace("-", " "), last.replace("-", " ")
    elif variant == "ordre_inverse":
        first, last = last, first
    elif variant != "exact":
        raise ValueError(f"variante inconnue: {variant}")
    return {"first_name": first, "last_name": last, "birth_date": person.birth_date.isoformat()}


def normalise_name(*parts: str | None) -> str:
    """Accents, case, hyphens, apostrophes and word order do not make another person: 'Marie-Ève Côté'
    and 'COTE Marie Eve' both give 'cote eve marie' (the same rule as intake's resolver)."""
    text = unidecode(" ".join(p for p in parts if p)).lower()
    for ch in "-‐‑–—'’`´.,_/":
        text = text.replace(ch, " ")
    return " ".join(sorted("".join(c for c in text if c.isalnum() or c == " ").split()))


def identity_key(first_name: str | None, last_name: str | None, birth_date: str | date | None) -> str:
    """Who a PersonIdentity names, for the simulator: normalised name words and birth date."""
    bd = birth_date.isoformat() if isinstance(birth_date, date) else (birth_date or "")
    return f"{normalise_name(first_name, last_name)}|{bd}"


def same_person(a: dict, b: dict) -> bool:
    """Two PersonIdentity dicts name the same person (every spelling variant of `spell` does)."""
    return identity_key(a.get("first_name"), a.get("last_name"), a.get("birth_date")) == \
        identity_key(b.get("first_name"), b.get("last_name"), b.get("birth_date"))


# --- the city ---------------------------------------------------------------------------------------
@dataclass
class City:
    """Streets of each sector and where each sector lies."""
    profile: CityProfile
    sector_streets: dict[str, list[str]]
    sector_centres: dict[str, tuple[float, float]]

    @property
    def sectors(self) -> list[str]:
        return list(self.sector_streets)

    @classmethod
    def build(cls, profile: CityProfile, rng: random.Random) -> "City":
        sectors = [f"S{i + 1}" for i in range(profile.sectors)]
        streets = [f"{rng.choice(names.STREET_KINDS)} {s}" for s in names.STREET_NAMES]
        rng.shuffle(streets)
        per = max(6, len(streets) // len(sectors))
        sector_streets = {s: [streets[(i * per + j) % len(streets)] for j in range(per)]
                          for i, s in enumerate(sectors)}
        lat0, lon0 = profile.centre
        centres = {}
        for i, s in enumerate(sectors):  # sectors on a ring around the centre (S1 at the centre)
            if i == 0:
                centres[s] = (lat0, lon0)
                continue
            angle = 2 * math.pi * (i - 1) / max(1, len(sectors) - 1)
            d_km = profile.radius_km * 0.6
            centres[s] = (lat0 + d_km * math.sin(angle) / KM_PER_DEG_LAT,
                          lon0 + d_km * math.cos(angle) / (KM_PER_DEG_LAT * math.cos(math.radians(lat0))))
        return cls(profile, sector_streets, centres)

    def address(self, rng: random.Random, sector: str | None = None, place: str | None = None) -> Address:
        sector = sector or one(rng, self.sectors)
        lat0, lon0 = self.sector_centres[sector]
        spread = self.profile.radius_km / max(2.0, math.sqrt(len(self.sectors))) / KM_PER_DEG_LAT
        lat = round(lat0 + rng.uniform(-spread, spread), 6)
        lon = round(lon0 + rng.uniform(-spread, spread) / math.cos(math.radians(lat0)), 6)
        return Address(between(rng, 10, 9990), one(rng, self.sector_streets[sector]), sector, lat, lon, place)

    def public_place(self, rng: random.Random, sector: str) -> Address:
        kinds, weights = zip(*names.PUBLIC_PLACES)
        return self.address(rng, sector, rng.choices(kinds, weights)[0])


def draw_name(rng: random.Random) -> tuple[str, str]:
    first = one(rng, names.GIVEN_NAMES_F if rng.random() < 0.5 else names.GIVEN_NAMES_M)
    last = one(rng, names.FAMILY_NAMES)
    if rng.random() < names.COMPOUND_SHARE:
        other = one(rng, names.FAMILY_NAMES)
        if other != last and "-" not in other and "-" not in last:
            last = f"{last}-{other}"
    return first, last


def draw_birth_date(rng: random.Random, reference: date, min_age: int = 14, max_age: int = 88) -> date:
    age_days = int(rng.triangular(min_age * 365.25, max_age * 365.25, 34 * 365.25))
    return reference - timedelta(days=age_days)


def log_uniform(rng: random.Random, lo: float, hi: float) -> float:
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


@dataclass
class Population:
    city: City
    persons: list[Person] = field(default_factory=list)  # the ones who call more than once

    @property
    def by_id(self) -> dict[str, Person]:
        return {p.person_id: p for p in self.persons}

    @classmethod
    def generate(cls, profile: CityProfile, rng: random.Random, reference: date) -> "Population":
        city = City.build(profile, rng)
        pop = cls(city)
        seen: set[str] = set()

        def new_person(kind: str, rate: float) -> Person:
            while True:
                first, last = draw_name(rng)
                born = draw_birth_date(rng, reference, 18, 75)
                key = identity_key(first, last, born.isoformat())
                if key not in seen:
                    seen.add(key)
                    break
            pid = f"P{len(pop.persons) + 1:06d}"
            return Person(pid, first, last, born, city.address(rng), kind, round(rate, 3))

        for _ in range(profile.extreme_utilisers):
            pop.persons.append(new_person("extreme", profile.extreme_rate))
        for _ in range(profile.cohort_size):
            pop.persons.append(new_person("cohort", log_uniform(rng, *profile.cohort_rate)))
        for _ in range(profile.repeater_count):
            pop.persons.append(new_person("repeater", rng.uniform(*profile.repeater_rate)))
        return pop

    def by_birth_date(self) -> dict[str, list[Person]]:
        out: dict[str, list[Person]] = {}
        for p in self.persons:
            out.setdefault(p.birth_date.isoformat(), []).append(p)
        return out
