"""The simulated city over a period: who calls when, which high utilisers get a frame or a dyad follow-up
(and how many of them then call less), and the time-ordered stream of calls, updates and referrals,
with the ground truth tallied from what was actually emitted."""
from __future__ import annotations

import heapq
import math
import random
from bisect import bisect_left
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Iterator

from dyade.simulation.calls import TZ, CallFactory, dyad_of
from dyade.simulation.population import Person, Population
from dyade.simulation.profiles import HOURLY_ALL, HOURLY_CRISIS, NATURE_BY_KEY, NATURE_OF_CODE, WEEKDAY, CityProfile

REPEAT_NATURES = (("EMP", 0.70), ("SUI", 0.12), ("DET", 0.09), ("BE", 0.09))
INTERVENTION_KINDS = ("fiche", "suivi_dyade")
_HOURS = tuple(range(24))
_CUM_ALL = tuple(sum(HOURLY_ALL[: i + 1]) for i in range(24))
_CUM_CRISIS = tuple(sum(HOURLY_CRISIS[: i + 1]) for i in range(24))
_WEEKDAY_MEAN = sum(WEEKDAY) / 7


SIX_MONTHS_S = 182.5 * 86400


def capped(calls: list[tuple[int, float, str]], cap: int) -> list[tuple[int, float, str]]:
    """A person's (day, second, code) calls in time order, without those that would make more than `cap`
    in any 6 months (182.5 days): Terrebonne's extreme case, 65 calls in 6 months, is the most anyone calls."""
    kept: list[tuple[int, float, str]] = []
    times: list[float] = []
    for call in calls:
        t = call[0] * 86400 + call[1]
        recent = len(times) - bisect_left(times, t - SIX_MONTHS_S + 1e-6)
        if recent < cap:
            kept.append(call)
            times.append(t)
    return kept


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth for small means, normal approximation above 50)."""
    if lam <= 0:
        return 0
    if lam > 50:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


@dataclass(frozen=True)
class Knobs:
    """What a run of the simulator is asked for."""
    profile: CityProfile
    seed: int = 42
    start: date = date(2026, 1, 1)
    days: int = 180
    intervention_share: float = 0.6  # share of high utilisers who get a frame or a dyad follow-up
    effect_share: float = 0.7  # share of those who then call less
    reduction: float = 0.6  # how much less: their rate is multiplied by (1 - reduction)
    dyad_share: float = 0.3  # share of crisis calls attended by a dyad (8 h – 20 h)
    cad_dyads: bool = True  # the CAD names the dyad on its updates (False: the demo's dyads act in the notifier)
    plan_days: int | None = None  # interventions are planned within the first plan_days days (default: days)
    limit: int | None = None  # stop after this many calls
    prefix: str = "SIM"
    population_reference: date | None = None  # birth dates are drawn relative to it (default: start)


@dataclass
class Intervention:
    kind: str
    at: datetime
    responder: bool
    rate_after: float


@dataclass(slots=True)
class Record:
    """One item of the stream, in time order: a call, an update of a call, or a referral."""
    kind: str  # call | update | referral
    at: datetime
    body: dict
    call_id: str | None = None
    person_id: str | None = None  # ground truth only


@dataclass
class Tally:
    """What the stream actually carried, per known person."""
    calls: int = 0
    updates: int = 0
    referrals: int = 0
    crisis_calls: int = 0
    by_nature: dict[str, int] = field(default_factory=dict)
    person_calls: dict[str, list[tuple[str, str, bool]]] = field(default_factory=dict)  # id, at, after
    first_at: str | None = None
    last_at: str | None = None
    last_dt: datetime | None = None


class Simulation:
    def __init__(self, knobs: Knobs):
        self.knobs = knobs
        self.population = Population.generate(knobs.profile, random.Random(f"{knobs.seed}:population"),
                                              knobs.population_reference or knobs.start)
        self.factory = CallFactory(self.population.city, knobs.prefix)
        self.known_dob = self.population.by_birth_date()
        self.interventions = self._plan_interventions()
        self.schedule = self._schedule_repeat_calls()
        self.tally = Tally()

    # --- planning -------------------------------------------------------------------------------
    def _plan_interventions(self) -> dict[str, Intervention]:
        k, rng = self.knobs, random.Random(f"{self.knobs.seed}:interventions")
        plan = {}
        span = min(k.plan_days or k.days, k.days)
        for p in self.population.persons:
            if p.kind not in ("extreme", "cohort") or rng.random() >= k.intervention_share:
                continue
            day = k.start + timedelta(days=int(span * rng.uniform(0.3, 0.7)))
            responder = rng.random() < k.effect_share
            plan[p.person_id] = Intervention(rng.choice(INTERVENTION_KINDS), datetime.combine(day, time(10), TZ),
                                             responder, p.rate_per_year * ((1 - k.reduction) if responder else 1))
        return plan

    def _schedule_repeat_calls(self) -> dict[int, list[tuple[float, str, str]]]:
        """day index → [(second of day, person id, nature code)] for the persons who call again and again."""
        k, rng = self.knobs, random.Random(f"{self.knobs.seed}:schedule")
        codes, weights = zip(*REPEAT_NATURES)
        out: dict[int, list[tuple[float, str, str]]] = {}
        cap = k.profile.max_calls_per_6_months
        for p in self.population.persons:
            iv = self.interventions.get(p.person_id)
            cut = (iv.at.date() - k.start).days if iv else k.days
            mine: list[tuple[int, int, str]] = []
            for lo, hi, rate in ((0, cut, p.rate_per_year), (cut, k.days, iv.rate_after if iv else 0)):
                if hi <= lo:
                    continue
                for _ in range(poisson(rng, rate * (hi - lo) / 365)):
                    day = rng.randrange(lo, hi)
                    second = rng.choices(_HOURS, cum_weights=_CUM_CRISIS)[0] * 3600 + rng.randrange(3600)
                    if day == cut:  # the intervention is at 10:00 that day: the call comes after it
                        second = 10 * 3600 + second % (14 * 3600)
                    mine.append((day, second, rng.choices(codes, weights)[0]))
            for day, second, code in capped(sorted(mine), cap):
                out.setdefault(day, []).append((second, p.person_id, code))
        return out

    def bring_forward(self, person_ids: list[str], at: datetime, spacing: timedelta) -> None:
        """The demo's opening: each person's first call at or after `at` comes at `at + (i + 1) × spacing`
        (same day count, same nature, still within the cap): a followed person calls back within the first
        minutes of the live stream."""
        k = self.knobs
        for i, pid in enumerate(person_ids):
            when = (at + (i + 1) * spacing).astimezone(TZ)
            target_day = (when.date() - k.start).days
            target_second = when.hour * 3600 + when.minute * 60 + when.second
            later = sorted((d, sec, code) for d, items in self.schedule.items() for sec, who, code in items
                           if who == pid and (d, sec) >= (target_day, target_second))
            if not later or target_day < 0 or target_day >= k.days:
                continue
            day, second, code = later[0]
            self.schedule[day].remove((second, pid, code))
            self.schedule.setdefault(target_day, []).append((float(target_second), pid, code))

    # --- the stream -----------------------------------------------------------------------------
    def stream(self, *, updates: bool = True, referrals: bool = True) -> Iterator[Record]:
        """Calls, updates and referrals in time order. The tally (ground truth) fills as it goes."""
        k = self.knobs
        persons = self.population.by_id
        pending: list[tuple[datetime, int, Record]] = []
        seq = 0
        for iv_pid, iv in self.interventions.items():
            if referrals:
                heapq.heappush(pending, (iv.at, seq, Record("referral", iv.at, {}, None, iv_pid)))
                seq += 1
        emitted = 0
        for day_index in range(k.days):
            for rec in self._day(day_index, persons):
                while pending and pending[0][0] <= rec.at:
                    yield self._account(heapq.heappop(pending)[2])
                if updates:
                    for when, body in self._updates_of(rec, persons):
                        heapq.heappush(pending, (when, seq, Record("update", when, body, rec.call_id)))
                        seq += 1
                yield self._account(rec)
                emitted += 1
                if k.limit is not None and emitted >= k.limit:
                    break
            if k.limit is not None and emitted >= k.limit:
                break
        last = self.tally.last_dt
        while pending:
            rec = heapq.heappop(pending)[2]
            if rec.kind == "referral" and last and rec.at > last:
                continue  # the run stopped (limit) before this intervention
            yield self._account(rec)

    def _day(self, day_index: int, persons: dict[str, Person]) -> list[Record]:
        k = self.knobs
        day = k.start + timedelta(days=day_index)
        rng = random.Random(f"{k.seed}:day:{day_index}")
        volume = k.profile.calls_per_year / 365 * WEEKDAY[day.weekday()] / _WEEKDAY_MEAN
        slots: list[tuple[int, str, str | None]] = []
        repeat = self.schedule.get(day_index, ())
        repeat_by_code: dict[str, int] = {}
        for second, pid, code in repeat:
            slots.append((int(second), code, pid))
            repeat_by_code[code] = repeat_by_code.get(code, 0) + 1
        for nature in k.profile.natures:
            n = poisson(rng, volume * nature.share) - repeat_by_code.get(nature.key, 0)
            cum = _CUM_CRISIS if nature.is_crisis else _CUM_ALL
            for _ in range(max(0, n)):
                slots.append((rng.choices(_HOURS, cum_weights=cum)[0] * 3600 + int(rng.random() * 3600), nature.key, None))
        midnight = datetime.combine(day, time(0))
        # Wall-clock times; one that does not exist (spring forward) is moved by the round trip to UTC.
        timed = sorted((((midnight + timedelta(seconds=second)).replace(tzinfo=TZ).astimezone(UTC).astimezone(TZ)),
                        code, pid or "") for second, code, pid in slots)
        out = []
        for i, (when, code, pid) in enumerate(timed):
            call_id = f"{k.prefix}-{day:%Y%m%d}-{i + 1:05d}"
            body = self.factory.call(rng, call_id, when, NATURE_BY_KEY[code], persons.get(pid) if pid else None,
                                     known_dob=self.known_dob)
            out.append(Record("call", when, body, call_id, pid or None))
        return out

    def _updates_of(self, rec: Record, persons: dict[str, Person]):
        rng = random.Random(f"{self.knobs.seed}:updates:{rec.call_id}")
        nature = NATURE_OF_CODE[rec.body["nature_code"]]
        iv = self.interventions.get(rec.person_id or "")
        followed = bool(iv and iv.kind == "suivi_dyade" and rec.at >= iv.at)
        dyad = None
        if self.knobs.cad_dyads and nature.is_crisis and 8 <= rec.at.hour < 20 and \
                (followed or rng.random() < self.knobs.dyad_share):
            dyad = dyad_of(rec.body["location"]["sector"])
        return self.factory.updates(rng, rec.body, rec.at, nature, dyad_id=dyad, followed=followed)

    def _account(self, rec: Record) -> Record:
        t = self.tally
        if rec.kind == "call":
            t.calls += 1
            code = rec.body["nature_code"]
            t.by_nature[code] = t.by_nature.get(code, 0) + 1
            t.crisis_calls += NATURE_OF_CODE[code].is_crisis
            iso = rec.body["received_at"]
            t.first_at = t.first_at or iso
            t.last_at, t.last_dt = iso, rec.at
            if rec.person_id:
                iv = self.interventions.get(rec.person_id)
                t.person_calls.setdefault(rec.person_id, []).append(
                    (rec.call_id, iso, bool(iv and rec.at >= iv.at)))
        elif rec.kind == "update":
            t.updates += 1
        else:
            person = self.population.by_id[rec.person_id]
            iv = self.interventions[rec.person_id]
            linked = [cid for cid, _, _ in t.person_calls.get(rec.person_id, [])]
            rec.body = self.factory.referral(person, iv.at, iv.kind, linked, f"{self.knobs.prefix}-REF-{person.person_id}")
            t.referrals += 1
        return rec

    def knobs_json(self) -> dict:
        d = asdict(self.knobs)
        d["profile"] = {key: v for key, v in d["profile"].items() if key != "natures"}
        d["start"] = self.knobs.start.isoformat()
        d["population_reference"] = (self.knobs.population_reference or self.knobs.start).isoformat()
        return d
