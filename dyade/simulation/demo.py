"""`dyade demo`: the live demonstration `dyade up` starts once the services are ready.

1. Seeds a roster: one dyad per sector (D1 for S1...), on duty around the clock (a day shift 06–18 and
   a night shift 18–06): the notifier reads shifts on the wall clock, which a fast city clock is not.
2. Replays the weeks before the live stream (history: calls, the dispositions of crisis calls, the
   referrals), so that recurrence exists and the dashboard has figures from the first minute.
3. Writes and approves (two different social workers) a fiche Info-social for the top high utilisers.
4. Streams the same city live, on its own clock (dyade/simulation/clock.py): at `--speed N` a quarter of
   program life plays in 91 days / N, then the city lives on in real time. The demo's dyads (field.py)
   take their alerts, go on the scene and close them with a disposition; the CAD clears the other calls.

What it sent and what the dyads did is written to DYADE_HOME/demo-verite.json (truth.demo_truth): the
figures the dashboard must show. Every step waits for its service (retries with backoff, logged) and never
stops the others; nothing here ends `dyade up`. A later run in the same DYADE_HOME resumes the same city
where the last one stopped (DYADE_HOME/demo-state.json).
"""
from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from dyade.auth import audience_for, issue_token, max_token_hours
from dyade.settings import Settings
from dyade.simulation.calls import TZ
from dyade.simulation.clock import HISTORY_GAP, QUARTER_DAYS, CityClock, lag_at_start, service_env
from dyade.simulation.demo_seed import dyad_roster, frame_for, sector_neighbours
from dyade.simulation.field import FieldBehaviour, FieldTeam
from dyade.simulation.intake_client import HttpSink, ServiceClient, Unavailable, reason_of
from dyade.simulation.live import CityStream, SentLog
from dyade.simulation.population import Person
from dyade.simulation.profiles import NATURE_OF_CODE, PROFILES
from dyade.simulation.simulation import Knobs, Record, Simulation
from dyade.clock import utcnow

log = logging.getLogger("dyade.demo")
POPULATION_REFERENCE = date(2026, 1, 1)  # fixed, so the demo's persons are the same every day
TAIL_DAYS = 400  # after catching up, the city goes on in real time for this long
OPENING_S = 10  # wall seconds between the featured persons' calls at the start of the live stream


@dataclass
class DemoOptions:
    speed: float = 720.0  # the city's clock runs this many times faster than the wall clock, until caught up
    days: float = QUARTER_DAYS  # city days played fast before the city's clock catches up with the wall clock
    seed: int = 7
    history_days: int = 30
    frames: int = 3
    banner_path: str | None = None
    calls_per_year: int | None = None  # the demo city's volume (default: PROFILES["demo"], 20 000)
    behaviour: FieldBehaviour = field(default_factory=FieldBehaviour)
    field_team: bool = True  # the demo's dyads take their alerts (False: leave them to people)
    poll_s: float = 0.5
    cad_floor_s: float = 30.0
    truth_every_s: float = 60.0
    live_seconds: float | None = None  # stop taking new calls after this long (a short run: tests, benchmarks)


