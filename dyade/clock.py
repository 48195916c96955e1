"""The one clock: every service asks it for "now" (aware, UTC). Tests that need another time inject a
clock callable where a component takes one (the notifier's `clock`, triage's event time); nothing reads
the wall clock in another way."""
from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
