"""The worker's two tables: `places` (location key → PlaceState) and `subjects` (person key → SubjectState), and
how they are read. A place holds the subject state of the calls about nobody made there."""
from __future__ import annotations

from typing import Any, Iterator, Mapping, MutableMapping

import faust
from faust.serializers.codecs import get_codec

from services.triage.adapters.codec import StructCodec
from services.triage.domain.place import PlaceState
from services.triage.domain.state import SubjectState

PLACE_PREFIX = "l_"  # intake's location keys (services/intake/domain/locations.py); persons are p_…

Places = Mapping[str, PlaceState]
Subjects = Mapping[str, SubjectState]


class StructTable(faust.Table):
    """A table whose values are one of the domain's structs, in JSON on its changelog (`values`: their codec).
    faust writes the changelog with the table's serializer and reads it back with its changelog topic's, which
    the topic takes from the table when the app adds the table: the codec is set before that."""

    def __init__(self, app, *, values: StructCodec, **kwargs: Any):
        super().__init__(app, **kwargs)
        self.value_serializer = values


async def put(table: MutableMapping[str, Any], key: str, value: Any, partition: int, send) -> None:
    """`table[key] = value` for a key written by a batch of records. Its changelog record goes to `partition`,
    the input partition of the records that changed it (faust would take the partition of the stream's
    current event, which in a batch may be another partition's), serialized as faust's table would, through
    `send(topic, key, value, partition)` — the app's producer, flushed before a commit. (The memory store keeps
    no changelog offsets: faust's send callback would have nothing to record.) A plain mapping (tests) is
    just assigned."""
    if isinstance(table, faust.Table):
        topic, dump_key, dump_value = _changelog_of(table)
        table.data[key] = value
        await send(topic, dump_key(key), dump_value(value), partition=partition)
    else:
        table[key] = value


_changelogs: dict[int, tuple] = {}


def _changelog_of(table: faust.Table) -> tuple:
    """The changelog topic's name and the table's key and value codecs (faust's, looked up once: `prepare_key`
    and `prepare_value` look them up for every record)."""
    found = _changelogs.get(id(table))
    if found is None or found[0] is not table:
        key_codec, value_codec = get_codec(table.key_serializer), get_codec(table.value_serializer)
        found = _changelogs[id(table)] = (table, table.changelog_topic.get_topic_name(), key_codec.dumps,
                                          value_codec.dumps)
    return found[1:]


def table_of(key: str) -> str:
    return "places" if key.startswith(PLACE_PREFIX) else "subjects"


def state_of(places: Places, subjects: Subjects, key: str) -> SubjectState | None:
    """The subject state of a key: a person's, or a place's as the subject of calls about nobody."""
    if table_of(key) == "places":
        place = places.get(key)
        return place.state if place is not None else None
    return subjects.get(key)


def states(places: Places, subjects: Subjects) -> Iterator[tuple[str, SubjectState]]:
    for key, place in places.items():
        if place is not None and place.state is not None:
            yield key, place.state
    for key, st in subjects.items():
        if st is not None:
            yield key, st


class CallIndex:
    """call id → key of the subject whose state holds its decision (person, or place for a call about
    nobody), for `/v1/calls/{id}/decision`. Worker memory, not a table: it covers the decisions the
    subjects still keep, and is rebuilt from the tables after a rebalance or a restart."""

    def __init__(self, places: Places, subjects: Subjects):
        self.places, self.subjects = places, subjects
        self.keys: dict[str, str] = {}
        self.stale = True

    def add(self, call_id: str, key: str, forgotten: set[str]) -> None:
        self.keys[call_id] = key
        for c in forgotten:
            if self.keys.get(c) == key:
                del self.keys[c]

    def invalidate(self) -> None:
        """Partitions moved: keys may have gone to another worker, or come from one."""
        self.keys, self.stale = {}, True

    def lookup(self, call_id: str) -> str | None:
        if call_id not in self.keys and self.stale:
            self.keys = {d.call_id: key for key, st in states(self.places, self.subjects) for d in st.decisions}
            self.stale = False
        return self.keys.get(call_id)
