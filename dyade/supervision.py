"""The supervision policy of `dyade up`: when a process is restarted, after how long, and when a live
but unresponsive one is killed. Pure: no process, no clock, no I/O. Every method takes `now` (monotonic
seconds) and says what to do, so the policy is tested in milliseconds (tests/foundation/test_supervision.py);
dyade/cli/up.py starts, probes and kills the processes.

- A process that ends (any exit code, or killed) is restarted after 1 s, 2 s, 4 s… at most 30 s; the
  delay starts again at 1 s once the process stayed ready 60 s.
- Once ready, a service is probed on /healthz every 5 s; 3 failures in a row: it is stopped (SIGTERM,
  SIGKILL 10 s later), then restarted like a process that ended.
- A restarted process not ready within the start timeout is stopped and restarted the same way.
- With `max_failures`, the supervision gives up after that many failed starts in a row (the embedded
  broker: `dyade up` stops if it cannot bring it back).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    stable_after_s: float = 60.0      # ready this long: the next failure waits backoff_initial_s again
    start_probe_period_s: float = 1.0  # readiness probes of a (re)starting process
    liveness_period_s: float = 5.0
    liveness_timeout_s: float = 3.0
    liveness_failures: int = 3
    kill_grace_s: float = 10.0        # SIGTERM, then SIGKILL after this
    start_timeout_s: float = 90.0     # a restarted process not ready by then is stopped and restarted
    max_failures: int | None = None   # failed starts in a row before giving up; None: never give up


DEFAULT = Policy()


def backoff_delay(failures: int, policy: Policy = DEFAULT) -> float:
    """Delay before the restart that follows `failures` failures in a row: 1 → 1 s, 2 → 2 s, 3 → 4 s…,
    never more than `backoff_max_s`."""
    if failures <= 0:
        return 0.0
    return min(policy.backoff_max_s, policy.backoff_initial_s * 2.0 ** min(failures - 1, 60))


class Phase(str, enum.Enum):
    STARTING = "starting"   # running, not ready yet
    READY = "ready"         # was ready; probed for liveness
    STOPPING = "stopping"   # being stopped (liveness or start timeout); restarted once it has ended
    WAITING = "waiting"     # ended; restart scheduled at `restart_at`
    FAILED = "failed"       # given up (max_failures)


PHASE_FR = {Phase.STARTING: "démarrage", Phase.READY: "prêt", Phase.STOPPING: "arrêt forcé",
            Phase.WAITING: "redémarrage programmé", Phase.FAILED: "abandonné"}


class Action(enum.Enum):
    NONE = "none"
    PROBE = "probe"           # STARTING: readiness probe (/readyz); READY: liveness probe (/healthz)
    TERMINATE = "terminate"   # send SIGTERM (the grace period starts)
    KILL = "kill"             # grace period over: SIGKILL
    START = "start"           # (re)start the process now


@dataclass
class Supervised:
    """One supervised process. `probe=False`: no HTTP probe (the broker), ready as soon as started."""

    name: str
    policy: Policy = DEFAULT
    probe: bool = True
    phase: Phase = Phase.WAITING
    starts: int = 0                 # processes started so far; a probe result is only valid for its start
    failures: int = 0               # failures in a row, not followed by `stable_after_s` of readiness
    start_failures: int = 0         # starts that failed in a row (the process never ran)
    started_at: float = 0.0
    ready_at: float | None = None
    misses: int = 0                 # liveness probes failed in a row
    first_miss_at: float | None = None
    next_probe_at: float = 0.0
    restart_at: float | None = 0.0  # a new Supervised starts at once
    kill_at: float | None = None
    reason: str = ""                # why the last failure happened (French), for the logs and run.json

    @property
    def restarts(self) -> int:
        return max(0, self.starts - 1)

    # -- events ------------------------------------------------------------------------------------
    def started(self, now: float) -> None:
        """A new process runs."""
        self.phase = Phase.STARTING
        self.starts += 1
        self.start_failures = 0
        self.started_at, self.ready_at = now, None
        self.misses, self.first_miss_at = 0, None
        self.next_probe_at, self.restart_at, self.kill_at = now, None, None
        if not self.probe:
            self.ready(now)

    def ready(self, now: float) -> bool:
        """Readiness observed; True the first time for this process."""
        if self.phase is not Phase.STARTING:
            return False
        self.phase, self.ready_at = Phase.READY, now
        self.next_probe_at = now + self.policy.liveness_period_s
        return True

    def liveness(self, now: float, ok: bool, detail: str = "") -> Action:
        """Result of a liveness probe; TERMINATE after `liveness_failures` failures in a row."""
        if self.phase is not Phase.READY:
            return Action.NONE
        if ok:
            self.misses, self.first_miss_at = 0, None
            return Action.NONE
        self.misses += 1
        self.first_miss_at = self.first_miss_at if self.first_miss_at is not None else now
        if self.misses >= self.policy.liveness_failures:
            why = f"/healthz en échec {self.misses} fois de suite"
            return self._stop(now, f"{why}: {detail}" if detail else why)
        return Action.NONE

    def exited(self, now: float, reason: str) -> float | None:
        """The process ended. Returns the delay before its restart, or None if supervision gives up."""
        if self.phase in (Phase.WAITING, Phase.FAILED):
            return self.restart_delay(now)
        if self.phase is not Phase.STOPPING:  # stopped by us: already counted
            self._failure(now, reason)
        return self._schedule(now)

    def start_failed(self, now: float, reason: str) -> float | None:
        """The process could not even be started (port taken, broker refused…)."""
        self.phase = Phase.STARTING
        self.start_failures += 1
        self._failure(now, reason)
        return self._schedule(now)

    def tick(self, now: float) -> Action:
        """What is due now."""
        if self.phase is Phase.WAITING and self.restart_at is not None and now >= self.restart_at:
            return Action.START
        if self.phase is Phase.STOPPING and self.kill_at is not None and now >= self.kill_at:
            self.kill_at = None
            return Action.KILL
        if self.phase is Phase.STARTING and self.starts > 1 and now - self.started_at >= self.policy.start_timeout_s:
            return self._stop(now, f"pas prêt {self.policy.start_timeout_s:.0f} s après son redémarrage")
        if self.probe and self.phase in (Phase.STARTING, Phase.READY) and now >= self.next_probe_at:
            period = self.policy.start_probe_period_s if self.phase is Phase.STARTING else self.policy.liveness_period_s
            self.next_probe_at = now + period
            return Action.PROBE
        return Action.NONE

    def restart_delay(self, now: float) -> float | None:
        if self.phase is Phase.FAILED or self.restart_at is None:
            return None
        return max(0.0, self.restart_at - now)

    def stable(self, now: float) -> bool:
        """Ready, and healthy for `stable_after_s` (up to its first failed liveness probe)."""
        if self.phase not in (Phase.READY, Phase.STOPPING) or self.ready_at is None:
            return False
        healthy_until = self.first_miss_at if self.first_miss_at is not None else now
        return healthy_until - self.ready_at >= self.policy.stable_after_s

    # -- internals ---------------------------------------------------------------------------------
    def _failure(self, now: float, reason: str) -> None:
        if self.stable(now):
            self.failures = 0
        self.failures += 1
        self.reason = reason

    def _stop(self, now: float, reason: str) -> Action:
        self._failure(now, reason)
        self.phase, self.kill_at = Phase.STOPPING, now + self.policy.kill_grace_s
        return Action.TERMINATE

    def _schedule(self, now: float) -> float | None:
        if self.policy.max_failures is not None and self.start_failures >= self.policy.max_failures:
            self.phase, self.restart_at = Phase.FAILED, None
            return None
        delay = backoff_delay(self.failures, self.policy)
        self.phase, self.restart_at, self.kill_at = Phase.WAITING, now + delay, None
        return delay
