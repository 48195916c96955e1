"""Where a simulated stream goes: files (JSONL or CSV, for `dyade replay`), intake over HTTP, or the raw
Kafka topic; at the pace asked (as fast as possible, real time, or accelerated ×N)."""
from __future__ import annotations

import csv
import logging
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

import orjson

from dyade.simulation.eido import to_eido
from dyade.simulation.simulation import Record

log = logging.getLogger("dyade.simulation")

CSV_COLUMNS = ("call_id", "received_at", "nature_code", "priority", "address", "sector", "lat", "lon",
               "caller_relation", "flags", "first_name", "last_name", "birth_date", "person_role", "narrative")


def eido_chosen(call_id: str, share: float) -> bool:
    """A stable choice (the same calls for a seed, whatever the output) of the calls also sent as EIDO."""
    return share > 0 and (zlib.crc32(call_id.encode()) % 10_000) < share * 10_000


class Sink(Protocol):
    def send(self, rec: Record) -> None: ...
    def close(self) -> None: ...


@dataclass
class Counts:
    calls: int = 0
    updates: int = 0
    referrals: int = 0
    eido: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def reject(self, reason: str) -> None:
        self.rejected += 1
        self.reasons[reason[:200]] = self.reasons.get(reason[:200], 0) + 1


def csv_row(call: dict) -> list:
    loc = call["location"]
    person = call["persons"][0] if call["persons"] else {}
    return [call["call_id"], call["received_at"], call["nature_code"], call["priority"], loc["address"],
            loc.get("sector") or "", loc.get("lat", ""), loc.get("lon", ""), call["caller_relation"],
            ";".join(call["flags"]), person.get("first_name", ""), person.get("last_name", ""),
            person.get("birth_date", ""), person.get("role", ""), call.get("narrative") or ""]


class FileSink:
    """calls → `<out>` (JSONL of CallSubmission, or CSV with one row a call and its first person);
    updates → `<stem>.updates.jsonl` ({"call_id", "update": CallUpdateSubmission});
    referrals → `<stem>.referrals.jsonl` (ReferralSubmission); EIDO → `<stem>.eido.jsonl`."""

    def __init__(self, out: Path, *, eido_share: float = 0.0, city: str = "Ville-Démo", updates: bool = True):
        self.out = out
        out.parent.mkdir(parents=True, exist_ok=True)
        self.csv = out.suffix.lower() == ".csv"
        stem = out.with_suffix("")
        self.paths = {"calls": out}
        self._calls = out.open("w", encoding="utf-8", newline="") if self.csv else out.open("wb")
        self._csv = csv.writer(self._calls) if self.csv else None
        if self._csv:
            self._csv.writerow(CSV_COLUMNS)
        self._updates = self._open(stem, "updates") if updates else None
        self._referrals = self._open(stem, "referrals")
        self._eido = self._open(stem, "eido") if eido_share > 0 else None
        self.eido_share, self.city = eido_share, city
        self.counts = Counts()

    def _open(self, stem: Path, name: str):
        path = Path(f"{stem}.{name}.jsonl")
        self.paths[name] = path
        return path.open("wb")

    def send(self, rec: Record) -> None:
        if rec.kind == "call":
            if self._csv:
                self._csv.writerow(csv_row(rec.body))
            else:
                self._calls.write(orjson.dumps(rec.body) + b"\n")
            self.counts.calls += 1
            if self._eido and eido_chosen(rec.call_id, self.eido_share):
                self._eido.write(orjson.dumps(to_eido(rec.body, self.city)) + b"\n")
                self.counts.eido += 1
        elif rec.kind == "update" and self._updates:
            self._updates.write(orjson.dumps({"call_id": rec.call_id, "update": rec.body}) + b"\n")
            self.counts.updates += 1
        elif rec.kind == "referral":
            self._referrals.write(orjson.dumps(rec.body) + b"\n")
            self.counts.referrals += 1

    def close(self) -> None:
        for fh in (self._calls, self._updates, self._referrals, self._eido):
            if fh:
                fh.close()


class KafkaSink:
    """Calls as raw JSON on `calls.raw.v1`, keyed by call id (what a CAD connector would publish).
    The raw topic carries calls only: updates and referrals are counted as not sent."""

    def __init__(self, bootstrap: str):
        from dyade.contracts.topics import CALLS_RAW
        from dyade.kafka import make_producer
        self.topic = CALLS_RAW.name
        self.producer = make_producer(bootstrap, client_id="dyade-simulateur", linger_ms=20)
        self.counts = Counts()
        self.skipped = 0

    def send(self, rec: Record) -> None:
        if rec.kind != "call":
            self.skipped += 1
            return
        self.producer.send(self.topic, key=rec.call_id.encode(), value=orjson.dumps(rec.body),
                           headers=[("content-type", b"application/json"), ("source", b"simulateur")])
        self.counts.calls += 1

    def close(self) -> None:
        self.producer.flush()
        self.producer.close()


class Pacer:
    """Sleeps so that the stream keeps the pace of its own timestamps divided by `speed`
    (0: as fast as possible; 1: real time; 60: one simulated hour a minute)."""

    def __init__(self, speed: float, clock=time.monotonic, sleep=time.sleep):
        self.speed = speed
        self.clock, self.sleep = clock, sleep
        self.origin: tuple[datetime, float] | None = None

    def wait(self, at: datetime) -> None:
        if self.speed <= 0:
            return
        if self.origin is None:
            self.origin = (at, self.clock())
            return
        due = self.origin[1] + (at - self.origin[0]).total_seconds() / self.speed
        delay = due - self.clock()
        if delay > 0:
            self.sleep(delay)
