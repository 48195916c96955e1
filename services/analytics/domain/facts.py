"""The facts the figures are computed from: plain records, read from analytics' tables (or built by a test).

All times are timezone-aware UTC datetimes. Person keys are pseudonymous. Days, weeks, months and shifts
are those of the organisation's time zone (DYADE_TIMEZONE, America/Montreal by default), passed as `tz`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

MONTREAL = ZoneInfo("America/Montreal")
# A call is history rather than live when it reached Dyade more than this long after the dispatch system
# received it: the notifier's horizon for live alerts (NOTIFIER_HORIZON_MINUTES), ANALYTICS_BACKFILL_MINUTES.
BACKFILL_AFTER = timedelta(minutes=120)
# Values of the envelope's `source`, the payload's `source_system` or a `channel` that say "replay".
REPLAY_MARKERS = ("replay", "backfill", "rejeu")


def aware(dt: datetime) -> datetime:
    """A naive datetime is taken as UTC (SQLite hands timestamps back naive)."""
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt


def month_of(dt: datetime, tz: ZoneInfo = MONTREAL) -> str:
    """`YYYY-MM` of the instant, in the organisation's time zone."""
    return aware(dt).astimezone(tz).strftime("%Y-%m")


def says_replay(*values: str | None) -> bool:
    """A source, source system or channel naming a replay: `replay`, `backfill`, `rejeu`, or ending in
    `-replay`, `:replay`, `/replay`... (case ignored)."""
    for v in values:
        if not v:
            continue
        v = v.lower()
        if any(v == m or v.endswith(("-" + m, ":" + m, "/" + m, "." + m, "_" + m)) for m in REPLAY_MARKERS):
            return True
    return False


def in_period(t: datetime, start: datetime | None, end: datetime | None) -> bool:
    """The instant is in [start, end) (either bound may be open)."""
    t = aware(t)
    return (start is None or t >= start) and (end is None or t < end)


@dataclass(frozen=True)
class CallFact:
    call_id: str
    received_at: datetime
    category: str
    nature_code: str
    location_key: str
    address: str | None = None
    sector: str | None = None
    priority: int = 3
    caller_relation: str | None = None
    persons: tuple[tuple[str, str], ...] = ()  # (person_key, role)
    ingested_at: datetime | None = None  # when intake published it (produced_at); None: stored before 0002
    replayed: bool = False  # its source said it is a replay or a backfill

    def is_backfill(self, after: timedelta = BACKFILL_AFTER) -> bool:
        """History, not live: marked as a replay by its source, or published by intake more than `after`
        after the dispatch system received it (a replay of an export, the demo's history, a CAD catching up
        after an outage)."""
        if self.replayed:
            return True
        return self.ingested_at is not None and aware(self.ingested_at) - aware(self.received_at) > after

    def counted_persons(self) -> set[str]:
        """Persons a call is *about*: its subjects (`sujet`), and a caller calling about themself
        (`appelant` with caller relation `soi`). Relatives, neighbours and victims are not counted."""
        keys = {k for k, role in self.persons if role == "sujet"}
        if self.caller_relation == "soi":
            keys |= {k for k, role in self.persons if role == "appelant"}
        return keys


@dataclass(frozen=True)
class CallUpdateFact:
    call_id: str
    occurred_at: datetime
    status: str
    disposition: str | None = None
    dyad_id: str | None = None
    sector: str | None = None
    person_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class DecisionFact:
    decision_id: str
    call_id: str
    level: str
    call_received_at: datetime
    decided_at: datetime
    sector: str | None = None
    call_revision: int = 1


@dataclass(frozen=True)
class AlertEventFact:
    alert_id: str
    state: str
    occurred_at: datetime
    kind: str = "appel"
    call_id: str | None = None
    person_key: str | None = None
    dyad_id: str | None = None
    sector: str | None = None
    shift: str | None = None
    call_received_at: datetime | None = None


@dataclass(frozen=True)
class ReferralEventFact:
    referral_id: str
    person_key: str
    kind: str  # "filed" | "status"
    occurred_at: datetime
    status: str | None = None
    referrer_type: str | None = None
    criteria: tuple[str, ...] = ()
    received_at: datetime | None = None
    first_contact_at: datetime | None = None


@dataclass(frozen=True)
class FrameEventFact:
    frame_id: str
    person_key: str
    change: str
    version: int
    occurred_at: datetime
    first_activation: bool = False


