"""One call as the CAD sends it (CallSubmission JSON), its status updates and a social referral, built
from a nature, a time, a place and the persons involved. Plain dicts: a million of them must be cheap;
tests check that every one of them validates against the inbound contracts."""
from __future__ import annotations

import random
from bisect import bisect
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dyade.contracts.vocabulary import Disposition, ObservedFlag
from dyade.simulation.population import (
    VARIANT_WEIGHTS, VARIANTS, Address, City, Person, between, draw_birth_date, draw_name, one, same_person,
    spell,
)
from dyade.simulation.profiles import (
    DISPOSITIONS_AFTER_FOLLOW_UP, DISPOSITIONS_CRISIS, DISPOSITIONS_OTHER, Nature,
)

TZ = ZoneInfo("America/Montreal")
URGENT_FLAGS = {ObservedFlag.ARME.value, ObservedFlag.MENACES_DE_MORT.value, ObservedFlag.PLAN_SUICIDAIRE.value,
                ObservedFlag.GESTES_SUICIDAIRES.value}

CALLER_WORDS = {
    "soi": "La personne appelle elle-même", "famille": "Un membre de la famille appelle",
    "voisin": "Un voisin appelle", "commercant": "Un commerçant appelle", "partenaire": "Un partenaire appelle",
    "passant": "Un passant appelle", "autre": "Un tiers appelle", "inconnu": "Appel",
}
SITUATIONS = {  # by CAD code, else by nature
    "EMP": ("propos incohérents, crie dans le logement", "se dit suivi et menacé, très agité",
            "désorganisé, refuse de quitter les lieux", "ne dort plus depuis plusieurs jours, lance des objets",
            "parle seul et frappe aux portes de l'immeuble"),
    "P38": ("la famille demande une évaluation sous la Loi P-38", "dangereux pour lui-même selon l'entourage"),
    "SUI": ("tient des propos suicidaires", "a écrit une lettre d'adieu", "menace de se jeter d'un pont",
            "a pris des médicaments, propos suicidaires"),
    "TENT-SUIC": ("tentative de suicide, conscient", "s'est entaillé les poignets"),
    "DET": ("pleure, dit ne plus être capable", "en détresse après une éviction", "désemparé, sans ressource ce soir"),
    "BE": ("sans nouvelles depuis trois jours", "ne répond plus au téléphone, courrier accumulé",
           "inquiétude pour une personne âgée seule"),
    "DISP": ("personne vulnérable partie sans ses médicaments", "n'est pas rentrée au foyer ce soir"),
    "VCF": ("dispute violente entendue", "cris et bruits de coups", "menaces envers son conjoint"),
    "DES": ("bruit et cris dans la rue", "personne intoxiquée dérange les clients", "attroupement bruyant"),
    "BAGARRE": ("bagarre devant un bar", "deux hommes se battent dans le stationnement"),
    "AUT": ("objet trouvé", "demande d'information", "méfait sur un véhicule"),
    "VOL": ("vol à l'étalage", "vol de vélo", "introduction par effraction"),
    "CIRCULATION": ("véhicule mal stationné bloque une entrée", "feu de circulation en panne"),
    "ACCIDENT": ("accident sans blessé", "accrochage, constat à remplir"),
    "ALARME": ("alarme résidentielle", "alarme commerciale déclenchée"),
    "SUSPECT": ("véhicule suspect", "individu suspect rôde près des voitures"),
    "INTOX": ("personne intoxiquée couchée sur le trottoir", "personne ivre refuse de quitter le commerce"),
}


def draw(rng: random.Random, table: tuple[tuple, tuple[float, ...]]):
    """One value of a (values, cumulative weights) table."""
    values, cum = table
    return values[bisect(cum, rng.random() * cum[-1])]


def pick(rng: random.Random, weighted: tuple[tuple, ...]):
    r = rng.random() * sum(w for _, w in weighted)
    for value, w in weighted:
        r -= w
        if r <= 0:
            return value
    return weighted[-1][0]


