"""The relay's wait for more commits after a wake-up: none while calls trickle in (publication latency), some once
it relays many events a second (fewer batches under load, each serving more events); no broker needed."""
from __future__ import annotations

from types import SimpleNamespace

from services.intake.adapters.outbox import Relay


def test_linger_follows_the_events_relayed_in_the_last_second(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr("services.intake.adapters.outbox.time.monotonic", lambda: clock[0])
    relay = Relay(sessions=None, bootstrap="127.0.0.1:1")  # nothing connects before start()
    assert relay.linger_s == Relay.QUIET_LINGER_S == 0.0
    row = SimpleNamespace(topic="test.relay-linger")  # a label of its own on the published counter
    for _ in range(Relay.BUSY_PER_S - 1):   # a call every 20 ms: a trickle, each relayed at once
        relay.on_sent([row])
        clock[0] += 0.02
    assert relay.linger_s == Relay.QUIET_LINGER_S
    relay.on_sent([row])   # the BUSY_PER_S-th within a second
    assert relay.linger_s == Relay.BUSY_LINGER_S
    clock[0] += 1.5
    relay.on_sent([row])   # the burst is over
    assert relay.linger_s == Relay.QUIET_LINGER_S
    relay.on_sent([])  # nothing left to send: quiet
    assert relay.linger_s == Relay.QUIET_LINGER_S
    assert Relay.QUIET_LINGER_S < Relay.BUSY_LINGER_S
