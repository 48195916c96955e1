"""The worker's two tables: `places` (location key → PlaceState) and `subjects` (person key → SubjectState), and
how they are read. A place holds the subject state of the calls about nobody made there."""
from __future__ import annotations

from typing import Any, Iterator, Mapping

import faust

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
