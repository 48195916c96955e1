"""Helpers of Info-social's tests (a module with a unique name: `conftest` is a name every service's tests share)."""
from __future__ import annotations

from typing import Callable

from kafka import KafkaConsumer, TopicPartition

from dyade.kafka import wait_until

SW_A, SW_B = "intervenante-a", "intervenante-b"


def frame_body(person_key: str, **over) -> dict:
    body = {
        "person_key": person_key, "display_name": "Personne Test",
        "particularites": "Trouble schizo-affectif suivi au CISSS",
        "interventions_a_privilegier": [{"text": "Parler calmement, se présenter par son nom", "source": "police"},
                                        "Rappeler son intervenante au CLSC"],
        "interventions_a_eviter": [{"text": "Éviter d'entrer à plusieurs dans l'appartement", "source": "police"}],
        "contacts": [{"name": "Mère", "role": "proche", "phone": "450-555-0101", "when_to_call": "en crise"},
                     {"name": "Concierge", "role": "voisin", "source": "police"}],
        "niveau_tolerance": {"text": "Tolérance élevée pour méfaits mineurs", "source": "police"},
        "mode_liberation": "Libération avec conditions, accompagnement à l'urgence psychiatrique",
        "risques": [{"text": "Couteau gardé dans la cuisine", "source": "police"}, "Idées suicidaires en automne"],
        "pii_link": "PII-2026-014",
        "consent": {"status": "obtenu", "scope": ["CISSS Lanaudière"]},
    }
    body.update(over)
    return body


def create_active(api, sw, person_key: str, **over) -> str:
    r = api.post("/v1/frames", json=frame_body(person_key, **over), headers=sw[0])
    assert r.status_code == 201, r.text
    frame_id = r.json()["frame_id"]
    r = api.post(f"/v1/frames/{frame_id}/approve", headers=sw[1])
    assert r.status_code == 200, r.text
    return frame_id


class TopicReader:
    """Reads a topic from the beginning (no consumer group) and keeps records for some keys."""

    def __init__(self, bootstrap: str, topic: str):
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
        parts = [TopicPartition(topic, p) for p in sorted(self.consumer.partitions_for_topic(topic) or [])]
        self.consumer.assign(parts)
        self.consumer.seek_to_beginning(*parts)
        self.records: list = []

    def until(self, predicate: Callable[[list], object], keys: set[str], timeout: float = 30.0):
        def step():
            for recs in self.consumer.poll(timeout_ms=200).values():
                self.records.extend(r for r in recs if r.key and r.key.decode() in keys)
            return self.records if predicate(self.records) else None
        return wait_until(step, timeout=timeout, interval=0.01)

    def close(self) -> None:
        self.consumer.close()
