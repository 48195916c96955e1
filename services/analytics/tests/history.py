"""A synthetic history with a known ground truth, built as real contract events.

Everything happens in one sector of its own (unique per test run), so the figures filtered by that
sector are exactly this history's, whatever else the shared broker and database hold.

Times are those of real sources: a call's `occurred_at` is the dispatch system's received time with
Montréal's offset (−05:00 / −04:00), intake publishes it 30 s later (`produced_at`), triage decides and the
notifier moves alerts on Dyade's clocks; so a figure that mixed the CAD's clock with Dyade's, or read a
wall time as UTC, would be off by 30 s or by hours.

Before/after (W = 60 days, the longest window; minimum follow-up 14 days, the default; each person's
window w = the shortest of W, her follow-up and the history before her start; rates per 30 days):
- A0..A3 improve: 6 counted calls in the 60 days up to their intervention start, then 2, 2, 1, 0 calls
  in the 60 days after → rates 3 → 1, 1, 0.5, 0 → reductions 2, 2, 2.5, 3 (66.67 %, 66.67 %, 83.33 %, 100 %).
  Their interventions start by: A0 frame approved, A1 referral accepted, A2 dyad on a call, A3 alert
  acknowledged. A0 also has one call just outside the before-window (not counted), and one call where
  it is only a relative (`proche`, not counted).
- B0, B1 do not change: 3 calls before, 3 after → reduction 0 (0 %). Interventions: frame approved.
- E0 is followed for 40 days only (frame approved 40 days before `as_of`): w = 40, 4 calls in the 40 days
  before (and one 50 days before: outside its window), 1 after → rates 3 → 0.75, reduction 2.25 (75 %).
- C0, C1 have an intervention 10 days before `as_of`: follow-up too short → excluded (2).
- F0's intervention came 10 days after the sector's first call: history too short → excluded (1).
- D0, D1 have 5 calls each and no intervention: not in the cohort. Triage suggested a referral for each;
  D0's waits for the social worker, D1's was not retained: neither is a confirmed referral.
Cohort: N = 7, windows [60 × 6, 40] → median follow-up 60 days; reductions [0, 0, 2, 2, 2.25, 2.5, 3] →
median 2, mean 1.678571; % [0, 0, 66.67, 66.67, 75, 83.33, 100] → median 66.6667, mean 55.9524.
With the minimum at 60 days (the strict reading), E0 is excluded too: N = 6, median 2, mean 1.58333,
% median 66.6667, mean 52.7778.

Latency: four live calls decided 2, 4, 6, 8 s after intake published them; one call that reached Dyade
three days after the CAD received it (a backfill) and one its source marks as a replay: both left out.
"""
from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from dyade.contracts import Event
from dyade.contracts.alerts import AlertChanged, AlertPayload
from dyade.contracts.calls import CallPayload, CallReceived, CallUpdatePayload, CallUpdated, Location, PersonRef
from dyade.contracts.frames import FrameChanged, FrameChangePayload
from dyade.contracts.referrals import ReferralFiled, ReferralPayload, ReferralStatusChanged, ReferralStatusPayload
from dyade.contracts.triage import Danger, DecisionPayload, Recurrence, TriageDecided

T = datetime(2025, 3, 3, 17, 0, tzinfo=timezone.utc)  # a Monday, noon in Montréal
W = 60
DAY = timedelta(days=1)
AS_OF = T + timedelta(days=220)
MTL = ZoneInfo("America/Montreal")
INGEST = timedelta(seconds=30)  # the CAD's received time → intake publishes the call


def made(cls, payload, *, occurred_at: datetime, produced_at: datetime, source: str, correlation_id: str) -> Event:
    """An event as its service would have produced it at `produced_at` (Event.new stamps the present)."""
    return cls(type=cls.TYPE, schema_version=cls.VERSION, occurred_at=occurred_at, produced_at=produced_at,
               source=source, correlation_id=correlation_id, payload=payload)


