"""Intake benchmark.

1. Accepted calls/s through intake's durable path (validation, person resolution, idempotency record and
   outbox row committed in PostgreSQL, relay publishing to the broker) next to a bare FastAPI endpoint
   that parses the same JSON and does one INSERT per request on the same database (a pool, one commit
   each: the best a plain endpoint does durably): same HTTP client, same concurrency, same run, one
   uvicorn process each. The load generator (aiohttp, bodies serialised beforehand) runs on the same
   cores: each phase reports its CPU per request and the servers', so that a starved server shows.
2. Offered load: 100 calls/s for 20 s (open loop: each call leaves at its time, whatever the answers),
   to each endpoint; latency p50/p99, answers by status, connection errors.
3. A Berkeley 2014 replay through the real broker: rows read, accepted, skipped by reason, rows/s
   accepted, and the time until the relay has published everything. The 15-day sample in
   dyade/data/berkeley-2014/daily by default; DYADE_BERKELEY_DIR=<folder of the 116 daily files> replays the
   full log (see that folder's README for where it is published).

    python -m bench.intake [--quick] [--calls N] [--rounds R] [--concurrency C] [--rate R] [--no-replay]

Starts its own Tansu broker and a fresh PostgreSQL database (DYADE_TEST_PG_URL, default
postgres@127.0.0.1:5432), dropped at the end. Writes bench/results/intake.json.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
import uuid
from statistics import median
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import httpx
import orjson

from bench._db import bench_database
from dyade.contracts.inbound import CallSubmission
from dyade.paths import BERKELEY as BERKELEY_LOGS

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "intake.json"
BERKELEY = Path(os.environ.get("DYADE_BERKELEY_DIR", BERKELEY_LOGS / "daily"))
FIRST = ["Jean-François", "Marie", "Luc", "Sylvie", "Mathieu", "Isabelle", "Pierre", "Nathalie", "Éric", "Julie"]
LAST = ["Tremblay", "Gagnon", "Roy", "Côté", "Bouchard", "Gauthier", "Morin", "Lavoie", "Fortin", "Gagné"]


# --- servers (run as subprocesses: `python -m bench.intake --serve bare|intake --port P`)
def serve(kind: str, port: int) -> None:
    import uvicorn
    from fastapi import FastAPI
    if kind == "bare":
        from sqlalchemy import create_engine, text
        app = FastAPI()
        engine = create_engine(os.environ["DATABASE_URL"], pool_size=16, max_overflow=0, pool_pre_ping=False)
        with engine.begin() as c:
            c.execute(text("CREATE TABLE IF NOT EXISTS bench_bare_calls (call_id text PRIMARY KEY, body text)"))
        insert = text("INSERT INTO bench_bare_calls (call_id, body) VALUES (:id, :body) ON CONFLICT DO NOTHING")

        @app.post("/v1/calls", status_code=202)
        def post_call(sub: CallSubmission):  # parses and validates the same JSON, one INSERT, one commit
            with engine.begin() as c:
                c.execute(insert, {"id": sub.call_id, "body": sub.model_dump_json()})
            return {"status": "accepted", "call_id": sub.call_id}
    else:
        from dyade.settings import Settings
        from services.intake.bootstrap import GIL_SWITCH_INTERVAL_S, create_app
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)  # as `python -m services.intake` runs it
        app = create_app(Settings())
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def start_server(kind: str, env: dict) -> tuple[subprocess.Popen, str]:
    from dyade.broker import free_port, wait_for_port
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bench.intake", "--serve", kind, "--port", str(port)],
                            cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL)
    if not wait_for_port("127.0.0.1", port, 60):
        proc.kill()
        raise RuntimeError(f"le serveur {kind} n'a pas démarré")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while kind == "intake" and time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return proc, url


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


# --- load
def bodies(n: int, run: str) -> list[dict]:
    rnd = random.Random(42)
    now = datetime.now(timezone.utc)
    out = []
    for i in range(n):
        out.append({
            "call_id": f"BENCH-{run}-{i}", "revision": 1,
            "received_at": (now - timedelta(seconds=n - i)).isoformat(), "nature_code": rnd.choice(["EMP", "SUIC", "DETR", "BRUIT", "VOL"]),
            "priority": rnd.randint(1, 5),
            "location": {"address": f"{rnd.randint(1, 4000)} rue {rnd.choice(LAST)}", "sector": f"S{rnd.randint(1, 4)}"},
            "persons": [{"first_name": rnd.choice(FIRST), "last_name": rnd.choice(LAST),
                         "birth_date": f"{rnd.randint(1940, 2005)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}",
                         "role": "sujet"}],
            "caller_relation": "famille", "flags": ["intoxication"], "narrative": "Appel de test de charge."})
    return out


# The load generator shares the 2 cores with both servers, PostgreSQL and the broker: it must cost little per
# request, the same for both servers. aiohttp with bodies serialised beforehand (orjson) costs a fraction of
# what httpx.AsyncClient costs (measured: ~3 ms of CPU per request with httpx at 100 calls/s, which the
# servers then lacked).
def _client(url: str, token: str, connections: int, timeout: float) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(base_url=url, headers={"Authorization": f"Bearer {token}",
                                                        "Content-Type": "application/json"},
                                 connector=aiohttp.TCPConnector(limit=connections, force_close=False),
                                 timeout=aiohttp.ClientTimeout(total=timeout))


async def hammer(url: str, token: str, payloads: list[dict], concurrency: int) -> dict:
    queue = [orjson.dumps(p) for p in reversed(payloads)]
    statuses: dict[int, int] = {}
    async with _client(url, token, concurrency, 60) as client:
        async def worker():
            while queue:
                body = queue.pop()
                async with client.post("/v1/calls", data=body) as r:
                    await r.read()
                    statuses[r.status] = statuses.get(r.status, 0) + 1
        t0 = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        seconds = time.perf_counter() - t0
    ok = statuses.get(202, 0)
    return {"requests": len(payloads), "accepted": ok, "statuses": statuses, "seconds": round(seconds, 3),
            "per_s": round(ok / seconds, 1)}


async def offered(url: str, token: str, payloads: list[dict], rate: float) -> dict:
    """Open loop: call i leaves at i / rate s, whatever the earlier answers (a dispatch centre does not wait
    for intake); latency from its planned departure, so a queue in the client counts against the server."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    encoded = [orjson.dumps(p) for p in payloads]
    async with _client(url, token, 400, 30) as client:
        t0 = time.perf_counter()

        async def one(i: int, body: bytes) -> None:
            planned = t0 + i / rate
            await asyncio.sleep(max(0.0, planned - time.perf_counter()))
            try:
                async with client.post("/v1/calls", data=body) as r:
                    await r.read()
                    key = str(r.status)
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                key = type(exc).__name__
            statuses[key] = statuses.get(key, 0) + 1
            latencies.append((time.perf_counter() - planned) * 1000)
        await asyncio.gather(*[one(i, b) for i, b in enumerate(encoded)])
    from bench.notifier import percentile
    return {"offered_per_s": rate, "calls": len(payloads), "statuses": statuses,
            "p50_ms": round(percentile(latencies, 0.5), 1), "p99_ms": round(percentile(latencies, 0.99), 1),
            "max_ms": round(max(latencies), 1)}


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) of a process, all its threads (Linux /proc); of this one without a pid."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(run, proc: subprocess.Popen) -> dict:
    """A load phase with the CPU it cost: the server's and the load generator's, in ms per answered request,
    so that a reader sees who was short of CPU (2 shared cores: the client must cost little)."""
    server0, client0 = cpu_seconds(proc.pid), cpu_seconds()
    out = asyncio.run(run)
    answered = max(1, sum(v for v in out["statuses"].values()))
    out["server_cpu_ms_per_request"] = round((cpu_seconds(proc.pid) - server0) * 1000 / answered, 2)
    out["client_cpu_ms_per_request"] = round((cpu_seconds() - client0) * 1000 / answered, 2)
    return out


