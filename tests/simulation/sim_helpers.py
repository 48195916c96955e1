"""Helpers of the simulation tests: a run written to files and read back."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import orjson

from dyade.simulation.outputs import FileSink
from dyade.simulation.run import simulate
from dyade.simulation.simulation import Knobs


@dataclass
class Written:
    dir: Path
    calls: list[dict]
    updates: list[dict]
    referrals: list[dict]
    eido: list[dict]
    truth: dict
    raw: dict[str, bytes]


def write_run(directory: Path, knobs: Knobs, *, eido_share: float = 0.05, suffix: str = ".jsonl") -> Written:
    out = directory / f"calls{suffix}"
    sink = FileSink(out, eido_share=eido_share, city=knobs.profile.name)
    simulate(knobs, sink, truth_path=directory / "calls.truth.json")

    def lines(name: str) -> list[dict]:
        path = directory / f"calls.{name}.jsonl"
        return [orjson.loads(x) for x in path.read_bytes().splitlines()] if path.exists() else []

    raw = {p.name: p.read_bytes() for p in sorted(directory.iterdir())}
    calls = [orjson.loads(x) for x in out.read_bytes().splitlines()] if suffix == ".jsonl" else []
    return Written(directory, calls, lines("updates"), lines("referrals"), lines("eido"),
                   json.loads((directory / "calls.truth.json").read_text()), raw)
