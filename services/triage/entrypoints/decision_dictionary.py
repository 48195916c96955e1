"""Builds the preset dictionary a subject's kept decisions are compressed against (`domain/decision-zs<N>.zdict`,
read by domain/packing.py): a Zstandard dictionary trained (`zstandard.train_dictionary`) on decisions made by
triage's own stages, in memory, over the calls of a simulated city (dyade.simulation, the demo's generator, with
its addresses, nature codes and persons), converted to CallReceived as intake converts them (codes, block-level
address, location and person keys). The dictionary is frozen once shipped: a new one gets the next number, and
the old ones stay, to read what was packed with them (a packed decision names its dictionary). The stages run
on the test doubles of services/triage/tests/fakes.py (no broker): a tool for development, not for the worker's
image.

    python -m services.triage.entrypoints.decision_dictionary [--calls 30000] [--out PATH] [--check]

`--check` only prints the average packed size of the decisions of another run of the simulator (another
seed) with each shipped dictionary (the figures quoted in domain/packing.py), and the time each takes."""
from __future__ import annotations

import argparse
import asyncio
import time
import zlib
from datetime import date
from pathlib import Path

import zstandard

from dyade.contracts.calls import PersonRef
from dyade.contracts.inbound import CallSubmission
from dyade.contracts.topics import CALLS_RECEIVED, TRIAGE_DECIDED
from dyade.simulation.profiles import PROFILES
from dyade.simulation.simulation import Knobs, Simulation
from services.intake.adapters.code_tables import CodeTables
from services.intake.domain.calls import ResolvedLocation, call_received
from services.intake.domain.identity import identity_of, person_key_for
from services.intake.domain.locations import AddressError, block_level, location_key
from services.triage.domain import packing
from services.triage.tests.fakes import Message, stages

SECRET = "decision-dictionary"   # keys only need to look like intake's
SIZE = 32 * 1024   # bytes (on bench.triage's decisions 16 KB packed ~5 % larger, 64 KB no smaller)


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


def build(texts: list[bytes], size: int = SIZE) -> bytes:
    return zstandard.train_dictionary(size, texts).as_bytes()


def packed_size(texts: list[bytes], name: str, zstd_dictionary: bytes | None = None) -> tuple[float, float]:
    """Average bytes of each decision packed with a shipped dictionary (or the Zstandard one given), and µs
    to pack one."""
    if zstd_dictionary is not None or name in packing.ZSTD_DICTIONARIES:
        d = zstandard.ZstdCompressionDict(zstd_dictionary) if zstd_dictionary else packing.ZSTD_DICTIONARIES[name]
        one = packing.new_compressor(d).compress
    else:
        primed = zlib.compressobj(6, zlib.DEFLATED, 13, 5, zdict=packing.DEFLATE_DICTIONARIES[name])

        def one(t: bytes) -> bytes:
            z = primed.copy()
            return z.compress(t) + z.flush()
    t0 = time.perf_counter()
    total = sum(len(one(t)) for t in texts)
    return total / len(texts), (time.perf_counter() - t0) / len(texts) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=30_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", type=Path, default=Path(packing.__file__).with_name(f"decision-{packing.PACKS_WITH}.zdict"))
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    built = None
    if not args.check:
        texts = asyncio.run(decisions(args.calls, args.seed))
        built = build(texts)
        args.out.write_bytes(built)
        print(f"{args.out}: {len(built)} bytes from {len(texts)} decisions")
    held_out = asyncio.run(decisions(10_000, args.seed + 1))
    print(f"{len(held_out)} decisions of another run of the simulator (seed {args.seed + 1}), "
          f"{sum(map(len, held_out)) / len(held_out):.0f} bytes of JSON on average; packed, on average:")
    for name in (*packing.DEFLATE_DICTIONARIES, *packing.ZSTD_DICTIONARIES):
        size, us = packed_size(held_out, name)
        print(f"  {name}: {size:.0f} bytes, {us:.1f} µs each")
    if built is not None:
        size, us = packed_size(held_out, args.out.name, built)
        print(f"  {args.out.name} (just built): {size:.0f} bytes, {us:.1f} µs each")


if __name__ == "__main__":
    main()