def wait_published(url: str, token: str, timeout: float = 900) -> float:
    t0 = time.perf_counter()
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
        while time.perf_counter() - t0 < timeout:
            if c.get("/v1/outbox").json()["backlog"] == 0:
                return time.perf_counter() - t0
            time.sleep(0.2)
    raise TimeoutError("outbox pas vidée")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--serve", choices=["bare", "intake"], help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="petit volume (fumée)")
    ap.add_argument("--calls", type=int, default=None, help="appels par manche (défaut 1500, --quick 300)")
    ap.add_argument("--rounds", type=int, default=3, help="manches alternées bare / durable (médiane)")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--rate", type=float, default=100.0, help="appels/s offerts (boucle ouverte, 20 s ; --quick 10 s)")
    ap.add_argument("--no-replay", action="store_true", help="sans la reprise Berkeley")
    args = ap.parse_args()
    if args.serve:
        return serve(args.serve, args.port)

    from dyade.auth import issue_token
    from dyade.broker import EmbeddedBroker
    from dyade.kafka import create_topics
    from services.intake.entrypoints.replay.client import replay
    from services.intake.entrypoints.replay.reader import load_mapping

    n = args.calls or (300 if args.quick else 1500)
    secret = "bench-token-secret-" + uuid.uuid4().hex
    env_common = {"DYADE_TOKEN_SECRET": secret, "DYADE_PSEUDONYM_KEY": "bench-pseudonym-key-0123456789abcdef", "DYADE_LOG_LEVEL": "WARNING"}
    dispatch = issue_token(secret, subject="bench", role="dispatch")
    supervisor = issue_token(secret, subject="bench", role="supervisor")
    result: dict = {"calls_per_round": n, "rounds": args.rounds, "concurrency": args.concurrency}
    db_url, drop_database = bench_database("dyade_bench_intake")
    try:
        with EmbeddedBroker() as broker:
            create_topics(broker.bootstrap_servers)
            env = {**env_common, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers, "DATABASE_URL": db_url}
            bare_proc, bare_url = start_server("bare", env)
            proc, url = start_server("intake", env)
            try:
                asyncio.run(hammer(bare_url, dispatch, bodies(50, "warm"), args.concurrency))
                asyncio.run(hammer(url, dispatch, bodies(50, "warm" + uuid.uuid4().hex[:4]), args.concurrency))
                # Alternating rounds, so that the load of this shared machine weighs on both alike.
                rounds = {"bare": [], "durable": []}
                for r in range(args.rounds):
                    payloads = bodies(n, uuid.uuid4().hex[:6])
                    rounds["bare"].append(measured(hammer(bare_url, dispatch, payloads, args.concurrency), bare_proc))
                    rounds["durable"].append(measured(hammer(url, dispatch, payloads, args.concurrency), proc))
                    print(f"  round {r + 1}: bare {rounds['bare'][-1]['per_s']:.1f}/s, "
                          f"durable {rounds['durable'][-1]['per_s']:.1f}/s")
                drain = round(wait_published(url, supervisor), 2)
                writer = httpx.get(f"{url}/v1/outbox", headers={"Authorization": f"Bearer {supervisor}"}).json()["writer"]
                bare = {"per_s": median([x["per_s"] for x in rounds["bare"]]), "rounds": rounds["bare"]}
                durable = {"per_s": median([x["per_s"] for x in rounds["durable"]]), "rounds": rounds["durable"],
                           "drain_s_after_last_ack": drain, "writer": writer}
                ratios = [d["per_s"] / max(b["per_s"], 0.001) for b, d in zip(rounds["bare"], rounds["durable"])]
                result.update(bare=bare, durable=durable, ratio=round(durable["per_s"] / max(bare["per_s"], 0.001), 3),
                              ratio_per_round=[round(x, 3) for x in ratios],
                              load_average=os.getloadavg())
                seconds = 10 if args.quick else 20
                load = {}
                for kind, target, server in (("bare", bare_url, bare_proc), ("durable", url, proc)):
                    load[kind] = measured(offered(target, dispatch, bodies(int(args.rate * seconds),
                                                                            "open" + uuid.uuid4().hex[:6]), args.rate),
                                          server)
                result["offered"] = load
                print(f"bare FastAPI (one INSERT): {bare['per_s']:8.1f} calls/s (median of {args.rounds} rounds)")
                print(f"intake durable outbox:     {durable['per_s']:8.1f} calls/s (median); outbox drained "
                      f"{drain} s after the last 202")
                print(f"group commit:              {writer}")
                cpu = {k: median([x["server_cpu_ms_per_request"] for x in rounds[k]]) for k in rounds}
                client_cpu = median([x["client_cpu_ms_per_request"] for k in rounds for x in rounds[k]])
                print(f"CPU per request (median): bare server {cpu['bare']} ms, durable server {cpu['durable']} ms, "
                      f"load generator {client_cpu} ms")
                for kind, o in load.items():
                    print(f"{args.rate:.0f} calls/s offered, {kind:7s}: p50 {o['p50_ms']} ms, p99 {o['p99_ms']} ms, "
                          f"max {o['max_ms']} ms; answers {o['statuses']}; CPU/request server "
                          f"{o['server_cpu_ms_per_request']} ms, client {o['client_cpu_ms_per_request']} ms")
                print(f"ratio durable / bare:      {result['ratio']:.2f}  (target ≥ 0.5; per round "
                      f"{', '.join(f'{x:.2f}' for x in ratios)}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
                if not args.no_replay:
                    files = sorted(BERKELEY.glob("*.csv"))
                    files = files[:3] if args.quick else files
                    mapping = load_mapping(ROOT / "services" / "intake" / "mappings" / "berkeley.yaml")
                    tally = replay([str(f) for f in files], mapping, url=url, token=dispatch, batch_size=500)
                    drain = wait_published(url, supervisor)
                    published_s = tally.seconds + drain
                    result["berkeley"] = {**tally.as_json(), "files": len(files),
                                          "drain_s_after_last_batch": round(drain, 2),
                                          "published_rows_per_s": round(tally.accepted / published_s, 1)}
                    print(f"Berkeley replay ({len(files)} files): {tally.rows} rows, {tally.accepted} accepted, "
                          f"{tally.duplicates} duplicates, {tally.rejected} rejected, skipped {dict(tally.skipped)}; "
                          f"{tally.rows_per_s:.0f} rows/s accepted, all published after {published_s:.1f} s "
                          f"({result['berkeley']['published_rows_per_s']:.0f} rows/s end to end)")
            finally:
                stop_server(proc)
                stop_server(bare_proc)
    finally:
        drop_database()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"→ {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
