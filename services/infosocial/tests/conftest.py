"""Info-social test fixtures: one real server (uvicorn in a thread) on the session's PostgreSQL and broker,
with its own consumer group; a helper to read what it published."""
from __future__ import annotations

import threading
import uuid
from typing import Callable

import httpx
import pytest
import uvicorn
from kafka import KafkaConsumer, TopicPartition

from dyade.broker import free_port
from dyade.kafka import wait_until

SW_A, SW_B = "intervenante-a", "intervenante-b"


@pytest.fixture(scope="session")
def infosocial(settings):
    """(base_url, app) of a running Info-social service."""
    from services.infosocial.app import create_app
    app = create_app(settings, consumer_group=f"infosocial-test-{uuid.uuid4().hex[:8]}")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False,
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: _ok(base), timeout=60, interval=0.1)
    yield base, app
    server.should_exit = True
    thread.join(20)


def _ok(base: str) -> bool:
    try:
        return httpx.get(base + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="session")
def api(infosocial):
    base, _ = infosocial
    with httpx.Client(base_url=base, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def runtime(infosocial):
    return infosocial[1].state.runtime


@pytest.fixture
def person() -> str:
    return "p_" + uuid.uuid4().hex[:20]


@pytest.fixture(scope="session")
def sw(token):
    """Headers of the two social workers (author and approver)."""
    return token("social_worker", subject=SW_A), token("social_worker", subject=SW_B)


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


@pytest.fixture
def reader(broker):
    opened: list[TopicReader] = []

    def make(topic: str) -> TopicReader:
        r = TopicReader(broker.bootstrap_servers, topic)
        opened.append(r)
        return r
    yield make
    for r in opened:
        r.close()
