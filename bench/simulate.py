"""How long the simulator takes to write a large call file.

Figure: seconds to generate N calls (default 1 000 000, the Montréal profile: about a year of a big city's
police calls) into a JSONL file of CallSubmission, with the ground truth, as `dyade simulate` does
(updates, referrals and EIDO files off: the figure is about calls; `--full` turns them on).
Baseline, same run: seconds to merely write the same number of pre-built lines of the same size to a file.
The ratio says what generating a call costs over writing it.

    python -m bench.simulate            # 1 000 000 calls
    python -m bench.simulate --quick    # 100 000 calls
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import date
from pathlib import Path


from dyade.simulation.outputs import FileSink
from dyade.simulation.profiles import PROFILES
from dyade.simulation.run import simulate
from dyade.simulation.simulation import Knobs

RESULTS = Path(__file__).resolve().parent / "results" / "simulate.json"


def generate(n: int, directory: Path, full: bool) -> tuple[float, float, int, int]:
    knobs = Knobs(PROFILES["montreal"], seed=42, start=date(2025, 1, 1), days=366 * max(1, n // 900_000 + 1),
                  limit=n)
    out = directory / "calls.jsonl"
    sink = FileSink(out, eido_share=0.05 if full else 0.0, city=knobs.profile.name, updates=full)
    t0, c0 = time.perf_counter(), time.process_time()
    result = simulate(knobs, sink, updates=full, referrals=full, truth_path=directory / "calls.truth.json")
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert result.truth["stream"]["calls"] == n, result.truth["stream"]["calls"]
    return elapsed, cpu, out.stat().st_size, result.truth["stream"]["crisis_calls"]


def write_only(n: int, directory: Path, sample: list[bytes]) -> tuple[float, float]:
    """The same number of lines, already built, written the same way (one write per line)."""
    out = directory / "baseline.jsonl"
    t0, c0 = time.perf_counter(), time.process_time()
    with out.open("wb") as fh:
        k = len(sample)
        for i in range(n):
            fh.write(sample[i % k])
    return time.perf_counter() - t0, time.process_time() - c0


def _n(x: float) -> str:
    return f"{x:,.0f}".replace(",", " ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100 000 calls")
    parser.add_argument("--calls", type=int, default=None, help="number of calls (default 1 000 000)")
    parser.add_argument("--full", action="store_true", help="also updates, referrals and 5 %% EIDO")
    args = parser.parse_args()
    n = args.calls or (100_000 if args.quick else 1_000_000)
    with tempfile.TemporaryDirectory(prefix="dyade-bench-sim-") as tmp:
        directory = Path(tmp)
        elapsed, cpu, size, crisis = generate(n, directory, args.full)
        sample = (directory / "calls.jsonl").open("rb").readlines()[:10_000]
        (directory / "calls.jsonl").unlink()
        baseline, baseline_cpu = write_only(n, directory, sample)
    rate = n / elapsed
    print(f"simulateur: {_n(n)} appels générés en {elapsed:.1f} s (CPU {cpu:.1f} s; {_n(rate)} appels/s; "
          f"{size / 1e6:.0f} Mo; {_n(crisis)} appels de crise)")
    print(f"référence:  {_n(n)} lignes déjà prêtes écrites en {baseline:.2f} s (CPU {baseline_cpu:.2f} s)")
    print(f"rapport:    {elapsed / baseline:.1f}× en temps écoulé, {cpu / max(baseline_cpu, 1e-9):.1f}× en CPU "
          f"(génération / simple écriture; charge de la machine: {os.getloadavg()[0]:.1f})")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "benchmark": "simulate", "calls": n, "full": args.full, "seconds": round(elapsed, 3),
        "cpu_seconds": round(cpu, 3), "load_average": os.getloadavg()[0],
        "calls_per_second": round(rate), "bytes": size, "crisis_calls": crisis,
        "baseline_write_seconds": round(baseline, 3), "baseline_cpu_seconds": round(baseline_cpu, 3),
        "ratio": round(elapsed / baseline, 2), "cpu_ratio": round(cpu / max(baseline_cpu, 1e-9), 2),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }, indent=1))
    print(f"résultats: {RESULTS}")


if __name__ == "__main__":
    main()