class Demo:
    def __init__(self, settings: Settings, options: DemoOptions, stop: threading.Event | None = None):
        self.settings, self.options = settings, options
        self.stop = stop or threading.Event()
        self.secret = settings.secret("dyade_token_secret")
        now = utcnow()
        self.lag = lag_at_start(options.days, options.speed)
        state = self._state().get("city") or {}
        resume = state.get("seed") == options.seed and state.get("speed") == options.speed and state.get("until")
        if resume:
            first = date.fromisoformat(state["sim_start"])
            self.resume_from: datetime | None = max(datetime.fromisoformat(state["until"]), now - self.lag)
        else:
            first = (now - self.lag - timedelta(days=options.history_days)).astimezone(TZ).date()
            self.resume_from = None
        profile = PROFILES["demo"] if not options.calls_per_year else PROFILES["demo"].scaled(options.calls_per_year)
        days = (now.astimezone(TZ).date() - first).days + TAIL_DAYS
        knobs = Knobs(profile, seed=options.seed, start=first, days=days, prefix=f"DEMO{options.seed}-{first:%m%d}",
                      intervention_share=0.8, cad_dyads=False,
                      plan_days=(now.astimezone(TZ).date() - first).days + 1,
                      population_reference=POPULATION_REFERENCE)
        self.sim = Simulation(knobs)
        persons = self.sim.population.persons
        self.featured: list[Person] = sorted((p for p in persons if p.kind in ("extreme", "cohort")),
                                             key=lambda p: -p.rate_per_year)[: options.frames]
        if self.resume_from is None:  # the featured persons call back within the live stream's first minute
            opening = (now - self.lag) + timedelta(minutes=2)  # the live stream starts about then (city time)
            self.sim.bring_forward([p.person_id for p in self.featured], opening,
                                   timedelta(seconds=OPENING_S * max(1.0, options.speed)))
        self.records = self.sim.stream()
        self.first_live: Record | None = None
        self.sent = SentLog()
        self.history_done = threading.Event()
        self.stats = {"calls": 0, "updates": 0, "rejected": 0}
        self.clock: CityClock | None = None
        self.team: FieldTeam | None = None
        self.stream: CityStream | None = None
        self.started_at = now

    # --- clients ----------------------------------------------------------------------------------------
    def token(self, role: str, subject: str, **claims) -> str:
        """A token for a named demo person or system, as long as the configuration allows (DYADE_TOKEN_MAX_HOURS:
        12 h for a person by default; `dyade token ROLE --subject NOM` makes a new one)."""
        limit = max_token_hours(role, self.settings) * 3600
        return issue_token(self.secret, subject=subject, role=role, ttl_s=min(7 * 24 * 3600, limit),
                           max_ttl_s=limit, **claims)

    def client(self, service: str, *, attempts: int | None = None, **claims) -> ServiceClient:
        if claims:
            who = f"membre-{claims['dyad_id']}"
            return ServiceClient(self.settings.url_of(service), lambda role, subject: self.token(role, who, **claims),
                                 attempts=attempts, name=service, stop=self.stop.is_set, wait=self.stop.wait)
        return ServiceClient(self.settings.url_of(service), lambda role, subject: self.token(role, subject),
                             attempts=attempts, name=service, stop=self.stop.is_set, wait=self.stop.wait)

    def wait_for_history(self, timeout: float) -> None:
        deadline = utcnow() + timedelta(seconds=timeout)
        while not self.stop.is_set() and utcnow() < deadline and not self.history_done.wait(0.5):
            pass

    # --- the banner -------------------------------------------------------------------------------------
    def banner(self) -> str:
        """What to open, with the tokens: the field app takes a token on its login page (/connexion);
        the dashboard and Info-social have sign-in links (?access_token=, exchanged by the page for its
        cookie and taken out of the address), each token meant for its page only (its audience; Info-social's
        also for intake and triage, which it asks with the social worker's own token)."""
        s, o = self.settings, self.options
        sectors = self.sim.population.city.sectors
        first = self.featured[0].home.sector if self.featured else sectors[0]
        order = [first] + [x for x in sectors if x != first]
        field_url = s.url_of("notifier")
        lines = ["=== Démo Dyade: quoi ouvrir ===",
                 f"Application terrain: {field_url}/connexion — coller le jeton de la dyade. La dyade D{first[1:]} "
                 f"(secteur {first}) couvre le domicile de la personne suivie qui rappelle dans la première minute."]
        for sector in order:
            d = "D" + sector[1:]
            lines.append(f"  jeton dyade {d} ({sector}): {self.token('dyad', f'membre-{d}', dyad_id=d, sector=sector)}")
        admin = self.token("admin", "admin-demo", audience=audience_for("admin", ["analytics"]))
        worker = self.token("social_worker", "intervenante-demo-1",
                            audience=audience_for("social_worker", ["infosocial"]))
        supervisor = self.token("supervisor", "superviseur-demo")
        wall_minutes = self.lag.total_seconds() / max(1.0, o.speed - 1) / 60 if o.speed > 1 else 0
        pace = (f"horloge de la ville ×{o.speed:g}: {o.days:g} jours de programme en {wall_minutes:.0f} min, "
                f"puis en temps réel" if o.speed > 1 else "en temps réel")
        lines += [
            f"Tableau de bord (admin): {s.url_of('analytics')}/?access_token={admin}",
            f"Info-social (intervenante): {s.url_of('infosocial')}/?access_token={worker}",
            f"Superviseur (toutes les alertes): {field_url}/connexion — jeton: {supervisor}",
            f"API d'intake (docs): {s.url_of('intake')}/docs",
            f"Ville « {self.sim.knobs.profile.name} »: {self.sim.knobs.profile.calls_per_year} appels/an, "
            f"{self.sim.knobs.profile.followed_persons} personnes suivies, {len(sectors)} secteurs; {pace}.",
            f"Dyades D1..D{len(sectors)} de garde 24 h/24 pour la démo"
            + ("; elles prennent leurs alertes elles-mêmes (application terrain simulée)" if o.field_team else "")
            + f"; {len(self.featured)} fiches Info-social. Vérité terrain: {self.truth_path}",
            f"Ces jetons valent {s.dyade_token_max_hours} h (DYADE_TOKEN_MAX_HOURS). Autres jetons: "
            "`dyade token dyad --dyad D2 --sector S2 --subject membre-D2`, `dyade token admin --subject NOM`...",
        ]
        needed = service_env(o.speed, o.days)
        if needed:
            lines.append("Réglages attendus des services (posés par `dyade up --demo-speed`): "
                         + ", ".join(f"{k}={v}" for k, v in needed.items()))
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
        for sector, neighbours in sector_neighbours(self.sim.population.city.sectors).items():
            try:  # an alert no one takes in time goes on to the dyad of a neighbouring sector
                r = notifier.request("PUT", f"/v1/sectors/{sector}", "supervisor", json={"neighbours": neighbours},
                                     subject="superviseur-demo")
            except Unavailable:
                return
            if r.status_code >= 300:
                log.error("secteurs voisins de %s refusés par le notifier: %s", sector, reason_of(r))

    @property
    def state_path(self):
        return self.settings.dyade_home / "demo-state.json"

    @property
    def truth_path(self):
        return self.settings.dyade_home / "demo-verite.json"

    def replay_history(self) -> None:
        """The weeks before the live stream, in batches: every call, the dispositions of the crisis calls, the
        referrals. Older than the notifier's horizon when sent: they page no one, and analytics takes them
        for history. A resumed city (same DYADE_HOME, seed and speed) has its history already."""
        if self.resume_from is not None:
            log.info("la ville reprend au %s (voir %s): historique déjà rejoué",
                     self.resume_from.astimezone(TZ).isoformat(timespec="minutes"), self.state_path)
            self.history_done.set()
            return
        end = utcnow() - self.lag - HISTORY_GAP
        calls, updates, referrals = [], [], []
        codes: dict[str, str] = {}
        for rec in self.records:
            if rec.at >= end:
                self.first_live = rec
                break
            if rec.kind == "call":
                codes[rec.call_id] = rec.body["nature_code"]
                calls.append(rec)
            elif rec.kind == "update" and rec.call_id in codes and rec.body["status"] == "cleared" \
                    and NATURE_OF_CODE[codes[rec.call_id]].is_crisis:
                updates.append(rec)
            elif rec.kind == "referral":
                referrals.append(rec)
        sink = HttpSink(self.client("intake"), batch=200)
        try:
            for item in calls + updates + referrals:
                if self.stop.is_set():
                    return
                sink.send(item)
            sink.close()
        except Unavailable:
            return
        accepted = set(sink.accepted)
        for item in calls:
            if item.call_id in accepted:
                self.sent.add_call(item, "history")
        for item in updates:
            self.sent.cad_dispositions[item.call_id] = (item.body["at"], item.body["disposition"])
        self.sent.referrals += sink.counts.referrals
        self.sent.updates += sink.counts.updates
        self.sent.rejected += sink.counts.rejected
        c = sink.counts
        log.info("historique de %d jours rejoué: %d appels, %d dispositions, %d références (%d refus)",
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

    FRAME_RETRY_S = 10.0   # a person not known yet is looked up again (within intake's look-ups per minute)
    FRAME_PATIENCE_S = 300.0

    def seed_frames(self) -> None:
        """A frame for each featured person, once intake knows them: a look-up makes no key, and a featured
        person's first call may come only with the live stream (they call back in its first minute)."""
        self.wait_for_history(300)
        intake, infosocial = self.client("intake"), self.client("infosocial")
        pending, deadline = list(self.featured), time.monotonic() + self.FRAME_PATIENCE_S
        while pending and not self.stop.is_set():
            for person in list(pending):
                try:
                    if self._frame(intake, infosocial, person):
                        pending.remove(person)
                except Unavailable:
                    return
                except Exception:  # one person's frame must not stop the demo
                    log.exception("fiche de démonstration non créée pour %s", person.person_id)
                    pending.remove(person)
            if pending and time.monotonic() > deadline:
                log.warning("fiches de démonstration non créées: %d personne(s) toujours inconnue(s) d'intake",
                            len(pending))
                return
            if pending:
                self.stop.wait(self.FRAME_RETRY_S)

    def _frame(self, intake: ServiceClient, infosocial: ServiceClient, person: Person) -> bool:
        """False while intake does not know the person yet (to try again); True once done or given up."""
        r = intake.request("POST", "/v1/persons/resolve", "social_worker", json={**person.canonical, "role": "sujet"},
                           subject="intervenante-demo-1")
        if r.status_code == 404:  # a look-up makes no key: the person's calls are not accepted yet
            log.info("fiche de démonstration remise: %s pas encore connue d'intake", person.person_id)
            return False
        if r.status_code >= 300:
            log.error("résolution refusée par intake: %s", reason_of(r))
            return True
        key = r.json()["person_key"]
        existing = infosocial.request("GET", f"/v1/persons/{key}/frame", "social_worker", subject="intervenante-demo-1")
        if existing.status_code == 200:
            log.info("fiche déjà active pour %s (%s)", person.person_id, key)
            return True
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
            return True
        if frame_id is None:
            log.error("fiche en attente introuvable pour %s", key)
            return True
        a = infosocial.request("POST", f"/v1/frames/{frame_id}/approve", "social_worker", json={},
                               subject="intervenante-demo-2")
        if a.status_code < 300:
            log.info("fiche Info-social %s approuvée pour la personne %s (%s)", frame_id, key, person.kind)
        else:
            log.error("approbation refusée par info-social: %s", reason_of(a))
        return True

    # --- the live stream --------------------------------------------------------------------------------
    def start_live(self) -> CityStream:
        o = self.options
        self.clock = clock = CityClock.begin(speed=o.speed, days=o.days)
        if self.resume_from is not None and self.resume_from > clock.start:  # the city goes on where it stopped
            clock = self.clock = replace(clock, start=self.resume_from)
        records = self._from(self.first_live)
        if o.field_team:
            dyads = {"D" + s[1:]: self.client("notifier", attempts=4, dyad_id="D" + s[1:], sector=s)
                     for s in self.sim.population.city.sectors}
            self.team = FieldTeam(self.client("notifier"), dyads, self.client("intake", attempts=4), clock,
                                  o.behaviour, random.Random(f"{o.seed}:terrain"),
                                  stop=self.stop, poll_s=o.poll_s)
            threading.Thread(target=self.team.run, name="dyades-terrain", daemon=True).start()
        self.stream = CityStream(records, clock, HttpSink(self.client("intake"), batch=1), self.sent, team=self.team,
                                 floor_s=o.cad_floor_s)
        log.info("flux en direct: ville à %s (×%g jusqu'au %s, puis temps réel); %s",
                 clock.city().astimezone(TZ).isoformat(timespec="minutes"), clock.speed,
                 clock.caught_up_at.astimezone(TZ).isoformat(timespec="minutes"),
                 "dyades simulées sur le terrain" if self.team else "alertes laissées aux personnes")
        return self.stream

    def _from(self, first: Record | None):
        if first is not None:
            yield first
        yield from self.records

    def live(self) -> None:
        self.wait_for_history(600)
        if self.stop.is_set():
            return
        stream = self.start_live()
        assert self.clock is not None
        last_saved = last_logged = began = utcnow()
        while not self.stop.is_set():
            if self.options.live_seconds is not None and not stream.paused and \
                    (utcnow() - began).total_seconds() >= self.options.live_seconds:
                stream.paused = True
                log.info("fin du flux court: plus de nouveaux appels (%d envoyés)", len(self.sent.calls))
            try:
                wait = stream.step(self.clock.wall())
            except Unavailable:
                return
            except Exception:  # never crash `dyade up`: log, wait, go on
                log.exception("erreur du flux de démonstration; reprise dans 5 s")
                self.stop.wait(5)
                continue
            sink = stream.sink.counts
            self.stats.update(calls=len(self.sent.calls), updates=self.sent.updates, rejected=sink.rejected)
            now = utcnow()
            if (now - last_saved).total_seconds() >= self.options.truth_every_s:
                last_saved = now
                self.save()
            if (now - last_logged).total_seconds() >= 60:
                last_logged = now
                log.info("ville au %s: %d appels envoyés, %d alertes vues par les dyades, %d refus",
                         self.clock.city().astimezone(TZ).isoformat(timespec="minutes"), len(self.sent.calls),
                         len(self.team.stories) if self.team else 0, sink.rejected)
            self.stop.wait(max(0.02, wait))
        self.save()

    def settled(self) -> bool:
        """A paused stream whose last clears are sent and whose dyads have nothing left to do."""
        return bool(self.stream and self.stream.paused and not self.stream.gated
                    and (self.team is None or self.team.settled()))

    def truth(self) -> dict:
        from dyade.simulation.truth import demo_truth
        return demo_truth(self)

    def save(self) -> None:
        """The state to resume the city from, and the truth the dashboard is compared with."""
        if self.clock is None:
            return
        self._save_state(city={"seed": self.options.seed, "speed": self.options.speed,
                               "sim_start": self.sim.knobs.start.isoformat(),
                               "until": self.clock.city().isoformat()})
        try:
            fd = os.open(self.truth_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self.truth(), fh, ensure_ascii=False, indent=1)
        except OSError as exc:
            log.warning("vérité terrain non écrite (%s)", exc)

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