def alert_creation_times(alerts: list[AlertEventFact]) -> dict[str, datetime]:
    """Each alert's creation: its first `created` event, else its first event (as `AlertStory.created_at`)."""
    created: dict[str, datetime] = {}
    first: dict[str, datetime] = {}
    for a in alerts:
        t = aware(a.occurred_at)
        if a.state == "created" and (a.alert_id not in created or t < created[a.alert_id]):
            created[a.alert_id] = t
        if a.alert_id not in first or t < first[a.alert_id]:
            first[a.alert_id] = t
    return first | created


@dataclass
class Facts:
    calls: list[CallFact] = field(default_factory=list)
    updates: list[CallUpdateFact] = field(default_factory=list)
    decisions: list[DecisionFact] = field(default_factory=list)
    alerts: list[AlertEventFact] = field(default_factory=list)
    referrals: list[ReferralEventFact] = field(default_factory=list)
    frames: list[FrameEventFact] = field(default_factory=list)

    def between(self, start: datetime | None = None, end: datetime | None = None) -> "Facts":
        """The facts of the period [start, end): calls by received time, alerts as whole stories (every event
        of the alerts created in the period, see `alert_creation_times`, those after `end` too: a period's
        figures follow an alert to its acknowledgement), the others by event time."""
        created = alert_creation_times(self.alerts)
        period = self._by_event_time(start, end)
        period.alerts = [a for a in self.alerts if in_period(created[a.alert_id], start, end)]
        return period

    def until(self, end: datetime | None) -> "Facts":
        """The history as it stood at `end`: the facts that happened before it, alert events one by one."""
        return self._by_event_time(None, end)

    def _by_event_time(self, start: datetime | None, end: datetime | None) -> "Facts":
        def keep(t: datetime) -> bool:
            return in_period(t, start, end)
        return Facts(calls=[c for c in self.calls if keep(c.received_at)],
                     updates=[u for u in self.updates if keep(u.occurred_at)],
                     decisions=[d for d in self.decisions if keep(d.decided_at)],
                     alerts=[a for a in self.alerts if keep(a.occurred_at)],
                     referrals=[r for r in self.referrals if keep(r.occurred_at)],
                     frames=[f for f in self.frames if keep(f.occurred_at)])

    def in_sector(self, sector: str) -> "Facts":
        """The facts of one sector: its calls (by the call's sector), the updates and decisions of those
        calls, the alerts carrying the sector, and the referrals and frames of the persons named on its calls
        (referrals and frames carry no sector)."""
        ids = {c.call_id for c in self.calls if c.sector == sector}
        persons = {k for c in self.calls if c.call_id in ids for k, _ in c.persons}
        alert_ids = {a.alert_id for a in self.alerts if a.sector == sector}
        return Facts(calls=[c for c in self.calls if c.call_id in ids],
                     updates=[u for u in self.updates if u.call_id in ids],
                     decisions=[d for d in self.decisions if d.call_id in ids or d.sector == sector],
                     alerts=[a for a in self.alerts if a.alert_id in alert_ids],
                     referrals=[r for r in self.referrals if r.person_key in persons],
                     frames=[f for f in self.frames if f.person_key in persons])

    def history_start(self) -> datetime | None:
        """The earliest call received: before it, the facts cannot tell whether anyone called."""
        return min((aware(c.received_at) for c in self.calls), default=None)

    def latest_time(self) -> datetime | None:
        """The newest instant any fact carries, each fact at the time it happened (its event's `occurred_at`):
        the default 'as of' of the figures, where everyone's follow-up ends.

        A decision counts at its call's received time (`call_received_at`, the `occurred_at` triage gives
        `triage.decided`), never at `decided_at`: that is when triage processed the call (its `produced_at`,
        Dyade's clock, kept for the latencies). Triage replaying old calls, or deciding on a backfill, decides
        today on calls received months ago; were `decided_at` counted, 'as of' would jump to today and every
        person would be 'followed' through months in which no call was recorded."""
        times = [c.received_at for c in self.calls] + [u.occurred_at for u in self.updates]
        times += [a.occurred_at for a in self.alerts] + [r.occurred_at for r in self.referrals]
        times += [f.occurred_at for f in self.frames] + [d.call_received_at for d in self.decisions]
        return max((aware(t) for t in times), default=None)