def received(call_id: str, at: datetime, produced: datetime, revision: int = 1, source_system: str = "cad") -> CallReceived:
    """One call, received by the CAD `at` and published by intake at `produced`."""
    payload = CallPayload(call_id=call_id, revision=revision, nature_code="5150", category="etat_mental_perturbe",
                          location=Location(location_key="l_tz", sector="S1"), source_system=source_system)
    return made(CallReceived, payload, occurred_at=at, produced_at=produced, source="intake", correlation_id=call_id)


@dataclass
class History:
    u: str
    sector: str
    events: list[Event] = field(default_factory=list)
    calls: list[dict] = field(default_factory=list)  # what the oracle needs: id, at, category, location, counted
    n: int = 0

    def key(self, name: str) -> str:
        return f"p_{self.u}{name.lower()}"

    def dyad(self, name: str) -> str:
        return f"{name}-{self.u}"

    # --- event builders ----------------------------------------------------------------------------------
    def call(self, at: datetime, *, subject: str | None = None, category: str = "etat_mental_perturbe",
             location: str | None = None, relative: str | None = None, nature: str = "5150",
             ingest: timedelta = INGEST, source_system: str = "cad") -> str:
        """A call the CAD received at `at` (sent with Montréal's offset), published by intake `ingest` later."""
        self.n += 1
        call_id = f"c-{self.u}-{self.n}"
        location = location or f"l_{self.u}_{self.n}"
        persons = []
        if subject:
            persons.append(PersonRef(person_key=self.key(subject), role="sujet"))
        if relative:
            persons.append(PersonRef(person_key=self.key(relative), role="proche"))
        payload = CallPayload(call_id=call_id, nature_code=nature, category=category,
                              location=Location(location_key=location, address=f"{location} (bloc)", sector=self.sector),
                              persons=tuple(persons), source_system=source_system)
        self.events.append(made(CallReceived, payload, occurred_at=at.astimezone(MTL), produced_at=at + ingest,
                                source="intake", correlation_id=call_id))
        self.calls.append({"call_id": call_id, "at": at, "category": category, "location": location,
                           "counted": {self.key(subject)} if subject else set()})
        return call_id

    def update(self, call_id: str, at: datetime, *, disposition: str | None = None, dyad: str | None = None,
               person: str | None = None) -> None:
        payload = CallUpdatePayload(call_id=call_id, status="cleared" if disposition else "on_scene",
                                    disposition=disposition, dyad_id=dyad, sector=self.sector,
                                    person_keys=(self.key(person),) if person else ())
        self.events.append(made(CallUpdated, payload, occurred_at=at.astimezone(MTL), produced_at=at + INGEST,
                                source="intake", correlation_id=call_id))

    def decision(self, call_id: str, received: datetime, delay_s: float, ingest: timedelta = INGEST) -> None:
        """Triage's decision, published `delay_s` after intake published the call."""
        payload = DecisionPayload(decision_id=f"d-{call_id}", call_id=call_id, location_key="l", sector=self.sector,
                                  category="etat_mental_perturbe", level="dyade_suggeree",
                                  danger=Danger(level="aucun", score=0), recurrence=Recurrence(),
                                  ruleset_version="test", call_received_at=received.astimezone(MTL))
        self.events.append(made(TriageDecided, payload, occurred_at=received.astimezone(MTL),
                                produced_at=received + ingest + timedelta(seconds=delay_s), source="triage",
                                correlation_id=call_id))

    def alert(self, alert_id: str, state: str, at: datetime, *, dyad: str | None = None, kind: str = "appel",
              call_id: str | None = None, person: str | None = None, received: datetime | None = None,
              shift: str | None = None) -> None:
        payload = AlertPayload(alert_id=f"{alert_id}-{self.u}", kind=kind, state=state, call_id=call_id,
                               person_key=self.key(person) if person else None, dyad_id=dyad, sector=self.sector,
                               call_received_at=received, shift=shift)
        self.events.append(made(AlertChanged, payload, occurred_at=at, produced_at=at + timedelta(seconds=1),
                                source="notifier", correlation_id=call_id or alert_id))

    def frame(self, person: str, change: str, at: datetime, version: int = 1) -> None:
        payload = FrameChangePayload(frame_id=f"f-{self.u}-{person}", person_key=self.key(person), change=change,
                                     version=version, first_activation=change == "approved" and version == 1)
        self.events.append(made(FrameChanged, payload, occurred_at=at, produced_at=at, source="infosocial",
                                correlation_id=payload.frame_id))

    def referral_filed(self, rid: str, person: str, at: datetime, source: str, criteria: tuple[str, ...]) -> None:
        payload = ReferralPayload(referral_id=f"{rid}-{self.u}", referrer_type=source, referrer_key="r_x",
                                  person_key=self.key(person), criteria=criteria)
        self.events.append(made(ReferralFiled, payload, occurred_at=at.astimezone(MTL), produced_at=at, source="intake",
                                correlation_id=payload.referral_id))

    def referral_status(self, rid: str, person: str, status: str, at: datetime, **kw) -> None:
        payload = ReferralStatusPayload(referral_id=f"{rid}-{self.u}", person_key=self.key(person), status=status, **kw)
        self.events.append(made(ReferralStatusChanged, payload, occurred_at=at, produced_at=at, source="infosocial",
                                correlation_id=payload.referral_id))


