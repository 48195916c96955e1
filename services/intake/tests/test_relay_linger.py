"""The relay's wait for more commits after a wake-up: short while the outbox is quiet (publication latency), longer
once its batches bring several events (fewer batches under load, each serving more events); no broker needed."""
from __future__ import annotations

from types import SimpleNamespace

from services.intake.adapters.outbox import Relay


def test_linger_follows_the_size_of_the_last_batch():
    relay = Relay(sessions=None, bootstrap="127.0.0.1:1")  # nothing connects before start()
    assert relay.linger_s == Relay.QUIET_LINGER_S
    row = SimpleNamespace(topic="test.relay-linger")  # a label of its own on the published counter
    relay.on_sent([row] * Relay.BUSY_ROWS)
    assert relay.linger_s == Relay.BUSY_LINGER_S
    relay.on_sent([row])
    assert relay.linger_s == Relay.QUIET_LINGER_S
    relay.on_sent([])  # nothing left to send: quiet again
    assert relay.linger_s == Relay.QUIET_LINGER_S
    assert Relay.QUIET_LINGER_S < Relay.BUSY_LINGER_S
