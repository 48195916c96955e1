"""The raw topic: valid call JSON is accepted like an HTTP call (once, even if produced twice); what
is not goes to calls.raw.v1.dlq with the original bytes and the reason."""
from __future__ import annotations

import json

from dyade.contracts.topics import CALLS_RAW, CALLS_RECEIVED
from dyade.kafka import make_producer, wait_until
from services.intake.tests.conftest import call_body


def test_raw_calls_accepted_once_and_bad_records_dead_lettered(intake, broker, reader, dispatch, unique):
    calls, dlq = reader(CALLS_RECEIVED), reader(CALLS_RAW.dlq_name)
    good = json.dumps(call_body(f"RAW-{unique}", nature_code="DETR")).encode()
    bad = {
        "not-json": b"{pas du json " + unique.encode(),
        "bad-utf8": b'{"call_id": "\xff' + unique.encode() + b'"}',
        "missing": json.dumps({"call_id": f"RAWBAD-{unique}", "nature_code": "EMP"}).encode(),
        "unknown-code": json.dumps(call_body(f"RAWCODE-{unique}", nature_code="ZZZ")).encode(),
    }
    producer = make_producer(broker.bootstrap_servers)
    producer.send(CALLS_RAW.name, key=f"RAW-{unique}".encode(), value=good)
    producer.send(CALLS_RAW.name, key=f"RAW-{unique}".encode(), value=good)  # the CAD retried
    for name, value in bad.items():
        producer.send(CALLS_RAW.name, key=name.encode(), value=value)
    producer.send(CALLS_RAW.name, key=b"k", value=json.dumps(call_body(f"RAWB-{unique}", nature_code="5150")).encode(),
                  headers=[("code_table", b"berkeley")])
    producer.flush()
    producer.close()

    dead = dlq.wait_for_records(lambda r: unique.encode() in (r.value or b""), len(bad))
    reasons = {r.key.decode(): dict(r.headers)["dlq.reason"].decode() for r in dead}
    assert {r.value for r in dead} == set(bad.values()), "original bytes kept"
    assert "JSON invalide" in reasons["not-json"] and "UTF-8" in reasons["bad-utf8"]
    assert "received_at" in reasons["missing"] and "ZZZ" in reasons["unknown-code"]
    accepted = calls.wait_for(lambda e: e.correlation_id in (f"RAW-{unique}", f"RAWB-{unique}"), 2)
    by_id = {e.correlation_id: e for e in accepted}
    assert by_id[f"RAWB-{unique}"].payload.category == "etat_mental_perturbe"
    assert by_id[f"RAW-{unique}"].payload.category == "detresse"
    wait_until(lambda: intake.get(f"/v1/calls/RAW-{unique}", headers=dispatch).status_code == 200)
    calls.poll()
    assert len(calls.events(lambda e: e.correlation_id == f"RAW-{unique}")) == 1
    assert intake.get(f"/v1/calls/RAW-{unique}", headers=dispatch).json()["revisions"][0]["channel"] == "raw"


def test_a_raw_call_older_than_1970_is_dead_lettered_as_invalid_naming_the_field(intake, broker, reader, unique):
    """0001-01-01T00:00:00+14:00 is before datetime's range once in UTC: it was a handler error, retried then
    dead-lettered as failing."""
    dlq = reader(CALLS_RAW.dlq_name)
    value = json.dumps(call_body(f"RAWOLD-{unique}", received_at="0001-01-01T00:00:00+14:00")).encode()
    producer = make_producer(broker.bootstrap_servers)
    producer.send(CALLS_RAW.name, key=f"RAWOLD-{unique}".encode(), value=value)
    producer.flush()
    producer.close()
    [dead] = dlq.wait_for_records(lambda r: r.value == value, 1)
    headers = {k: v.decode() for k, v in dead.headers}
    assert headers["dlq.kind"] == "invalid" and headers["dlq.attempts"] == "1", headers
    assert headers["dlq.reason"].startswith("received_at: date trop ancienne"), headers["dlq.reason"]
