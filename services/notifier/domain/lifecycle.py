"""The alert life cycle: which state may follow which, what is still open, and when an alert is due
for escalation or expiry.

`escalated` is also how an alert *pages anew*: a more serious call re-pages an acknowledged, snoozed or
deferred alert at the same holder (services/notifier/domain/merging.py), a snooze that absorbed calls
ends by paging again, and a call that must reach someone while every dyad is busy goes from
`missed_for_capacity` to the supervisor."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dyade.contracts.vocabulary import AlertState as S


class InvalidTransition(ValueError):
    def __init__(self, current: S, target: S):
        super().__init__(f"transition impossible: {LABELS[current]} → {LABELS[target]}")
        self.current, self.target = current, target


LABELS = {
    S.CREATED: "créée", S.DELIVERED: "reçue", S.SEEN: "vue", S.ACKNOWLEDGED: "prise en charge",
    S.DECLINED: "refusée", S.ESCALATED: "escaladée", S.EXPIRED: "expirée", S.CLOSED: "fermée",
    S.SNOOZED: "en veille", S.MISSED_FOR_CAPACITY: "manquée (capacité)", S.DEFERRED: "reportée au matin",
}

# States waiting for someone to act on them (the escalation clock runs).
PENDING = frozenset({S.CREATED, S.DELIVERED, S.SEEN, S.ESCALATED})
# Open: a new call about the same person updates the alert instead of creating another.
OPEN = PENDING | {S.ACKNOWLEDGED, S.SNOOZED, S.DEFERRED}
TERMINAL = frozenset({S.CLOSED, S.EXPIRED})

ALLOWED: dict[S, frozenset[S]] = {
    S.CREATED: frozenset({S.DELIVERED, S.SEEN, S.ACKNOWLEDGED, S.DECLINED, S.ESCALATED, S.SNOOZED, S.CLOSED,
                          S.EXPIRED, S.DEFERRED, S.MISSED_FOR_CAPACITY}),
    S.DELIVERED: frozenset({S.SEEN, S.ACKNOWLEDGED, S.DECLINED, S.ESCALATED, S.SNOOZED, S.CLOSED, S.EXPIRED}),
    S.SEEN: frozenset({S.ACKNOWLEDGED, S.DECLINED, S.ESCALATED, S.SNOOZED, S.CLOSED, S.EXPIRED}),
    S.ESCALATED: frozenset({S.DELIVERED, S.SEEN, S.ACKNOWLEDGED, S.DECLINED, S.ESCALATED, S.SNOOZED, S.CLOSED,
                            S.EXPIRED}),
    S.ACKNOWLEDGED: frozenset({S.CLOSED, S.SNOOZED, S.ESCALATED}),  # escalated: re-paged by a more serious call
    S.DECLINED: frozenset({S.ESCALATED, S.CLOSED, S.EXPIRED}),  # a decline hands the alert on at once
    S.SNOOZED: frozenset({S.CLOSED, S.EXPIRED, S.ACKNOWLEDGED, S.ESCALATED}),
    S.DEFERRED: frozenset({S.SEEN, S.ACKNOWLEDGED, S.CLOSED, S.EXPIRED, S.SNOOZED, S.ESCALATED}),
    S.MISSED_FOR_CAPACITY: frozenset({S.CLOSED, S.ESCALATED}),  # escalated: an urgent call goes to the supervisor
    S.CLOSED: frozenset(),
    S.EXPIRED: frozenset(),
}


def check(current: S, target: S) -> None:
    if target not in ALLOWED[S(current)]:
        raise InvalidTransition(S(current), S(target))


@dataclass(frozen=True)
class Timing:
    ack_delay: timedelta = timedelta(minutes=3)       # pending this long at a dyad → next dyad
    supervisor_delay: timedelta = timedelta(minutes=10)  # pending this long at the supervisor → expired


def due_action(*, state: S, assigned_at: datetime, now: datetime, at_supervisor: bool,
               snoozed_until: datetime | None, timing: Timing, absorbed: bool = False) -> S | None:
    """What the scheduler must do with an alert now: escalate it, expire it, or nothing. A snooze that
    absorbed new calls ends by paging again (escalated), else the alert expires."""
    if state == S.SNOOZED:
        if not (snoozed_until and now >= snoozed_until):
            return None
        return S.ESCALATED if absorbed else S.EXPIRED
    if state == S.DECLINED:
        return S.ESCALATED
    if state not in PENDING:
        return None
    waited = now - assigned_at
    if at_supervisor:
        return S.EXPIRED if waited >= timing.supervisor_delay else None
    return S.ESCALATED if waited >= timing.ack_delay else None