def spread(start: datetime, end: datetime, n: int) -> list[datetime]:
    """n instants strictly inside (start, end), evenly spaced."""
    step = (end - start) / (n + 1)
    return [start + step * (i + 1) for i in range(n)]


def build(u: str) -> History:
    h = History(u=u, sector=f"Z{u[:6]}")
    hot, warm = f"l_{u}_hot", f"l_{u}_warm"
    window = timedelta(days=W)
    # A: improvers. Intervention starts 70, 73, 76, 79 days after T.
    after_calls = {0: 2, 1: 2, 2: 1, 3: 0}
    for i in range(4):
        name, t0 = f"A{i}", T + timedelta(days=70 + 3 * i)
        for j, at in enumerate(spread(t0 - window, t0, 6)):
            h.call(at, subject=name, location=hot if j < 2 else None, category="suicidaire" if j == 0 else "etat_mental_perturbe")
        for at in spread(t0, t0 + window, after_calls[i]):
            h.call(at, subject=name, location=warm)
        if i == 0:
            h.frame(name, "approved", t0)
            h.call(t0 - window - 2 * DAY, subject=name, category="detresse")  # outside the before-window
            h.call(t0 + 10 * DAY, relative=name, category="desordre_public", nature="415")  # only a relative
        elif i == 1:
            h.referral_filed("ref-a1", name, t0 - 2 * DAY, "policier", ("recurrence", "complexite_intervention"))
            h.referral_status("ref-a1", name, "admissible", t0, previous="recue")
            h.referral_status("ref-a1", name, "premier_contact", t0 + 4 * DAY, previous="admissible",
                              first_contact_at=t0 + 3 * DAY)
        elif i == 2:
            cid = h.call(t0 - timedelta(hours=1), category="bien_etre", nature="1042")  # the call the dyad attends
            h.update(cid, t0, dyad=h.dyad("D1"), person=name)
        else:
            h.alert("ack-a3", "created", t0 - timedelta(minutes=5), kind="suivi", person=name, dyad=h.dyad("D2"))
            h.alert("ack-a3", "acknowledged", t0, kind="suivi", person=name, dyad=h.dyad("D2"), shift="2025-05-20/jour")
    # B: no change.
    for i in range(2):
        name, t0 = f"B{i}", T + timedelta(days=65 + i)
        for at in spread(t0 - window, t0, 3) + spread(t0, t0 + window, 3):
            h.call(at, subject=name, location=hot)
        h.frame(name, "approved", t0)
    h.frame("B0", "stale", T + timedelta(days=170), version=1)
    h.frame("B1", "review_due", T + timedelta(days=180), version=1)
    # C: follow-up too short (10 days, the minimum being 14).
    tc = AS_OF - timedelta(days=10)
    for i in range(2):
        for at in spread(tc - window, tc, 2):
            h.call(at, subject=f"C{i}")
    h.referral_filed("ref-c0", "C0", tc - DAY, "partenaire_communautaire", ("recurrence",))
    h.referral_status("ref-c0", "C0", "admissible", tc)
    h.referral_status("ref-c1", "C1", "admissible", tc, referrer_type="triage", criteria=("dangerosite_previsible",),
                      received_at=tc - 6 * DAY)
    h.referral_status("ref-c1", "C1", "premier_contact", tc + DAY, referrer_type="triage",
                      criteria=("dangerosite_previsible",), received_at=tc - 6 * DAY)
    # D: no intervention; triage suggested a referral for each, neither confirmed.
    for i in range(2):
        for at in spread(T, T + timedelta(days=100), 5):
            h.call(at, subject=f"D{i}", location=warm if i == 0 else None)
    h.referral_status("sug-d0", "D0", "recue", T + timedelta(days=50), referrer_type="triage", criteria=("recurrence",),
                      received_at=T + timedelta(days=50))
    h.referral_status("sug-d1", "D1", "recue", T + timedelta(days=51), referrer_type="triage", criteria=("recurrence",),
                      received_at=T + timedelta(days=51))
    h.referral_status("sug-d1", "D1", "fermee", T + timedelta(days=53), previous="recue", referrer_type="triage",
                      criteria=("recurrence",), received_at=T + timedelta(days=51))
    # E: followed for 40 days only: equal windows of 40 days.
    te = AS_OF - timedelta(days=40)
    for at in spread(te - timedelta(days=40), te, 4):
        h.call(at, subject="E0")
    h.call(te - timedelta(days=50), subject="E0")  # inside W = 60, outside its own 40-day window
    h.call(te + timedelta(days=20), subject="E0")
    h.frame("E0", "approved", te)
    # F: the sector's first calls; an intervention 10 days after them: too little history before it.
    h.call(T - timedelta(days=20), subject="F0")
    h.call(T - timedelta(days=15), subject="F0")
    h.frame("F0", "approved", T - timedelta(days=10))
    h.call(AS_OF, location=f"l_{u}_last")  # the newest fact: the default `as_of` is AS_OF
    build_dyads(h)
    return h


