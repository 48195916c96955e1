"""`dyade demo`: the live demonstration that `dyade up` starts once the services are ready.

1. Seeds a roster: one dyad per sector (D1 for S1...), on duty around the clock (a day shift 06–18 and
   a night shift 18–06) so that alerts reach a dyad whatever the hour of the demo.
2. Replays a recent history of the demo city (crisis calls of the last weeks, their dispositions and
   the social referrals), so that recurrence exists and the dashboard has figures from the first minute.
3. Writes and approves (two different social workers) a fiche Info-social for the top high utilisers.
4. Streams live calls at a gentle rate about the same population; a high utiliser with a frame calls
   again within the first seconds, others follow. Updates (dispatched, on scene, cleared) come when due.

Every step waits for its service (retries with backoff, logged) and never stops the others; nothing
here ends `dyade up`.
"""
from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone

from dyade.auth import issue_token, max_token_hours
from dyade.contracts.vocabulary import CallCategory
from dyade.settings import Settings
from dyade.simulation.calls import TZ, CallFactory, local_iso
from dyade.simulation.demo_seed import dyad_roster, frame_for
from dyade.simulation.intake_client import HttpSink, ServiceClient, Unavailable, reason_of
from dyade.simulation.population import Person
from dyade.simulation.profiles import NATURE_BY_KEY, NATURE_OF_CODE, NATURES, PROFILES
from dyade.simulation.simulation import Knobs, Record, Simulation

log = logging.getLogger("dyade.demo")
POPULATION_REFERENCE = date(2026, 1, 1)  # fixed, so the demo's persons are the same every day
HISTORY_CATEGORIES = {c for c in CallCategory if c.is_crisis}


@dataclass
class DemoOptions:
    rate: float = 0.5
    seed: int = 7
    history_days: int = 45
    frames: int = 3
    banner_path: str | None = None


