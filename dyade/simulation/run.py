"""One run of the simulator: build the city, stream it into a sink at the pace asked, with a progress bar,
then write the ground truth beside the stream."""
from __future__ import annotations

import json
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from dyade.simulation.outputs import Counts, Pacer, Sink
from dyade.simulation.simulation import Knobs, Simulation
from dyade.simulation.truth import ground_truth


@dataclass
class RunResult:
    truth: dict
    counts: Counts
    truth_path: Path | None


def expected_calls(knobs: Knobs) -> int:
    total = round(knobs.profile.calls_per_year * knobs.days / 365)
    return min(total, knobs.limit) if knobs.limit else total


def simulate(knobs: Knobs, sink: Sink, *, speed: float = 0.0, updates: bool = True, referrals: bool = True,
             truth_path: Path | None = None, progress: bool = False, console: Console | None = None) -> RunResult:
    sim = Simulation(knobs)
    pacer = Pacer(speed)
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("appels"), TimeElapsedColumn(), TimeRemainingColumn(),
                   console=console or Console(stderr=True), transient=False) if progress else nullcontext()
    try:
        with bar:
            task = bar.add_task(f"{knobs.profile.name}", total=expected_calls(knobs)) if progress else None
            done = 0
            for rec in sim.stream(updates=updates, referrals=referrals):
                pacer.wait(rec.at)
                sink.send(rec)
                if progress and rec.kind == "call":
                    done += 1
                    if done % 2000 == 0 or speed > 0:
                        bar.update(task, completed=done)
            if progress:
                bar.update(task, completed=done, total=done)
    finally:
        sink.close()
    truth = ground_truth(sim)
    if truth_path:
        truth_path.parent.mkdir(parents=True, exist_ok=True)
        truth_path.write_text(json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")
    return RunResult(truth, sink.counts, truth_path)
