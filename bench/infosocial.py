"""Frame lookup latency for patrol terminals: `GET /v1/persons/{key}/frame` as an officer, at a
stated request rate (open loop: latency counted from each request's scheduled time), p50 and p99.
Baseline in the same run: a bare FastAPI endpoint returning the same JSON from memory, same uvicorn
settings, same client. Both servers run in their own process.

The service's figure includes what every read costs in production: token check, role view, the audit row
written to the database (one per read), metrics middleware. The database is a fresh PostgreSQL database
(DYADE_TEST_PG_URL, as the tests) or, when none answers, SQLite in a temporary directory.

    python -m bench.infosocial [--rate 50] [--seconds 15] [--frames 1000] [--quick]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench._db import bench_database

import httpx

RESULTS = Path(__file__).parent / "results"
SECRET = "bench-token-secret-long-enough-for-hs256"


# -- servers (each in its own process) ---------------------------------------------------------------------
def serve_service(db_url: str, port: int) -> None:
    import logging

    import uvicorn

    from dyade.settings import Settings
    from services.infosocial.bootstrap import create_app
    logging.disable(logging.WARNING)
    settings = Settings(database_url=db_url, dyade_token_secret=SECRET, dyade_pseudonym_key="bench-pseudonym-key-0123456789abcdef",
                        dyade_home=Path(tempfile.mkdtemp()), _env_file=None)
    app = create_app(settings, workers=False, sweep=False)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False)


def serve_bare(payload_file: str, port: int) -> None:
    import uvicorn
    from fastapi import FastAPI

    frames = json.loads(Path(payload_file).read_text())
    app = FastAPI()

    @app.get("/v1/persons/{person_key}/frame")
    def frame(person_key: str, call_id: str | None = None) -> dict:
        return frames[person_key]

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False)


def start(target, *args) -> multiprocessing.Process:
    proc = multiprocessing.get_context("spawn").Process(target=target, args=args, daemon=True)
    proc.start()
    return proc


def wait_ready(base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{base} ne répond pas")


# -- data ------------------------------------------------------------------------------------------------------
def database() -> tuple[str, callable]:
    return bench_database("dyade_bench")


def seed(db_url: str, count: int) -> list[str]:
    from dyade.db import migrate
    from dyade.settings import Settings
    from services.infosocial.domain.content import Approval, FrameSubmission
    from services.infosocial.runtime import Runtime
    migrate(db_url)
    rt = Runtime(Settings(database_url=db_url, dyade_home=Path(tempfile.mkdtemp()), _env_file=None))
    keys = []
    for i in range(count):
        key = f"p_{uuid.uuid4().hex[:24]}"
        sub = FrameSubmission.model_validate({
            "person_key": key, "display_name": f"Personne {i}", "particularites": "Trouble anxieux, suivi CLSC",
            "interventions_a_privilegier": [{"text": "Parler calmement, une seule voix", "source": "police"},
                                            "Proposer d'appeler sa sœur"],
            "interventions_a_eviter": [{"text": "Éviter les gyrophares", "source": "police"}],
            "contacts": [{"name": "Sœur", "role": "proche", "phone": "450-555-0199", "when_to_call": "en soirée"}],
            "niveau_tolerance": {"text": "Tolérance élevée", "source": "police"},
            "mode_liberation": "Libération avec conditions",
            "risques": [{"text": "Peut se barricader", "source": "police"}],
            "consent": {"status": "obtenu" if i % 10 else "refuse"}})
        w = rt.frames.submit(sub, "bench-a")
        rt.frames.approve(w.frame_id, "bench-b", Approval())
        keys.append(key)
    rt.engine.dispose()
    return keys


# -- load ---------------------------------------------------------------------------------------------------------
async def drive(base: str, keys: list[str], rate: float, seconds: float, headers: dict) -> dict:
    total = int(rate * seconds)
    latencies: list[float] = []
    errors = 0
    rng = random.Random(42)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as client:
        for key in keys[:20]:  # warm-up: connections, caches
            await client.get(f"/v1/persons/{key}/frame")

        async def one(key: str, scheduled: float) -> None:
            nonlocal errors
            r = await client.get(f"/v1/persons/{key}/frame", params={"call_id": "BENCH-1"})
            if r.status_code != 200:
                errors += 1
            latencies.append(time.perf_counter() - scheduled)

        tasks = []
        t0 = time.perf_counter()
        for i in range(total):
            scheduled = t0 + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(rng.choice(keys), scheduled)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
    latencies.sort()
    pct = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return {"requests": total, "errors": errors, "achieved_rate": round(total / elapsed, 1),
            "p50_ms": round(pct(0.50), 2), "p99_ms": round(pct(0.99), 2), "max_ms": round(latencies[-1] * 1000, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=50.0, help="requêtes par seconde (boucle ouverte)")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="25 req/s, 5 s, 200 fiches")
    args = parser.parse_args()
    if args.quick:
        args.rate, args.seconds, args.frames = 25.0, 5.0, 200
    from dyade.auth import issue_token
    from dyade.broker import free_port

    db_url, drop = database()
    procs: list[multiprocessing.Process] = []
    try:
        t0 = time.perf_counter()
        keys = seed(db_url, args.frames)
        print(f"{len(keys)} fiches actives créées en {time.perf_counter() - t0:.1f} s "
              f"({'PostgreSQL' if db_url.startswith('postgresql') else 'SQLite'})", flush=True)
        officer = {"Authorization": "Bearer " + issue_token(SECRET, subject="agent-bench", role="officer")}
        svc_port, bare_port = free_port(), free_port()
        procs.append(start(serve_service, db_url, svc_port))
        svc = f"http://127.0.0.1:{svc_port}"
        wait_ready(svc)
        frames = {k: httpx.get(f"{svc}/v1/persons/{k}/frame", headers=officer).json() for k in keys}
        payload = Path(tempfile.mkdtemp()) / "frames.json"
        payload.write_text(json.dumps(frames))
        procs.append(start(serve_bare, str(payload), bare_port))
        bare = f"http://127.0.0.1:{bare_port}"
        wait_ready(bare)

        load_before = os.getloadavg()[0]
        baseline = asyncio.run(drive(bare, keys, args.rate, args.seconds, officer))
        service = asyncio.run(drive(svc, keys, args.rate, args.seconds, officer))
        load_after = os.getloadavg()[0]
    finally:
        for p in procs:
            p.terminate()
            p.join(10)
        drop()
    ratio_p50 = service["p50_ms"] / baseline["p50_ms"]
    ratio_p99 = service["p99_ms"] / baseline["p99_ms"]
    print(f"\nlecture d'une fiche, {args.rate:g} req/s pendant {args.seconds:g} s, {args.frames} fiches")
    print(f"{'':28}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'req/s':>10}{'erreurs':>9}")
    for name, r in (("FastAPI nu (mémoire)", baseline), ("Info-social (audit inclus)", service)):
        print(f"{name:28}{r['p50_ms']:>10}{r['p99_ms']:>10}{r['max_ms']:>10}{r['achieved_rate']:>10}{r['errors']:>9}")
    print(f"rapport service / base: p50 x{ratio_p50:.2f}, p99 x{ratio_p99:.2f}")
    print(f"charge de la machine (load average 1 min): {load_before:.1f} avant, {load_after:.1f} après "
          f"({os.cpu_count()} cœurs) — au-delà du nombre de cœurs, les p99 mesurent surtout la machine")
    RESULTS.mkdir(exist_ok=True)
    out = {"benchmark": "infosocial.frame_lookup", "rate": args.rate, "seconds": args.seconds,
           "frames": args.frames, "database": db_url.split(":", 1)[0], "baseline": baseline, "service": service,
           "ratio_p50": round(ratio_p50, 2), "ratio_p99": round(ratio_p99, 2),
           "load_average": [round(load_before, 2), round(load_after, 2)], "cpus": os.cpu_count()}
    (RESULTS / "infosocial.json").write_text(json.dumps(out, indent=2))
    if service["errors"] or baseline["errors"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
