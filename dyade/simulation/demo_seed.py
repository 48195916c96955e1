"""What the demo seeds: a roster of dyads on duty around the clock, and fiches Info-social written the way
the Terrebonne coordinator describes them (particularités, interventions à privilégier / à éviter,
proches et professionnels à joindre, niveau de tolérance, mode de libération)."""
from __future__ import annotations

import random
from datetime import datetime, timedelta

from dyade.simulation.calls import TZ
from dyade.simulation.names import FIELD_MEMBERS
from dyade.simulation.population import Person

ALL_WEEK = list(range(7))
# Day and night shifts: the demo must alert a dyad whatever the hour it is run (a real ÉMIPIC-like team
# works 8 h – 20 h; `PUT /v1/dyads/{id}` with its own shifts changes that).
AROUND_THE_CLOCK = [{"days": ALL_WEEK, "start": "06:00", "end": "18:00"},
                    {"days": ALL_WEEK, "start": "18:00", "end": "06:00"}]


def dyad_roster(sectors: list[str]) -> list[tuple[str, dict]]:
    police = [m for m in FIELD_MEMBERS if m[1] == "policier"]
    workers = [m for m in FIELD_MEMBERS if m[1] == "intervenant"]
    out = []
    for i, sector in enumerate(sectors):
        dyad_id = "D" + sector.lstrip("S")
        cop, worker = police[i % len(police)], workers[i % len(workers)]
        out.append((dyad_id, {
            "name": f"Dyade {sector}",
            "sector": sector,
            "members": [{"name": cop[0], "role": cop[1]}, {"name": worker[0], "role": worker[1]}],
            "shifts": AROUND_THE_CLOCK,
        }))
    return out


def sector_neighbours(sectors: list[str]) -> dict[str, list[str]]:
    """The demo city's sectors: S1 at the centre, the others on a ring around it (population.City). Each
    sector's neighbours, nearest first: the centre, then the two sectors beside it on the ring."""
    centre, ring = sectors[0], sectors[1:]
    out = {centre: list(ring)}
    for i, s in enumerate(ring):
        beside = [ring[(i - 1) % len(ring)], ring[(i + 1) % len(ring)]] if len(ring) > 1 else []
        out[s] = [centre] + [b for b in dict.fromkeys(beside) if b != s]
    return out


PARTICULARITES = (
    "Trouble psychotique connu; devient méfiant et anxieux devant plusieurs policiers en uniforme.",
    "Trouble de personnalité limite; crises souvent le soir, après une rupture ou un conflit familial.",
    "Trouble bipolaire, phases maniaques; vit seul, isolement important.",
    "Déficience intellectuelle légère et consommation d'alcool; appelle souvent lui-même la police la nuit.",
)
PRIVILEGIER = (
    "Une seule personne parle, ton calme, se présenter par son prénom",
    "Proposer de s'asseoir, offrir un verre d'eau ou un café",
    "Rappeler le suivi en cours avec l'intervenante du CLSC",
    "Laisser du temps: la personne se calme en 10 à 15 minutes si on ne la presse pas",
    "Appeler la sœur (contact ci-dessous) qui sait l'apaiser",
)
EVITER = (
    "Ne pas toucher sans prévenir",
    "Éviter les gyrophares et sirènes à l'arrivée",
    "Ne pas hausser le ton ni discuter ses croyances",
    "Éviter de parler de l'hôpital d'entrée de jeu",
)
RISQUES = ("fugue", "intoxication", "automutilation", "agressivité verbale si acculé")


def frame_for(person: Person, person_key: str) -> dict:
    """A realistic fiche for a high utiliser, with consent obtained (> 90 % of files in Terrebonne)."""
    rng = random.Random(f"fiche:{person.person_id}")
    today = datetime.now(TZ).date()
    return {
        "person_key": person_key,
        "display_name": f"{person.first_name} {person.last_name}",
        "particularites": {"text": rng.choice(PARTICULARITES), "source": "sante"},
        "interventions_a_privilegier": [{"text": t, "source": "sante"} for t in rng.sample(PRIVILEGIER, 3)],
        "interventions_a_eviter": [{"text": t, "source": "police"} for t in rng.sample(EVITER, 2)],
        "contacts": [
            {"name": "Sœur (proche aidante)", "role": "proche", "phone": f"450-555-{rng.randint(1000, 9999)}",
             "when_to_call": "en tout temps en cas de crise"},
            {"name": "Intervenante du suivi intensif (CLSC)", "role": "intervenante CISSS",
             "phone": f"450-555-{rng.randint(1000, 9999)}", "when_to_call": "jours de semaine, 8 h à 16 h"},
        ],
        "niveau_tolerance": {"text": "Faible la nuit; meilleure le jour si une intervenante est présente.",
                             "source": "police"},
        "mode_liberation": {"text": "Accepte souvent un transport volontaire au CLSC ou à l'urgence si on le "
                                    "lui propose calmement.", "source": "sante"},
        "risques": [{"text": r, "source": "police"} for r in rng.sample(RISQUES, 2)],
        "consent": {"status": "obtenu", "date": (today - timedelta(days=rng.randint(5, 60))).isoformat(),
                    "scope": ["CISSS", "organisme communautaire"]},
        "reason": "Création (démonstration): grande utilisatrice, appels répétés pour état mental perturbé.",
    }
