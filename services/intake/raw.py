"""The raw topic path: a dispatch system produces its call JSON to `calls.raw.v1`; intake validates it
as a CallSubmission and accepts it through the same code path as HTTP (outbox, idempotency). What
cannot be accepted goes to `calls.raw.v1.dlq` with the original bytes and the reason in headers.
A record may name its code table in a `code_table` header. Offsets are committed after each batch is
accepted or dead-lettered."""
from __future__ import annotations

import logging

import orjson
from prometheus_client import Counter
from pydantic import ValidationError

from dyade.contracts.envelope import describe_validation_error
from dyade.contracts.inbound import CallSubmission
from dyade.contracts.topics import CALLS_RAW
from dyade.kafka import RecordLoop, dead_letter
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


class RawConsumer(RecordLoop):
    """calls.raw.v1 → intake's acceptance path; restarts after a pause if the broker is lost."""

    def __init__(self, intake: Intake, bootstrap: str, group_id: str = "intake-raw"):
        super().__init__(bootstrap, group_id, (CALLS_RAW.name,), self._handle_all, "intake",
                         restart_on_error=True, max_poll_records=200)
        self.intake = intake
        self.accepted = self.duplicates = self.dead_lettered = 0

    @property
    def last_error(self) -> str | None:
        return f"{type(self.error).__name__}: {self.error}"[:300] if self.error else None

    def _handle_all(self, records: list, producer) -> None:
        for record in records:
            self._handle(record, producer)

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