def build_dyads(h: History) -> None:
    """Person-less calls with alerts (so no intervention start comes from them), decisions, dispositions."""
    d1, d2 = h.dyad("D1"), h.dyad("D2")
    base = T + timedelta(days=60, hours=1)  # 2025-05-02 13:00 local: a day shift
    received = [base + timedelta(hours=k) for k in range(4)]
    calls = [h.call(at, category="etat_mental_perturbe", location=f"l_{h.u}_hot") for at in received]
    for cid, at, delay in zip(calls, received, (2, 4, 6, 8)):
        h.decision(cid, at, delay)
    # (alert, dyad, call index, delivered after created, acknowledged after created or final state)
    story = [("a1", d1, 0, 10, 70), ("a2", d1, 1, 5, 125), ("a3", d1, 2, 15, "escalated"), ("a5", d2, 3, 20, 40)]
    for name, dyad, idx, delivered, last in story:
        created = received[idx] + INGEST + timedelta(seconds=30)  # 30 s after intake published the call
        h.alert(name, "created", created, dyad=dyad, call_id=calls[idx], received=received[idx])
        h.alert(name, "delivered", created + timedelta(seconds=delivered), dyad=dyad, call_id=calls[idx],
                received=received[idx])
        if last == "escalated":
            h.alert(name, "escalated", created + timedelta(minutes=10), dyad=dyad, call_id=calls[idx])
        else:
            h.alert(name, "acknowledged", created + timedelta(seconds=last), dyad=dyad, call_id=calls[idx],
                    shift="2025-05-02/jour")
    # History: a call that reached Dyade three days after the CAD received it, and one marked as a replay;
    # triage decided on both within seconds, but neither belongs in the live latency.
    late = base + timedelta(days=3)
    h.decision(h.call(late, location=f"l_{h.u}_late", ingest=timedelta(days=3)), late, 2, ingest=timedelta(days=3))
    h.decision(h.call(late, location=f"l_{h.u}_replay", source_system="cad-replay"), late, 3)
    missed_call = h.call(base + timedelta(hours=5), category="suicidaire", nature="1056")
    h.alert("a4", "created", base + timedelta(hours=5, seconds=30), dyad=d2, call_id=missed_call)
    h.alert("a4", "missed_for_capacity", base + timedelta(hours=5, seconds=31), dyad=d2, call_id=missed_call)
    h.alert("s1", "created", base + timedelta(days=1), kind="suivi", dyad=d1)
    h.alert("s1", "acknowledged", base + timedelta(days=1, hours=1), kind="suivi", dyad=d1, shift="2025-05-03/jour")
    h.alert("s2", "created", base + timedelta(days=1), kind="suivi", dyad=d1)
    finals = ["transport_volontaire"] * 3 + ["transport_p38", "regle_sur_place", "regle_sur_place", "arrestation"]
    for k, disposition in enumerate(finals):
        at = base + timedelta(days=2, hours=k)
        cid = h.call(at, category="detresse", nature="DIST")
        if k == 4:  # an earlier disposition, superseded
            h.update(cid, at + timedelta(minutes=20), disposition="autre")
        h.update(cid, at + timedelta(minutes=40), disposition=disposition)


