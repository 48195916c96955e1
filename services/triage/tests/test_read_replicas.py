"""Two workers in one group share the partitions; the read API answers the same from either (a read about a
key the other worker holds is forwarded to it, and answered once, by it)."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import httpx

from dyade.broker import free_port
from dyade.contracts.topics import TRIAGE_DECIDED
from dyade.contracts.triage import TriageDecided
from dyade.kafka import make_producer, publish, wait_until
from services.triage.peers import partition_of
from services.triage.tests.harness import Worker, call_event

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def test_either_worker_answers_for_keys_the_other_holds(settings, broker, tmp_path, reader, token, unique):
    app_id = f"triage-pair-{uuid.uuid4().hex[:8]}"
    pair = [Worker(settings, app_id, free_port(), tmp_path / f"worker{i}.log") for i in range(2)]
    producer = make_producer(broker.bootstrap_servers)
    try:
        for w in pair:
            w.start()
        wait_until(lambda: all(w.ready() for w in pair), timeout=120, interval=0.2)
        # persons and places on every partition, so each worker holds some of them
        persons = [f"p_{unique}{i}" for i in range(12)]
        places = [f"l_{unique}x{i}" for i in range(12)]
        assert {partition_of(k, 3) for k in persons} == {0, 1, 2} and {partition_of(k, 3) for k in places} == {0, 1, 2}
        calls = {}
        for i, (person, place) in enumerate(zip(persons, places)):
            calls[f"{unique}-p{i}"] = call_event(f"{unique}-p{i}", NOW - timedelta(hours=i), person=person, location=place)
            calls[f"{unique}-l{i}"] = call_event(f"{unique}-l{i}", NOW - timedelta(hours=i), location=place)
        for e in calls.values():
            publish(producer, e)
        producer.flush()
        decisions = reader(TRIAGE_DECIDED)
        decisions.wait(lambda es: {e.payload.call_id for e in es if isinstance(e, TriageDecided)} >= set(calls),
                       timeout=180)
        wait_until(lambda: all(w.ready() for w in pair), timeout=60, interval=0.2)

        headers = token("dispatch")
        for key in persons + places:
            answers = [httpx.get(f"{w.url}/v1/persons/{key}/triage", headers=headers, timeout=10) for w in pair]
            assert [a.status_code for a in answers] == [200, 200], (key, [a.text[:200] for a in answers])
            assert answers[0].json()["recurrence"] == answers[1].json()["recurrence"]
            assert answers[0].json()["cle"] == key
        for call_id in calls:
            answers = [httpx.get(f"{w.url}/v1/calls/{call_id}/decision", headers=headers, timeout=10) for w in pair]
            assert [a.status_code for a in answers] == [200, 200], (call_id, [a.text[:200] for a in answers])
            assert answers[0].json()["decision_id"] == answers[1].json()["decision_id"]
        unknown = [httpx.get(f"{w.url}/v1/calls/{unique}-nope/decision", headers=headers, timeout=10) for w in pair]
        assert [a.status_code for a in unknown] == [404, 404]
    finally:
        producer.close()
        for w in pair:
            w.stop()
