"""The outbox under a broker outage: requests are still accepted (202) while the broker is frozen
(SIGSTOP); once it resumes (SIGCONT) the relay publishes every event, in order, exactly once."""
from __future__ import annotations

import time
from collections import Counter

from dyade.contracts.topics import CALLS_RECEIVED
from dyade.kafka import wait_until
from services.intake.adapters.outbox import BACKLOG
from services.intake.tests.conftest import call_body


def published(intake, dispatch, call_id: str) -> bool:
    return intake.get(f"/v1/calls/{call_id}", headers=dispatch).json()["revisions"][-1]["published"]


def test_broker_frozen_calls_still_accepted_then_published_once_in_order(intake, dispatch, broker, reader, unique,
                                                                         token):
    calls = reader(CALLS_RECEIVED)
    ids = [f"OUT-{unique}-{i:02d}" for i in range(12)]
    broker.pause()
    try:
        answers = [intake.post("/v1/calls", json=call_body(cid, nature_code="SUIC"), headers=dispatch) for cid in ids]
        assert [a.status_code for a in answers] == [202] * len(ids)
        # Revisions of one call, accepted while the broker is down, must come out in order.
        for rev in (2, 3):
            r = intake.post("/v1/calls", json=call_body(ids[0], revision=rev, nature_code="SUIC"), headers=dispatch)
            assert r.status_code == 202
        assert not any(published(intake, dispatch, cid) for cid in ids)
        outbox = intake.get("/v1/outbox", headers=token("supervisor")).json()
        assert outbox["backlog"] >= len(ids) + 2
        # Keep the outage longer than the producer's request timeout (10 s), so the relay's sends time out
        # and are retried: the retries must not be written twice.
        time.sleep(12)
        # the backlog gauge rises while nothing can be sent (what the IntakeOutboxBacklog alert watches); it
        # follows the relay started last in the process, and this test process starts several intake apps
        BACKLOG.set_function(intake.app.state.relay.scraped_backlog)
        gauge = next(ln for ln in intake.get("/metrics").text.splitlines()
                     if ln.startswith("dyade_intake_outbox_backlog "))
        assert float(gauge.split()[1]) >= len(ids) + 2
    finally:
        broker.resume()
    wait_until(lambda: all(published(intake, dispatch, cid) for cid in ids), timeout=120, interval=0.2)
    events = calls.wait_for(lambda e: e.correlation_id in ids, len(ids) + 2, timeout=60)
    calls.poll()
    events = calls.events(lambda e: e.correlation_id in ids)
    per_id = Counter(str(e.event_id) for e in events)
    assert len(per_id) == len(ids) + 2 and set(per_id.values()) == {1}, "an event was lost or published twice"
    expected = {a.json()["event_id"] for a in answers}
    assert expected <= set(per_id)
    first = [e.payload.revision for e in events if e.correlation_id == ids[0]]
    assert first == [1, 2, 3]
