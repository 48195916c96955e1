"""Determinism on replay (a fresh worker re-reads every topic from the beginning) and kill -9 mid-stream.

What is guaranteed: a call revision always gets the same decision id and event id, and the same decision
whenever the subject's events reach the worker in the same order. Kafka orders events within a partition
only, and calls are keyed by location: two calls about one person at different places may sit in different
partitions, and if the later one (event time) is processed first, it is decided without the earlier one, in
one run and maybe not in the next. These tests therefore give each subject's calls one place; the domain
tests cover the arrival order of earlier events in general.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from dyade.contracts.topics import TRIAGE_DECIDED
from dyade.contracts.triage import TriageDecided
from dyade.kafka import publish
from services.triage.tests.harness import call_event

BASE = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=60)


@pytest.fixture
def decisions(reader):
    return reader(TRIAGE_DECIDED)


def call_ids(prefix: str, n: int) -> list[str]:
    return [f"{prefix}-{i}" for i in range(n)]


def scenario(unique: str, persons: int = 4, calls_per_person: int = 3):
    events = []
    flags = [(), ("idees_suicidaires",), ("intoxication",), ("arme",)]
    for p in range(persons):
        person = f"p_{unique}{p}"
        for i, call_id in enumerate(call_ids(f"{unique}-p{p}", calls_per_person)):
            events.append(call_event(call_id, BASE + timedelta(days=5 * i, hours=p), person=person,
                                     location=f"l_{unique}{p}", flags=flags[(p + i) % len(flags)],
                                     category="detresse" if i % 2 else "etat_mental_perturbe"))
    for i, call_id in enumerate(call_ids(f"{unique}-nobody", 4)):
        events.append(call_event(call_id, BASE + timedelta(days=i), location=f"l_{unique}x", category="bien_etre"))
    return events


def by_call(events, wanted) -> dict[str, list[TriageDecided]]:
    out = defaultdict(list)
    for e in events:
        if isinstance(e, TriageDecided) and e.payload.call_id in wanted:
            out[e.payload.call_id].append(e)
    return out


def test_replay_from_the_beginning_yields_the_same_decisions(triage_worker, new_worker, producer, decisions, unique):
    events = scenario(unique)
    ids = {e.payload.call_id for e in events}
    for e in events:
        publish(producer, e)
    producer.flush()
    first = decisions.wait(lambda es: (lambda d: d if set(d) == ids else None)(by_call(es, ids)), timeout=180)
    assert first[f"{unique}-nobody-0"][0].payload.person_keys == ()
    nobody_last = max((c for c in ids if "nobody" in c), key=lambda c: first[c][0].occurred_at)
    assert first[nobody_last][0].payload.level == "dyade_suggeree"  # 4 crisis calls at the place in 30 days

    replay = new_worker()
    replay.start()
    # the replaying worker re-reads everything the session published (other services' tests too)
    both = decisions.wait(lambda es: (lambda d: d if all(len(d[c]) >= 2 for c in ids) else None)(by_call(es, ids)),
                          timeout=280)
    for call_id in ids:
        a, b = both[call_id][:2]
        assert a.event_id == b.event_id and a.payload.decision_id == b.payload.decision_id
        assert a.payload == b.payload, call_id
    replay.stop()


def test_kill_9_mid_stream_then_restart_decides_every_call(triage_worker, producer, decisions, unique, token):
    events = []  # each subject's calls at one place, in event-time order (see the module docstring)
    for p in range(30):
        for i, call_id in enumerate(call_ids(f"{unique}-k{p}", 2)):
            events.append(call_event(call_id, BASE + timedelta(days=3 * i), person=f"p_{unique}k{p}",
                                     location=f"l_{unique}k{p}", flags=("idees_suicidaires",) if i else ()))
    events += [call_event(call_id, BASE + timedelta(hours=i), location=f"l_{unique}kx")
               for i, call_id in enumerate(call_ids(f"{unique}-kx", 20))]
    ids = {e.payload.call_id for e in events}
    for e in events:
        publish(producer, e)
    producer.flush()
    decisions.wait(lambda es: len(by_call(es, ids)) >= 10, timeout=180)
    triage_worker.kill9()
    triage_worker.start()
    # supervised as `dyade up` runs it: faust sometimes resumes a restarted worker without ever fetching its
    # partitions again (seen about one restart in four on this machine, root cause not found); /healthz then
    # says it is stuck and the supervisor restarts it
    try:
        got, restarts = triage_worker.supervised_until(
            lambda: (lambda d: d if set(d) == ids else None)(by_call(decisions.events(), ids)), timeout=240)
    except TimeoutError as exc:
        seen = by_call(decisions.events(), ids)
        tail = "".join(triage_worker.log_path.read_text().splitlines(keepends=True)[-40:])
        pytest.fail(f"after the restart, {len(seen)}/{len(ids)} calls decided ({exc}); worker log tail:\n{tail}")
    print(f"kill -9 recovery: {restarts} more restart(s) for a stuck worker")
    duplicates = sum(len(v) - 1 for v in got.values())
    for call_id, copies in got.items():
        assert len({c.payload.decision_id for c in copies}) == 1, call_id
        assert len({c.event_id for c in copies}) == 1, call_id
        first = copies[0].payload.model_dump(mode="json")
        differ = [{k: (first[k], v) for k, v in c.payload.model_dump(mode="json").items() if first[k] != v}
                  for c in copies[1:]]
        assert not any(differ), (call_id, differ)
    print(f"kill -9: {len(ids)} calls decided, {duplicates} duplicate decisions (same ids) after restart")
    # the restarted worker explains decisions made before the kill too (its call index is rebuilt from the tables)
    for call_id in sorted(c for c in ids if "-kx" not in c)[:20]:  # persons' calls (2 each: all kept)
        r = httpx.get(f"{triage_worker.url}/v1/calls/{call_id}/decision", headers=token("dispatch"), timeout=10)
        assert r.status_code == 200 and r.json()["decision_id"] == got[call_id][0].payload.decision_id, call_id