class Demo:
    def __init__(self, settings: Settings, options: DemoOptions, stop: threading.Event | None = None):
        self.settings, self.options = settings, options
        self.stop = stop or threading.Event()
        self.secret = settings.secret("dyade_token_secret")
        today = datetime.now(TZ).date()
        knobs = Knobs(PROFILES["demo"], seed=options.seed, start=today - timedelta(days=options.history_days),
                      days=options.history_days, prefix=f"DEMO-H{today:%m%d}", intervention_share=0.5)
        self.sim = Simulation(replace(knobs, population_reference=POPULATION_REFERENCE))
        persons = self.sim.population.persons
        self.featured: list[Person] = sorted((p for p in persons if p.kind in ("extreme", "cohort")),
                                             key=lambda p: -p.rate_per_year)[: options.frames]
        self.history_done = threading.Event()
        self.stats = {"calls": 0, "updates": 0, "rejected": 0}
        self.live_stream: LiveCalls | None = None

    # --- clients ----------------------------------------------------------------------------------------
    def token(self, role: str, subject: str, **claims) -> str:
        """A token for a named demo person or system, as long as the configuration allows (DYADE_TOKEN_MAX_HOURS:
        12 h for a person by default; `dyade token ROLE --subject NOM` makes a new one)."""
        limit = max_token_hours(role, self.settings) * 3600
        return issue_token(self.secret, subject=subject, role=role, ttl_s=min(7 * 24 * 3600, limit),
                           max_ttl_s=limit, **claims)

    def client(self, service: str) -> ServiceClient:
        return ServiceClient(self.settings.url_of(service), lambda role, subject: self.token(role, subject),
                             attempts=None, name=service, stop=self.stop.is_set, wait=self.stop.wait)

    def wait_for_history(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.stop.is_set() and time.monotonic() < deadline and not self.history_done.wait(0.5):
            pass

    # --- the banner -------------------------------------------------------------------------------------
    def banner(self) -> str:
        """What to open, with the tokens: the field app takes a token on its login page (/connexion);
        the dashboard and Info-social also accept it in the address (?access_token=)."""
        s = self.settings
        sectors = self.sim.population.city.sectors
        first = self.featured[0].home.sector if self.featured else sectors[0]
        order = [first] + [x for x in sectors if x != first]
        field = s.url_of("notifier")
        lines = ["=== Démo Dyade: quoi ouvrir ===",
                 f"Application terrain: {field}/connexion — coller le jeton de la dyade. La dyade D{first[1:]} "
                 f"(secteur {first}) couvre le domicile de la personne suivie qui rappelle dans la première minute."]
        for sector in order:
            d = "D" + sector[1:]
            lines.append(f"  jeton dyade {d} ({sector}): {self.token('dyad', f'membre-{d}', dyad_id=d, sector=sector)}")
        admin = self.token("admin", "admin-demo")
        worker = self.token("social_worker", "intervenante-demo-1")
        supervisor = self.token("supervisor", "superviseur-demo")
        lines += [
            f"Tableau de bord (admin): {s.url_of('analytics')}/?access_token={admin}",
            f"Info-social (intervenante): {s.url_of('infosocial')}/?access_token={worker}",
            f"Superviseur (toutes les alertes): {field}/connexion — jeton: {supervisor}",
            f"API d'intake (docs): {s.url_of('intake')}/docs",
            f"Flux: {self.options.rate} appel(s)/s, ville « {self.sim.knobs.profile.name} », {len(sectors)} secteurs, "
            f"dyades D1..D{len(sectors)} de garde 24 h/24 pour la démo; {len(self.featured)} fiches Info-social.",
            f"Ces jetons valent {s.dyade_token_max_hours} h (DYADE_TOKEN_MAX_HOURS). Autres jetons: "
            "`dyade token dyad --dyad D2 --sector S2 --subject membre-D2`, `dyade token admin --subject NOM`...",
        ]
        return "\n".join(lines)

    # --- seeding ----------------------------------------------------------------------------------------
    def seed_roster(self) -> None:
        notifier = self.client("notifier")
        for dyad_id, body in dyad_roster(self.sim.population.city.sectors):
            try:
                r = notifier.request("PUT", f"/v1/dyads/{dyad_id}", "supervisor", json=body, subject="superviseur-demo")
            except Unavailable:
                return
            if r.status_code < 300:
                log.info("dyade %s (%s) au roster, de garde 24 h/24", dyad_id, body["sector"])
            else:
                log.error("roster: la dyade %s est refusée par le notifier: %s", dyad_id, reason_of(r))

    @property
    def state_path(self):
        return self.settings.dyade_home / "demo-state.json"

    def replay_history(self) -> None:
        """The last weeks' crisis calls (in batches), then their dispositions, then the referrals. Once per
        Dyade home: a later `dyade up` keeps what the database already holds (delete demo-state.json to
        replay it again)."""
        done = self._state().get("history")
        if done and done.get("seed") == self.options.seed:
            log.info("historique déjà rejoué le %s (voir %s); rien à refaire", done.get("at"), self.state_path)
            self.history_done.set()
            return
        calls, updates, referrals = [], [], []
        cutoff = datetime.now(timezone.utc) - timedelta(minutes=1)
        kept: set[str] = set()
        for rec in self.sim.stream():
            if rec.at > cutoff:
                continue
            if rec.kind == "call" and NATURE_OF_CODE[rec.body["nature_code"]].category in HISTORY_CATEGORIES:
                kept.add(rec.call_id)
                calls.append(rec)
            elif rec.kind == "update" and rec.call_id in kept and rec.body["status"] == "cleared":
                updates.append(rec)
            elif rec.kind == "referral":
                referrals.append(rec)
        sink = HttpSink(self.client("intake"), batch=200)
        try:
            for rec in calls + updates + referrals:
                if self.stop.is_set():
                    return
                sink.send(rec)
            sink.close()
        except Unavailable:
            return
        c = sink.counts
        self._save_state(history={"seed": self.options.seed, "at": datetime.now(TZ).isoformat(timespec="seconds"),
                                  "days": self.options.history_days, "calls": c.calls})
        log.info("historique de %d jours rejoué: %d appels de crise, %d dispositions, %d références (%d refus)",
                 self.options.history_days, c.calls, c.updates, c.referrals, c.rejected)
        for reason, n in list(c.reasons.items())[:5]:
            log.warning("  refus ×%d: %s", n, reason)
        self.history_done.set()

    def _state(self) -> dict:
        try:
            return json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _save_state(self, **values) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        self.state_path.write_text(json.dumps({**self._state(), **values}, ensure_ascii=False), encoding="utf-8")

    def seed_frames(self) -> None:
        self.wait_for_history(120)
        intake, infosocial = self.client("intake"), self.client("infosocial")
        for person in self.featured:
            try:
                self._frame(intake, infosocial, person)
            except Unavailable:
                return
            except Exception:  # one person's frame must not stop the demo
                log.exception("fiche de démonstration non créée pour %s", person.person_id)

    def _frame(self, intake: ServiceClient, infosocial: ServiceClient, person: Person) -> None:
        r = intake.request("POST", "/v1/persons/resolve", "social_worker", json={**person.canonical, "role": "sujet"},
                           subject="intervenante-demo-1")
        if r.status_code >= 300:
            log.error("résolution refusée par intake: %s", reason_of(r))
            return
        key = r.json()["person_key"]
        existing = infosocial.request("GET", f"/v1/persons/{key}/frame", "social_worker", subject="intervenante-demo-1")
        if existing.status_code == 200:
            log.info("fiche déjà active pour %s (%s)", person.person_id, key)
            return
        w = infosocial.request("POST", "/v1/frames", "social_worker", json=frame_for(person, key),
                               subject="intervenante-demo-1")
        if w.status_code == 409:  # a version waits for approval (an earlier demo run): approve it
            pending = infosocial.request("GET", "/v1/frames?pending=true", "social_worker", subject="intervenante-demo-2")
            frame_id = next((f["frame_id"] for f in pending.json() if f.get("person_key") == key), None) \
                if pending.status_code == 200 else None
        elif w.status_code < 300:
            frame_id = w.json()["frame_id"]
        else:
            log.error("fiche refusée par info-social: %s", reason_of(w))
            return
        if frame_id is None:
            log.error("fiche en attente introuvable pour %s", key)
            return
        a = infosocial.request("POST", f"/v1/frames/{frame_id}/approve", "social_worker", json={},
                               subject="intervenante-demo-2")
        if a.status_code < 300:
            log.info("fiche Info-social %s approuvée pour la personne %s (%s)", frame_id, key, person.kind)
        else:
            log.error("approbation refusée par info-social: %s", reason_of(a))

    # --- the live stream --------------------------------------------------------------------------------
    def live(self) -> None:
        self.wait_for_history(90)
        if self.stop.is_set():
            return
        intake = self.client("intake")
        sink = HttpSink(intake, batch=1)
        stream = self.live_stream = LiveCalls(self.sim, self.featured,
                                              random.Random(f"{self.options.seed}:live:{time.time_ns()}"),
                                              rate=self.options.rate)
        log.info("flux en direct: %.2f appel(s)/s", self.options.rate)
        while not self.stop.is_set():
            try:
                for rec in stream.due(datetime.now(timezone.utc)):
                    sink.send(rec)
                self.stats.update(calls=sink.counts.calls, updates=sink.counts.updates, rejected=sink.counts.rejected)
                if sink.counts.calls and sink.counts.calls % 20 == 0 and stream.last_logged != sink.counts.calls:
                    stream.last_logged = sink.counts.calls
                    log.info("flux: %d appels, %d mises à jour envoyés, %d refus", sink.counts.calls,
                             sink.counts.updates, sink.counts.rejected)
            except Unavailable:
                return
            except Exception:  # never crash `dyade up`: log, wait, go on
                log.exception("erreur du flux de démonstration; reprise dans 5 s")
                self.stop.wait(5)
            self.stop.wait(max(0.05, min(1.0, stream.seconds_to_next())))

    def run(self) -> None:
        text = self.banner()
        for line in text.splitlines():
            log.info(line)
        if self.options.banner_path:  # it holds tokens: readable by its owner only
            fd = os.open(self.options.banner_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
        threads = [threading.Thread(target=self._guard(f), name=f.__name__, daemon=True)
                   for f in (self.seed_roster, self.replay_history, self.seed_frames)]
        for t in threads:
            t.start()
        self._guard(self.live)()

    def _guard(self, fn):
        def run():
            try:
                fn()
            except Exception:
                log.exception("étape %s de la démo en échec (la démo continue)", fn.__name__)
                if fn.__name__ == "replay_history":
                    self.history_done.set()
        run.__name__ = fn.__name__
        return run


class LiveCalls:
    """Calls happening now about the demo city: a third about its known repeat callers (those with a
    frame more often), the rest crisis calls about strangers and ordinary police calls. The featured
    persons come back early: the 2nd call, the 6th and the 12th."""

    EARLY = {1: 0, 5: 1, 11: 2}

    def __init__(self, sim: Simulation, featured: list[Person], rng: random.Random, *, rate: float):
        self.sim, self.featured, self.rng, self.rate = sim, featured, rng, max(rate, 0.01)
        self.factory: CallFactory = sim.factory
        self.run_id = datetime.now(TZ).strftime("%Y%m%d%H%M%S")
        self.index = 0
        self.next_at = datetime.now(timezone.utc) + timedelta(seconds=2)
        self.pending: list[tuple[datetime, Record]] = []
        self.last_logged = 0
        self.repeaters = list(sim.population.persons)
        self.weights = [p.rate_per_year * (3 if p in featured else 1) for p in self.repeaters]
        self.other = [n for n in NATURES if not n.is_crisis]
        self.crisis = [n for n in NATURES if n.is_crisis]

    def seconds_to_next(self) -> float:
        now = datetime.now(timezone.utc)
        soonest = min([self.next_at] + [at for at, _ in self.pending])
        return (soonest - now).total_seconds()

    def due(self, now: datetime) -> list[Record]:
        out = []
        if now >= self.next_at:
            out.append(self._call(now))
            gap = self.rng.expovariate(self.rate)
            self.next_at = now + timedelta(seconds=min(max(gap, 0.2 / self.rate), 3 / self.rate))
        ready = [r for at, r in self.pending if at <= now]
        self.pending = [(at, r) for at, r in self.pending if at > now]
        return out + ready

    def _call(self, now: datetime) -> Record:
        rng, i = self.rng, self.index
        self.index += 1
        when = (now - timedelta(seconds=1)).astimezone(TZ)
        call_id = f"DEMO-{self.run_id}-{i + 1:05d}"
        person = None
        if i in self.EARLY and self.EARLY[i] < len(self.featured):
            person, nature = self.featured[self.EARLY[i]], NATURE_BY_KEY["EMP"]
        else:
            roll = rng.random()
            if roll < 0.33:
                person = rng.choices(self.repeaters, self.weights)[0]
                nature = NATURE_BY_KEY[rng.choices(("EMP", "SUI", "DET", "BE"), (70, 12, 9, 9))[0]]
            elif roll < 0.55:
                nature = rng.choices(self.crisis, [n.share for n in self.crisis])[0]
            else:
                nature = rng.choices(self.other, [n.share for n in self.other])[0]
        body = self.factory.call(rng, call_id, when, nature, person, known_dob=self.sim.known_dob)
        # No dyad id from the CAD: the dyad takes the alert in the field app (a CAD update naming a dyad would
        # acknowledge it in the notifier's place). Cleared a few minutes later, so alerts stay open to be seen.
        for at, update in self.factory.updates(rng, body, when, nature, dyad_id=None, followed=False):
            at = when + (at - when) / 4
            update["at"] = local_iso(at)
            self.pending.append((at.astimezone(timezone.utc) + timedelta(seconds=1),
                                 Record("update", at, update, call_id)))
        return Record("call", when, body, call_id, person.person_id if person else None)
