"""The envelope every event travels in, the registry of event types and their upcasters.

An event is a frozen pydantic model: envelope fields plus a typed `payload`. Its `type` and
`schema_version` are class-level constants; `decode()` picks the class from them, and upgrades an
event written by an earlier schema version through the upcasters registered for it, so a consumer
always sees the current shape.

No event carries text that would poison a consumer's database (NUL, control characters but tab and
newlines, lone surrogates, U+FFFE/U+FFFF — see dyade.contracts.text): `encode` refuses to write one and
`decode` turns one read from a topic into an EventError (dead letter). The check is made once per event on
its JSON bytes (a per-payload validator was measured at +50 % on decode), exactly only when a byte pattern
says it may fail.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Callable, ClassVar, Generic, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticSerializationError

from dyade.clock import utcnow
from dyade.contracts.text import find_bad_text, json_may_hold_bad_text

P = TypeVar("P", bound=BaseModel)


class EventError(ValueError):
    """An event could not be decoded; `reason` is what a dead-letter record says."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Event(BaseModel, Generic[P]):
    """Envelope fields. Subclasses set TYPE, VERSION and annotate `payload`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    TYPE: ClassVar[str]
    VERSION: ClassVar[int]

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4, description="Unique id; consumers drop duplicates by it.")
    type: str = Field(description="Event type, e.g. `call.received`.")
    schema_version: int = Field(description="Version of this event type's schema.")
    occurred_at: datetime = Field(description="Event time, as the source gave it.")
    produced_at: datetime = Field(default_factory=utcnow, description="When Dyade produced it.")
    source: str = Field(description="Service that produced it (`intake`, `triage`...).")
    correlation_id: str = Field(description="The call or referral this event belongs to.")
    payload: P

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "TYPE" in cls.__dict__:
            registry.register(cls)

    @classmethod
    def new(cls, *, payload: P, occurred_at: datetime, source: str, correlation_id: str,
            event_id: uuid.UUID | None = None) -> "Event[P]":
        extra = {"event_id": event_id} if event_id else {}
        return cls(type=cls.TYPE, schema_version=cls.VERSION, occurred_at=occurred_at, source=source,
                   correlation_id=correlation_id, payload=payload, **extra)

    def to_bytes(self, payload_json: bytes | None = None) -> bytes:
        return encode(self, payload_json)


Upcaster = Callable[[dict], dict]


class Registry:
    """Event classes by type, and upcasters from each older version to the next."""

    def __init__(self) -> None:
        self.classes: dict[str, type[Event]] = {}
        self.upcasters: dict[tuple[str, int], Upcaster] = {}
        self.renamed: dict[str, str] = {}  # a type's earlier name → its name now (events already in topics)

    def register(self, cls: type[Event]) -> None:
        if cls.TYPE in self.classes and self.classes[cls.TYPE] is not cls:
            raise RuntimeError(f"event type {cls.TYPE} declared twice")
        self.classes[cls.TYPE] = cls

    def rename(self, old: str, new: str) -> None:
        """Events written under `old` are read as `new` (same versions): a type renamed to agree with its
        topic's name, with the events already in production still readable."""
        self.renamed[old] = new

    def upcaster(self, type_: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        def deco(fn: Upcaster) -> Upcaster:
            self.upcasters[(type_, from_version)] = fn
            return fn
        return deco

    def upgrade(self, data: dict) -> dict:
        cls = self.classes[data["type"]]
        version = data.get("schema_version")
        if not isinstance(version, int) or version < 1:
            raise EventError(f"schema_version invalide: {version!r}")
        if version > cls.VERSION:
            raise EventError(f"{cls.TYPE} v{version} est plus récent que ce service (v{cls.VERSION})")
        while version < cls.VERSION:
            step = self.upcasters.get((cls.TYPE, version))
            if step is None:
                raise EventError(f"aucune migration de {cls.TYPE} v{version} vers v{version + 1}")
            data = step(data)
            version += 1
            data["schema_version"] = version
        return data


registry = Registry()

E = TypeVar("E", bound=Event)


_PAYLOAD = {"payload"}


def payload_json_of(payload: BaseModel) -> bytes:
    """A payload's JSON as `encode` writes it inside its envelope."""
    return payload.__pydantic_serializer__.to_json(payload)


def encode(event: Event, payload_json: bytes | None = None) -> bytes:
    """The event's JSON, straight from pydantic's serializer (the same text as orjson over `model_dump(mode=
    "json")`, a third faster); text the free-text rule refuses raises EventError with where it is.
    `payload_json`: the event's payload already serialized (`payload_json_of`, for a producer that keeps it
    too), put in as the envelope's last field rather than serialized again — the same bytes."""
    try:
        if payload_json is None:
            raw = event.__pydantic_serializer__.to_json(event)
        else:
            head = event.__pydantic_serializer__.to_json(event, exclude=_PAYLOAD)
            raw = b"".join((head[:-1], b',"payload":', payload_json, b"}"))
    except PydanticSerializationError:   # a lone surrogate: UTF-8 cannot hold it
        raw = None
    if raw is None or json_may_hold_bad_text(raw):
        data = event.model_dump(mode="json")
        if (bad := find_bad_text(data)) is not None:
            raise EventError(f"{event.TYPE}: {bad[0]}: {bad[1]}")
        if raw is None:
            raise EventError(f"{event.TYPE}: texte non encodable en UTF-8")
    return raw


def decode(raw: bytes | str | dict, expect: type[E] | tuple[type[Event], ...] | None = None) -> E:
    """Parse bytes into the current version of their event class, or raise EventError with why."""
    try:
        data = raw if isinstance(raw, dict) else orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise EventError(f"JSON invalide: {exc}") from exc
    if not isinstance(data, dict):
        raise EventError("un événement doit être un objet JSON")
    if not isinstance(raw, (bytes, bytearray)) or json_may_hold_bad_text(raw):
        if (bad := find_bad_text(data)) is not None:
            raise EventError(f"{bad[0]}: {bad[1]}")
    type_ = data.get("type")
    if type_ in registry.renamed:
        type_ = registry.renamed[type_]
        data = {**data, "type": type_}
    if type_ not in registry.classes:
        raise EventError(f"type d'événement inconnu: {type_!r}")
    data = registry.upgrade(dict(data))
    cls = registry.classes[type_]
    if expect is not None:
        allowed = expect if isinstance(expect, tuple) else (expect,)
        if cls not in allowed:
            raise EventError(f"type {type_} inattendu ici (attendu: {', '.join(c.TYPE for c in allowed)})")
    try:
        return cls.model_validate(data)  # type: ignore[return-value]
    except ValidationError as exc:
        raise EventError(describe_validation_error(exc)) from exc


def describe_validation_error(exc: ValidationError, limit: int = 5) -> str:
    parts = []
    for err in exc.errors()[:limit]:
        where = ".".join(str(p) for p in err["loc"]) or "(racine)"
        parts.append(f"{where}: {err['msg']}")
    more = len(exc.errors()) - limit
    return "; ".join(parts) + (f" (+{more} autres)" if more > 0 else "")
