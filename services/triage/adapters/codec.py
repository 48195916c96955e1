"""The bytes of the worker's own data. The tables' values (their changelogs' records) are msgpack of the
domain's state structs: a table holds those bytes, and a batch decodes a key's state once and encodes it
once (adapters/tables.py), so a state costs its bytes in memory, not a tree of Python objects. The internal
topic's records are msgspec JSON of the hand-off records.

Reading also takes the shapes written before: msgpack whose items are maps, not arrays; a state in JSON (`{`
first, which no msgpack map starts with): today's types with the decisions as text, or older still
(domain/upcast.py), tried in that order; what fits none raises."""
from __future__ import annotations

from typing import Any, Callable

import msgspec

from services.triage.domain import upcast
from services.triage.domain.place import PlaceState
from services.triage.domain.records import HandOff
from services.triage.domain.state import SubjectState

_encoder = msgspec.json.Encoder()
dump = _encoder.encode
_state_encoder = msgspec.msgpack.Encoder()


def dump_state(state: Any) -> bytes:
    """A state's msgpack, in a bytes object of its own size: msgspec's encoder returns its growing buffer,
    up to about half as large again, and a table keeps what it is given for as long as the key lives."""
    return bytes(memoryview(_state_encoder.encode(state)))


_OLD_FAILURES = (KeyError, TypeError, ValueError, AttributeError)


def _first_fit(today: Callable[[], Any], before: Callable[[], Any]) -> Any:
    """Today's reading, else the one of an older shape; what fits neither raises today's reason (from the
    older one's)."""
    try:
        return today()
    except msgspec.ValidationError as not_today:
        try:
            return before()
        except _OLD_FAILURES as not_before:
            raise not_today from not_before


def _state_reader(today: type, typed_json: Callable[[Any], Any], before: Callable[[Any], Any]
                  ) -> Callable[[bytes], Any]:
    decoder = msgspec.msgpack.Decoder(today)

    def read(data: bytes):
        if data[:1] != b"{":
            return _first_fit(lambda: decoder.decode(data), lambda: upcast.from_maps(data, today))
        old = msgspec.json.decode(data)
        return _first_fit(lambda: typed_json(old), lambda: before(old))
    return read


load_subject: Callable[[bytes], SubjectState] = _state_reader(SubjectState, upcast.typed_subject, upcast.subject)
load_place: Callable[[bytes], PlaceState] = _state_reader(PlaceState, upcast.typed_place, upcast.place)


class _KeptCall(msgspec.Struct, array_like=True):
    time: float
    call_id: str      # a kept decision's later fields are not read


class _SubjectCalls(msgspec.Struct):
    decisions: list[_KeptCall] = msgspec.field(default_factory=list)


class _PlaceCalls(msgspec.Struct):
    state: _SubjectCalls | None = None


def _kept_calls(full: Callable[[bytes], Any], only: type, of: Callable[[Any], Any]) -> Callable[[bytes], list[str]]:
    """The call ids of a state's kept decisions, decoding nothing else (msgpack of today's shape; what was
    written before is read in full)."""
    decoder = msgspec.msgpack.Decoder(only)

    def partly(data: bytes):
        try:
            return decoder.decode(data)
        except msgspec.ValidationError:
            return full(data)

    def read(data: bytes) -> list[str]:
        st = of(partly(data) if data[:1] != b"{" else full(data))
        return [d.call_id for d in st.decisions] if st is not None else []
    return read


kept_calls_of_subject = _kept_calls(load_subject, _SubjectCalls, lambda st: st)
kept_calls_of_place = _kept_calls(load_place, _PlaceCalls, lambda place: place.state)


def _record_reader(today: type, before: Callable[[Any], Any]) -> Callable[[bytes], Any]:
    decoder = msgspec.json.Decoder(today)

    def read(data: bytes):
        return _first_fit(lambda: decoder.decode(data), lambda: before(msgspec.json.decode(data)))
    return read


load_hand_off: Callable[[bytes], HandOff] = _record_reader(HandOff, upcast.record)
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
