"""The bytes of the worker's own data: the tables' values (their changelogs) and the internal topic's records,
msgspec JSON of the domain's structs, decoded straight into them. Reading also takes the shapes written before
the types (domain/upcast.py): today's shape is tried first, the old one only when it does not fit."""
from __future__ import annotations

from typing import Any, Callable

import msgspec
from faust.serializers.codecs import Codec

from services.triage.domain import upcast
from services.triage.domain.place import PlaceState
from services.triage.domain.records import HandOff
from services.triage.domain.state import SubjectState

_encoder = msgspec.json.Encoder()
dump = _encoder.encode


def _reader(today: type, before: Callable[[Any], Any]) -> Callable[[bytes], Any]:
    decoder = msgspec.json.Decoder(today)

    def read(data: bytes):
        try:
            return decoder.decode(data)
        except msgspec.ValidationError as not_today:
            try:
                return before(msgspec.json.decode(data))
            except (KeyError, TypeError, ValueError, AttributeError) as not_before:
                raise not_today from not_before   # neither today's shape nor the old one
    return read


load_hand_off: Callable[[bytes], HandOff] = _reader(HandOff, upcast.record)
_hand_offs = msgspec.json.Decoder(list[HandOff])


def dump_hand_offs(records: list[HandOff]) -> bytes:
    """One internal record for what a batch hands on to one person: the record itself when there is one (the
    shape every worker reads), a JSON array of them otherwise."""
    return dump(records[0] if len(records) == 1 else records)


def load_hand_offs(data: bytes) -> list[HandOff]:
    """The records of one internal record, in order: an array (`dump_hand_offs`) or a single record, of today's
    shape or an older one."""
    if data[:1] == b"[":
        return _hand_offs.decode(data)
    return [load_hand_off(data)]
load_subject: Callable[[bytes], SubjectState] = _reader(SubjectState, upcast.subject)
load_place: Callable[[bytes], PlaceState] = _reader(PlaceState, upcast.place)


class StructCodec(Codec):
    """A faust codec (a table's value serializer) for one of the structs above."""

    def __init__(self, load: Callable[[bytes], Any], **kwargs: Any):
        super().__init__(load=load, **kwargs)
        self._load = load

    def _dumps(self, obj: Any) -> bytes:
        return dump(obj)

    def _loads(self, s: bytes) -> Any:
        return self._load(s)


PLACES = StructCodec(load_place)
SUBJECTS = StructCodec(load_subject)
