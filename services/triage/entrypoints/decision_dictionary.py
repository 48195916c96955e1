"""Builds the preset dictionary a subject's kept decisions are deflated against (`domain/decision-z<N>.zdict`,
read by domain/state.py): decisions made by triage's own stages, in memory, over the calls of a simulated city
(dyade.simulation, the demo's generator, with its addresses, nature codes and persons), converted to
CallReceived as intake converts them (codes, block-level address, location and person keys). One decision of
each shape (level, criteria, reasons' factors), the commonest shapes last (deflate finds what is nearest
first), up to the compressor's 8 KB window. The dictionary is frozen once shipped: a new one gets the next
number, and the old ones stay, to read what was packed with them (a packed decision names its dictionary's
checksum). The stages run on the test doubles of services/triage/tests/fakes.py (no broker): a tool for
development, not for the worker's image.

    python -m services.triage.entrypoints.decision_dictionary [--calls 30000] [--out PATH] [--check]

`--check` only prints the average packed size of the decisions of another run of the simulator (another
seed) with each shipped dictionary (the figure quoted in domain/state.py)."""
from __future__ import annotations

import argparse
import asyncio
import zlib
from collections import Counter
from datetime import date
from pathlib import Path

import orjson

from dyade.contracts.calls import PersonRef
from dyade.contracts.inbound import CallSubmission
from dyade.contracts.topics import CALLS_RECEIVED, TRIAGE_DECIDED
from dyade.simulation.profiles import PROFILES
from dyade.simulation.simulation import Knobs, Simulation
from services.intake.adapters.code_tables import CodeTables
from services.intake.domain.calls import ResolvedLocation, call_received
from services.intake.domain.identity import identity_of, person_key_for
from services.intake.domain.locations import AddressError, block_level, location_key
from services.triage.domain import state as S
from services.triage.tests.fakes import Message, stages

SECRET = "decision-dictionary"   # keys only need to look like intake's
WINDOW = 8192 - 262              # what deflate's 8 KB window can reach back to


def simulated_calls(n: int, seed: int, profile: str = "montreal"):
    knobs = Knobs(PROFILES[profile], seed=seed, start=date(2025, 1, 1), days=365, limit=n)
    table = CodeTables.load().get(None)
    for rec in Simulation(knobs).stream(updates=False, referrals=False):
        if rec.kind != "call":
            continue
        sub = CallSubmission.model_validate(rec.body)
        try:
            loc = ResolvedLocation(location_key(SECRET, sub.location.address), block_level(sub.location.address),
                                   sub.location.sector)
            category = table.category_of(sub.nature_code)
        except (AddressError, KeyError, ValueError):
            continue
        persons = [PersonRef(person_key=person_key_for(SECRET, identity_of(
            p.first_name, p.last_name, p.birth_date, p.cad_person_id).name_fingerprint()), role=p.role)
            for p in sub.persons]
        yield call_received(sub, category=category, location=loc, persons=persons, source_system=table.source_system)


async def decisions(n: int, seed: int) -> list[bytes]:
    s, app = stages()
    hand_off = app.topics[s.hand_off.get_topic_name()]
    batch = []
    out: list[bytes] = []

    async def run() -> None:
        await s.place_batch(batch)
        sent, hand_off.sent = hand_off.sent, []
        await s.subject_batch(sent)
        out.extend(e.payload.model_dump_json().encode() for e in app.events(TRIAGE_DECIDED.name))
        for topic in app.topics.values():
            topic.sent.clear()
        batch.clear()

    for ev in simulated_calls(n, seed):
        batch.append(Message(CALLS_RECEIVED.name, ev.payload.location.location_key.encode(), ev.to_bytes()))
        if len(batch) == 200:
            await run()
    if batch:
        await run()
    return out


def shape(decision: bytes) -> tuple:
    d = orjson.loads(decision)
    return d["level"], tuple(d["criteria_met"]), tuple(r["factor"] for r in d["reasons"])


def build(texts: list[bytes]) -> bytes:
    counts = Counter(map(shape, texts))
    one = {}
    for t in texts:
        one.setdefault(shape(t), t)
    rising = sorted(one, key=lambda k: counts[k])   # the commonest last, nearest to what is compressed
    return b"".join(one[k] for k in rising)[-WINDOW:]


def packed_size(texts: list[bytes], zdict: bytes) -> float:
    primed = zlib.compressobj(6, zlib.DEFLATED, 13, 5, zdict=zdict)
    total = 0
    for t in texts:
        z = primed.copy()
        total += len(z.compress(t) + z.flush())
    return total / len(texts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=30_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", type=Path, default=Path(S.__file__).with_name("decision-z2.zdict"))
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    if not args.check:
        texts = asyncio.run(decisions(args.calls, args.seed))
        args.out.write_bytes(build(texts))
        print(f"{args.out}: {args.out.stat().st_size} bytes from {len(texts)} decisions")
    held_out = asyncio.run(decisions(10_000, args.seed + 1))
    print(f"{len(held_out)} decisions of another run of the simulator (seed {args.seed + 1}), "
          f"{sum(map(len, held_out)) / len(held_out):.0f} bytes of JSON on average; packed, on average:")
    for name, zdict in S.DICTIONARIES.items():
        print(f"  {name}: {packed_size(held_out, zdict):.0f} bytes")


if __name__ == "__main__":
    main()
