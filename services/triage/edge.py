"""The worker's edge: decode bytes into contract events (or dead-letter them with the reason) and
publish contract events as bytes keyed as their topic declares."""
from __future__ import annotations

import logging

from dyade.contracts import Event, EventError, decode
from dyade.contracts.topics import Topic, topic_for
from dyade.kafka import key_of
from services.triage.metrics import DEAD_LETTERS

log = logging.getLogger("dyade.triage")
SERVICE = "triage"


class Edge:
    def __init__(self, app):
        self.app = app
        self._topics: dict[str, object] = {}

    def topic(self, name: str):
        if name not in self._topics:
            self._topics[name] = self.app.topic(name, key_serializer="raw", value_serializer="raw")
        return self._topics[name]

    async def dead_letter(self, message, reason: str, dlq_of: str | None = None) -> None:
        """Original bytes to `<topic>.dlq` with the same headers as `dyade.kafka.dead_letter`."""
        source = dlq_of or message.topic
        headers = list(_headers(message.headers)) + [
            ("dlq.reason", reason.encode("utf-8", "replace")[:1000]),
            ("dlq.source_topic", message.topic.encode()),
            ("dlq.partition", str(message.partition).encode()),
            ("dlq.offset", str(message.offset).encode()),
            ("dlq.service", SERVICE.encode()),
        ]
        await self.topic(f"{source}.dlq").send(key=message.key, value=message.value, headers=headers)
        DEAD_LETTERS.labels(source).inc()
        log.warning("event dead-lettered", extra={"topic": message.topic, "offset": message.offset,
                                                  "reason": reason[:200]})

    async def decode(self, message, expect: tuple[type[Event], ...]) -> Event | None:
        try:
            if message.value is None:
                raise EventError("valeur vide (tombstone) inattendue sur ce topic")
            return decode(message.value, expect)
        except EventError as exc:
            await self.dead_letter(message, exc.reason)
            return None

    async def publish(self, event: Event, topic: Topic | None = None) -> None:
        topic = topic or topic_for(type(event))
        await self.topic(topic.name).send(
            key=key_of(event, topic), value=event.to_bytes(),
            headers=[("type", event.TYPE.encode()), ("schema_version", str(event.VERSION).encode())])


def _headers(headers) -> list[tuple[str, bytes]]:
    if not headers:
        return []
    if isinstance(headers, dict):
        return list(headers.items())
    return list(headers)
