"""The raw topic path: a dispatch system produces its call JSON to `calls.raw.v1`; intake validates it
as a CallSubmission and accepts it through the same code path as HTTP (outbox, idempotency). What
cannot be accepted goes to `calls.raw.v1.dlq` with the original bytes and the reason in headers.
A record may name its code table in a `code_table` header. Offsets are committed after each batch is
accepted or dead-lettered."""
from __future__ import annotations

import logging
import threading

import orjson
from kafka import KafkaConsumer
from prometheus_client import Counter
from pydantic import ValidationError

from dyade.contracts.envelope import describe_validation_error
from dyade.contracts.inbound import CallSubmission
from dyade.contracts.topics import CALLS_RAW
from dyade.kafka import FAST_GROUP, dead_letter, make_producer
from services.intake.acceptance import Conflict, Intake
from services.intake.domain.calls import InvalidSubmission

log = logging.getLogger("intake.raw")
RAW_RECORDS = Counter("dyade_intake_raw_records_total", "Records read from calls.raw.v1", ["outcome"])


def reason_for(value: bytes | None) -> tuple[CallSubmission | None, str | None]:
    """The submission in a raw record, or why there is none."""
    if value is None:
        return None, "valeur vide"
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"UTF-8 invalide à l'octet {exc.start}"
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return None, f"JSON invalide: {exc}"
    if not isinstance(data, dict):
        return None, "un objet JSON (appel) est attendu"
    try:
        return CallSubmission.model_validate(data), None
    except ValidationError as exc:
        return None, describe_validation_error(exc)


class RawConsumer:
    def __init__(self, intake: Intake, bootstrap: str, group_id: str = "intake-raw"):
        self.intake = intake
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.stopping = threading.Event()
        self.ready = threading.Event()
        self.thread: threading.Thread | None = None
        self.accepted = self.duplicates = self.dead_lettered = 0
        self.last_error: str | None = None

    def start(self) -> "RawConsumer":
        self.thread = threading.Thread(target=self._run, name="intake-raw-consumer", daemon=True)
        self.thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        if self.thread:
            self.thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._loop()
            except Exception as exc:  # broker unreachable at start, or lost: try again
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.warning("raw consumer error; restarting", extra={"error": self.last_error})
                self.stopping.wait(2.0)

    def _loop(self) -> None:
        consumer = KafkaConsumer(CALLS_RAW.name, bootstrap_servers=self.bootstrap, group_id=self.group_id,
                                 enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=200,
                                 client_id=f"intake-{self.group_id}", **FAST_GROUP)
        producer = make_producer(self.bootstrap, client_id="intake-raw-dlq")
        try:
            while not self.stopping.is_set():
                batch = consumer.poll(timeout_ms=200)
                if consumer.assignment():
                    self.ready.set()
                if not batch:
                    continue
                for records in batch.values():
                    for record in records:
                        self._handle(record, producer)
                producer.flush()
                consumer.commit()
        finally:
            consumer.close()
            producer.close(timeout=5)

    def _handle(self, record, producer) -> None:
        sub, reason = reason_for(record.value)
        table = dict(record.headers or []).get("code_table")
        if sub is not None:
            try:
                outcome = self.intake.accept_call(sub, code_table=table.decode() if table else None, channel="raw")
                if outcome.duplicate:
                    self.duplicates += 1
                    RAW_RECORDS.labels("duplicate").inc()
                else:
                    self.accepted += 1
                    RAW_RECORDS.labels("accepted").inc()
                return
            except (InvalidSubmission, Conflict) as exc:
                reason = str(exc)
        dead_letter(producer, CALLS_RAW.name, record, reason or "refusé", "intake")
        self.dead_lettered += 1
        RAW_RECORDS.labels("dead_lettered").inc()
        log.warning("raw call dead-lettered", extra={"offset": record.offset, "partition": record.partition,
                                                     "reason": (reason or "")[:200]})
