"""The stages without a broker: plain dicts for the tables, topics that keep what is sent to them, faust-like
messages. What goes through them is the worker's own code (Stages, Edge, the codec, the domain)."""
from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from types import SimpleNamespace

from dyade.contracts import decode
from dyade.contracts.topics import TRIAGE_BY_SUBJECT
from services.triage.adapters import codec
from services.triage.adapters.edge import Edge
from services.triage.adapters.tables import CallIndex, States
from services.triage.domain.config import RulesetConfig
from services.triage.entrypoints.consumers import Stages

APP_ID = "triage-fake"
_offsets = itertools.count()


@dataclass
class Message:
    topic: str
    key: bytes | None
    value: bytes | None
    timestamp: float = 1_748_779_200.0   # seconds, as faust gives it
    partition: int = 0
    offset: int = field(default_factory=lambda: next(_offsets))
    headers: list = field(default_factory=list)


class FakeTopic:
    def __init__(self, name: str):
        self.name, self.sent = name, []

    def get_topic_name(self) -> str:
        return self.name

    async def send(self, *, key=None, value=None, headers=None):
        self.sent.append(Message(self.name, key, value, headers=headers or []))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


class FakeApp:
    """What Edge uses of the faust app: its id and its topics."""

    def __init__(self):
        self.conf = SimpleNamespace(id=APP_ID)
        self.topics: dict[str, FakeTopic] = {}

    def topic(self, name: str, **_) -> FakeTopic:
        return self.topics.setdefault(name, FakeTopic(name))

    def events(self, name: str) -> list:
        return [decode(m.value) for m in self.topics[name].sent] if name in self.topics else []


def stages(ruleset: RulesetConfig | None = None) -> tuple[Stages, FakeApp]:
    app = FakeApp()
    places, subjects = States({}, codec.load_place), States({}, codec.load_subject)
    return Stages(places=places, subjects=subjects, hand_off=app.topic(TRIAGE_BY_SUBJECT.of(APP_ID).name),
                  edge=Edge(app), index=CallIndex(places, subjects), ruleset=ruleset or RulesetConfig()), app


async def hand_on_all(s: Stages, app: FakeApp) -> None:
    """Deliver what the place stage handed on to the person stage, as the internal topic would."""
    hand_off = app.topics[s.hand_off.get_topic_name()]
    while hand_off.sent:
        await s.subject_message(hand_off.sent.pop(0))