# --- independent oracles for the calendar figures -----------------------------------------------------------
def oracle_weekly(h: History, categories=None) -> dict[str, Counter]:
    out: dict[str, Counter] = defaultdict(Counter)
    for c in h.calls:
        if categories and c["category"] not in categories:
            continue
        local = c["at"].astimezone(MTL).date()
        out[(local - timedelta(days=local.weekday())).isoformat()][c["category"]] += 1
    return out


def oracle_grandes_utilisatrices(h: History, threshold: int = 5, days: int = 90) -> dict[str, tuple[int, int, int]]:
    """month → (grandes utilisatrices, their calls in the month, calls in the month), by brute force;
    persons are counted on crisis calls only."""
    crisis = {"etat_mental_perturbe", "suicidaire", "detresse", "bien_etre", "violence_conjugale_familiale"}
    out = {}
    months = sorted({c["at"].astimezone(MTL).strftime("%Y-%m") for c in h.calls})
    for m in months:
        y, mo = int(m[:4]), int(m[5:])
        end = datetime(y + (mo == 12), 1 if mo == 12 else mo + 1, 1, tzinfo=MTL)
        start = end - timedelta(days=days)
        per = Counter(k for c in h.calls if start <= c["at"] < end and c["category"] in crisis for k in c["counted"])
        gu = {k for k, n in per.items() if n >= threshold}
        month_calls = [c for c in h.calls if c["at"].astimezone(MTL).strftime("%Y-%m") == m]
        out[m] = (len(gu), sum(1 for c in month_calls if c["counted"] & gu), len(month_calls))
    return out


def oracle_repeat_trend(h: History, days: int = 30) -> dict[str, tuple[int, int]]:
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for c in h.calls:
        m = c["at"].astimezone(MTL).strftime("%Y-%m")
        out[m][0] += 1
        if any(o is not c and k in o["counted"] and c["at"] - timedelta(days=days) <= o["at"] < c["at"]
               for k in c["counted"] for o in h.calls):
            out[m][1] += 1
    return {m: tuple(v) for m, v in out.items()}


def new_unique() -> str:
    return uuid.uuid4().hex[:8]
