"""The raw topic path: a dispatch system produces its call JSON to `calls.raw.v1`; intake validates it
as a CallSubmission and accepts it through the same code path as HTTP (outbox, idempotency). What
cannot be accepted goes to `calls.raw.v1.dlq` with the original bytes and the reason in headers.
A record may name its code table in a `code_table` header. Offsets are committed after each batch is
accepted or dead-lettered."""
from __future__ import annotations

import orjson
from prometheus_client import Counter
from pydantic import ValidationError

from dyade.contracts.envelope import describe_validation_error
from dyade.contracts.inbound import CallSubmission
from dyade.contracts.topics import CALLS_RAW
from dyade.consumer import Consumer, Invalid
from services.intake.adapters.acceptance import Conflict, Intake
from services.intake.domain.calls import InvalidSubmission

RAW_RECORDS = Counter("dyade_intake_raw_records_total", "Calls accepted from calls.raw.v1 (dead letters: "
                      "dyade_consumer_dead_letters_total)", ["outcome"])


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


def decode_raw(record) -> tuple[CallSubmission, str | None]:
    """A raw record as (submission, code table named in its header), or Invalid with the reason."""
    sub, reason = reason_for(record.value)
    if sub is None:
        raise Invalid(reason or "refusé")
    table = dict(record.headers or []).get("code_table")
    if table is None:
        return sub, None
    try:
        name = table.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("en-tête code_table: UTF-8 invalide")
    if not name.isprintable() or not name.strip():
        raise Invalid("en-tête code_table: caractères de contrôle ou vide")
    return sub, name


class RawConsumer(Consumer):
    """calls.raw.v1 → intake's acceptance path, on the consumer kernel (pauses and resumes when the broker or
    the database is away; what cannot be accepted is dead-lettered with the reason)."""

    def __init__(self, intake: Intake, bootstrap: str, group_id: str = "intake-raw"):
        super().__init__(bootstrap, group_id, (CALLS_RAW.name,), service="intake", handle=self._accept,
                         decoder=decode_raw, max_poll_records=200, on_alert_path=True)
        self.intake = intake
        self.accepted = self.duplicates = 0

    def _accept(self, item: tuple[CallSubmission, str | None]) -> None:
        sub, table = item
        try:
            outcome = self.intake.accept_call(sub, code_table=table, channel="raw")
        except (InvalidSubmission, Conflict) as exc:
            raise Invalid(str(exc)) from exc
        if outcome.duplicate:
            self.duplicates += 1
            RAW_RECORDS.labels("duplicate").inc()
        else:
            self.accepted += 1
            RAW_RECORDS.labels("accepted").inc()
