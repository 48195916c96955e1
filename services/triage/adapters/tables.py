"""The worker's two tables: `places` (location key → PlaceState) and `subjects` (person key → SubjectState), each
state kept as bytes, and how they are read. A place holds the subject state of the calls about nobody made there."""
from __future__ import annotations

import sys
from typing import Any, Callable, Generic, Iterator, Mapping, MutableMapping, TypeVar

import faust
from faust.serializers.codecs import get_codec

from services.triage.adapters.codec import dump_state, kept_calls_of_place, kept_calls_of_subject
from services.triage.domain.place import PlaceState
from services.triage.domain.state import SubjectState

PLACE_PREFIX = "l_"  # intake's location keys (services/intake/domain/locations.py); persons are p_…

Places = Mapping[str, PlaceState]
Subjects = Mapping[str, SubjectState]
S = TypeVar("S")


class States(MutableMapping[str, S], Generic[S]):
    """A table of states as bytes (`table`: key → msgpack, the record its changelog holds; faust's raw
    serializer, so a table recovered from its changelog holds the records as they are), read as the domain's
    structs: each read decodes, each assignment encodes. Stages read a key once per batch and write it back
    once (`put`); the read API reads one key per request."""

    def __init__(self, table: MutableMapping[str, bytes], load: Callable[[bytes], S]):
        self.table, self.load = table, load

    def __getitem__(self, key: str) -> S:
        return self.load(self.table[key])

    def get(self, key: str, default: Any = None) -> S | Any:
        data = self.table.get(key)
        return default if data is None else self.load(data)

    def __setitem__(self, key: str, value: S) -> None:
        self.table[key] = dump_state(value)

    def __delitem__(self, key: str) -> None:
        del self.table[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.table)

    def __len__(self) -> int:
        return len(self.table)


async def put(states: States, key: str, value: Any, partition: int, send) -> None:
    """`states[key] = value` for a key written by a batch of records. Its changelog record goes to `partition`,
    the input partition of the records that changed it (faust would take the partition of the stream's
    current event, which in a batch may be another partition's): the same bytes as the table keeps, sent
    through `send(topic, key, value, partition)` — the app's producer, flushed before a commit. (The memory
    store keeps no changelog offsets: faust's send callback would have nothing to record.) Over a plain
    mapping (tests) the bytes are just assigned."""
    table, data = states.table, dump_state(value)
    if isinstance(table, faust.Table):
        topic, dump_key = _changelog_of(table)
        table.data[sys.intern(key)] = data   # one string for the key, shared with the CallIndex
        await send(topic, dump_key(key), data, partition=partition)
    else:
        table[key] = data


_changelogs: dict[int, tuple] = {}


def _changelog_of(table: faust.Table) -> tuple:
    """The changelog topic's name and the table's key codec (faust's, looked up once: `prepare_key` looks it
    up for every record)."""
    found = _changelogs.get(id(table))
    if found is None or found[0] is not table:
        found = _changelogs[id(table)] = (table, table.changelog_topic.get_topic_name(),
                                          get_codec(table.key_serializer).dumps)
    return found[1:]


def table_of(key: str) -> str:
    return "places" if key.startswith(PLACE_PREFIX) else "subjects"


def state_of(places: Places, subjects: Subjects, key: str) -> SubjectState | None:
    """The subject state of a key: a person's, or a place's as the subject of calls about nobody."""
    if table_of(key) == "places":
        place = places.get(key)
        return place.state if place is not None else None
    return subjects.get(key)


def kept_calls(places: States, subjects: States) -> Iterator[tuple[str, str]]:
    """(call id, key) of every decision the states keep, reading only their call ids from the bytes."""
    for table, read in ((places.table, kept_calls_of_place), (subjects.table, kept_calls_of_subject)):
        for key, data in list(table.items()):
            if data is not None:
                for call_id in read(data):
                    yield call_id, key


class CallIndex:
    """call id → key of the subject whose state holds its decision (person, or place for a call about
    nobody), for `/v1/calls/{id}/decision`. Worker memory, not a table: it covers the decisions the
    subjects still keep, and is rebuilt from the tables after a rebalance or a restart. Its values are the
    key strings the table holds (interned), not copies."""

    def __init__(self, places: States, subjects: States):
        self.places, self.subjects = places, subjects
        self.keys: dict[str, str] = {}
        self.stale = True

    def add(self, call_id: str, key: str, forgotten: set[str]) -> None:
        keys = self.keys
        keys[call_id] = sys.intern(key)
        for c in forgotten:
            if keys.get(c) == key:
                del keys[c]

    def invalidate(self) -> None:
        """Partitions moved: keys may have gone to another worker, or come from one."""
        self.keys, self.stale = {}, True

    def lookup(self, call_id: str) -> str | None:
        if call_id not in self.keys and self.stale:
            self.keys = {c: sys.intern(key) for c, key in kept_calls(self.places, self.subjects)}
            self.stale = False
        return self.keys.get(call_id)

    def __len__(self) -> int:
        return len(self.keys)