def local_iso(when: datetime) -> str:
    """An aware ISO timestamp in America/Montreal (what a Québec CAD stamps)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=TZ)
    return when.isoformat(timespec="seconds")


def identity(person: Person, rng: random.Random, role: str = "sujet") -> dict:
    variant = rng.choices(VARIANTS, VARIANT_WEIGHTS)[0]
    return {**spell(person, variant), "role": role}


def stranger(rng: random.Random, when: datetime, role: str = "sujet", last_name: str | None = None) -> dict:
    first, last = draw_name(rng)
    return {"first_name": first, "last_name": last_name or last,
            "birth_date": draw_birth_date(rng, when.date()).isoformat(), "role": role}


def relative_of(person: Person) -> dict:
    """The same relative calls about a person each time (seeded by the person)."""
    r = random.Random(f"proche:{person.person_id}")
    first, _ = draw_name(r)
    return {"first_name": first, "last_name": person.last_name.split("-")[0], "role": "appelant"}


@dataclass
class CallFactory:
    city: City
    prefix: str = "SIM"

    def call(self, rng: random.Random, call_id: str, when: datetime, nature: Nature,
             subject: Person | None = None, *, known_dob: dict[str, list[Person]] | None = None) -> dict:
        """A CallSubmission dict. `subject` is a known person (home or a public place of their sector);
        without it, a stranger (or nobody) is involved, at a random address."""
        code = draw(rng, nature.code_draw)
        caller = draw(rng, nature.caller_draw)
        flags = [f for f, p in nature.flag_draw if rng.random() < p]
        priority = 1 if URGENT_FLAGS.intersection(flags) else one(rng, nature.priority)
        persons: list[dict] = []
        if subject is not None:
            place = subject.home if rng.random() < 0.75 else self.city.public_place(
                rng, subject.home.sector if rng.random() < 0.9 else one(rng, self.city.sectors))
            persons.append(identity(subject, rng))
            if caller == "famille" and rng.random() < 0.5:
                persons.append(relative_of(subject))
        else:
            place = self.city.address(rng) if rng.random() < 0.7 else self.city.public_place(
                rng, one(rng, self.city.sectors))
            if rng.random() < nature.person_share * (0.9 if nature.is_crisis else 1.0):
                persons.append(self._stranger(rng, when, known_dob))
                if nature.key == "VCF":
                    persons[0]["role"] = "victime"
                    persons.append(self._stranger(rng, when, known_dob, last_name=persons[0]["last_name"]))
        return {
            "call_id": call_id,
            "revision": 1,
            "received_at": local_iso(when),
            "nature_code": code,
            "priority": priority,
            "location": address_json(place),
            "persons": persons,
            "caller_relation": caller,
            "flags": flags,
            "narrative": f"{CALLER_WORDS[caller]}: {one(rng, SITUATIONS.get(code) or SITUATIONS[nature.key])}.",
        }

    def _stranger(self, rng: random.Random, when: datetime, known_dob, last_name: str | None = None) -> dict:
        """A person met once. Never one of the known repeat callers (the ground truth stays exact)."""
        while True:
            p = stranger(rng, when, last_name=last_name)
            clash = (known_dob or {}).get(p["birth_date"], ())
            if not any(same_person(p, k.canonical) for k in clash):
                return p

    def updates(self, rng: random.Random, call: dict, when: datetime, nature: Nature, *,
                dyad_id: str | None = None, followed: bool = False) -> list[tuple[datetime, dict]]:
        """dispatched → on_scene → cleared with a disposition; `dyad_id` when a dyad attended."""
        t1 = when + timedelta(seconds=between(rng, 60, 480))
        t2 = t1 + timedelta(seconds=between(rng, 240, 1200))
        t3 = t2 + timedelta(seconds=between(rng, 900, 5400))
        table = (DISPOSITIONS_AFTER_FOLLOW_UP if followed else DISPOSITIONS_CRISIS) if nature.is_crisis \
            else DISPOSITIONS_OTHER
        disposition: Disposition = pick(rng, table)
        base = {"dyad_id": dyad_id} if dyad_id else {}
        return [
            (t1, {"status": "dispatched", "at": local_iso(t1), **base}),
            (t2, {"status": "on_scene", "at": local_iso(t2), **base}),
            (t3, {"status": "cleared", "at": local_iso(t3), "disposition": disposition.value, **base}),
        ]

    @staticmethod
    def referral(person: Person, when: datetime, kind: str, linked: list[str], referral_id: str) -> dict:
        """The social referral that starts a frame (fiche Info-social) or a dyad follow-up."""
        return {
            "referral_id": referral_id,
            "referrer_type": "policier" if kind == "fiche" else "partenaire_public",
            "referrer_id": "matricule-4521" if kind == "fiche" else "CISSS-Lanaudiere",
            "person": {"first_name": person.first_name, "last_name": person.last_name,
                       "birth_date": person.birth_date.isoformat(), "role": "sujet"},
            "clientele": ["etat_mental_perturbe"],
            "criteria": ["recurrence", "complexite_intervention"],
            "linked_call_ids": linked[-20:],
            "narrative": ("Appels répétés pour état mental perturbé; demande de fiche Info-social."
                          if kind == "fiche" else "Appels répétés; demande de suivi par la dyade du secteur."),
            "filed_at": local_iso(when),
        }


def address_json(a: Address) -> dict:
    return {"address": a.text, "sector": a.sector, "lat": a.lat, "lon": a.lon}


def dyad_of(sector: str) -> str:
    """The dyad that covers a sector (D1 for S1...), as the demo seeds them."""
    return "D" + sector.lstrip("S")

