"""The agents take records in batches (faust's take_events, bootstrap.batches): a batch decides exactly as one record at a time,
reads and writes each key once, and hands on one internal record per person."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dyade.contracts.topics import CALLS_RECEIVED, CALLS_UPDATED, TRIAGE_DECIDED
from services.triage.adapters import codec
from services.triage.adapters.tables import States
from services.triage.tests.fakes import Message, stages
from services.triage.tests.harness import call_event, update_event

NOW = datetime(2025, 6, 1, 12, tzinfo=timezone.utc)


def stream(n: int) -> list[Message]:
    """Calls and updates over a few places and persons (some calls about nobody, updates before and after)."""
    out = []
    for i in range(n):
        at = NOW + timedelta(hours=i)
        where, who = f"l_{i % 7}", (f"p_{i % 5}" if i % 3 else None)
        if i % 4 == 1:   # its update first
            out.append(Message(CALLS_UPDATED.name, where.encode(), update_event(
                f"c{i}", at + timedelta(minutes=5), disposition="transport_p38", location=where).to_bytes(),
                partition=i % 3))
        out.append(Message(CALLS_RECEIVED.name, where.encode(), call_event(
            f"c{i}", at, person=who, location=where, flags=("arme",) if i % 6 == 0 else ()).to_bytes(),
            partition=i % 3))
        if i % 4 == 2:   # and after
            out.append(Message(CALLS_UPDATED.name, where.encode(), update_event(
                f"c{i}", at + timedelta(minutes=9), dyad="D1", location=where).to_bytes(), partition=i % 3))
    return out


async def run(msgs: list[Message], size: int):
    s, app = stages()
    hand_off = app.topics[s.hand_off.get_topic_name()]
    for start in range(0, len(msgs), size):
        await s.place_batch(msgs[start:start + size])
        handed, hand_off.sent[:] = list(hand_off.sent), []
        await s.subject_batch(handed)
    return s, app


def comparable(app) -> list:
    return sorted((e.event_id, e.payload.model_dump_json()) for e in app.events(TRIAGE_DECIDED.name))


async def test_a_batch_decides_as_one_record_at_a_time():
    msgs = stream(60)
    one, one_app = await run(msgs, 1)
    batched, batched_app = await run(msgs, 25)
    assert len(one_app.events(TRIAGE_DECIDED.name)) == 60
    assert comparable(batched_app) == comparable(one_app)
    for table in ("places", "subjects"):
        a, b = getattr(one, table), getattr(batched, table)
        assert {k: codec.dump(v) for k, v in a.items()} == {k: codec.dump(v) for k, v in b.items()}


async def test_each_key_is_written_once_per_batch_and_each_person_gets_one_record():
    s, app = stages()
    written = []

    class Recording(dict):
        def __setitem__(self, key, value):
            written.append(key)
            super().__setitem__(key, value)
    s.places = States(Recording(), codec.load_place)
    msgs = [Message(CALLS_RECEIVED.name, b"l_1", call_event(f"c{i}", NOW + timedelta(hours=i), person="p_1",
                                                            location="l_1").to_bytes()) for i in range(4)]
    await s.place_batch(msgs)
    assert written == ["l_1"]
    (sent,) = app.topics[s.hand_off.get_topic_name()].sent
    assert [r.call_id for r in codec.load_hand_offs(sent.value)] == ["c0", "c1", "c2", "c3"]
    await s.subject_batch([sent])
    assert [e.payload.call_id for e in app.events(TRIAGE_DECIDED.name)] == ["c0", "c1", "c2", "c3"]
    assert app.events(TRIAGE_DECIDED.name)[-1].payload.recurrence.person_calls["30j"] == 4


async def test_a_record_that_fails_is_set_aside_and_the_batch_goes_on():
    s, app = stages()
    failed = []

    async def on_error(msg, exc):
        failed.append((msg.offset, type(exc).__name__))
    bad = Message("calls.raw.v1", b"l_1", b"{}")
    good = Message(CALLS_RECEIVED.name, b"l_1", call_event("c1", NOW, location="l_1").to_bytes())
    assert await s.place_batch([bad, good], on_error) == 1
    assert failed == [(bad.offset, "KeyError")] and len(app.events(TRIAGE_DECIDED.name)) == 1


async def test_the_two_agents_batches_never_mix():
    """Each agent is its own task: a person batch running while a place batch waits on the producer."""
    import asyncio
    s, app = stages()
    send = s.edge.send

    async def slow_send(*args, **kwargs):
        await asyncio.sleep(0)
        await send(*args, **kwargs)
    s.edge.send = slow_send
    calls = [Message(CALLS_RECEIVED.name, f"l_{i}".encode(), call_event(
        f"c{i}", NOW + timedelta(hours=i), person=f"p_{i}" if i % 2 else None, location=f"l_{i}").to_bytes())
        for i in range(40)]
    frames = [Message("frames.current.v1", f"p_{i}".encode(), None) for i in range(40)]
    await asyncio.gather(s.place_batch(calls), s.subject_batch(frames))
    handed = [r.call_id for m in app.topics[s.hand_off.get_topic_name()].sent for r in codec.load_hand_offs(m.value)]
    assert handed == [f"c{i}" for i in range(1, 40, 2)]
    assert set(s.places) == {f"l_{i}" for i in range(40)} and set(s.subjects) == {f"p_{i}" for i in range(40)}
