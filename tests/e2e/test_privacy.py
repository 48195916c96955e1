"""Who a person is never leaves intake: a call, a raw CAD record, an EIDO incident, a referral, a
call update, an Info-social frame (her display name, a health element and a relative's phone, no consent) and
bad requests seeded with a recognisable name, birth date, phone number, e-mail, health-insurance number (NAM),
civic number and health words go all the way through the running platform (decided by triage, alerted by the
notifier, counted by analytics, queued at Info-social); then none of it may be found

- in any record of any topic of the broker (the contracts' topics, their dead-letter topics, triage's internal
  topics and changelogs), in its key, value or headers;
- in any log line of any service (every file of the platform's logs directory, and the broker's log);
- in any label of any service's Prometheus metrics;
- in any answer of the APIs outside intake's identity and narrative reads (and in no error body), the social
  workers' lists at Info-social included (a name is given by intake's audited read, not by a copy beside a frame).

What may be there, and why:

- Health words (« schizophrénie », « clozapine », « tentative de suicide ») only in the `summary` fields, the
  narrative once redacted (services/intake/domain/redaction.py): `calls.received.v2` and `triage.decided.v1`
  `payload.summary` (the dyad going to the call must know it is a suicide attempt by someone off her
  antipsychotic), `referrals.filed.v1` `payload.summary` (the social worker judges the referral on it), and the
  `summary` triage carries between its stages and keeps in its state (its internal topic and changelogs) to put it
  on the decision. Never in any other field, never in a header (a dead-letter reason included), never in a log
  line or a metric label. API answers are not searched for health words: the alert the dyad opens shows the
  summary, on purpose. A social worker's free-text note (a recurrence override) is no summary: triage does not
  need it, so nothing of it may be on an event.
- The block-level address ("4800 bloc rue des Érables"), never the civic number.
- `calls.raw.v1` is the CAD's own input (the raw call as the dispatch system produced it, names included), and
  `calls.raw.v1.dlq` keeps those original bytes for replay (dyade/consumer.py): their values are not searched;
  their keys and headers, the dead-letter reason above all, are.
- Intake's identity read (GET /v1/persons/{key}/identity) and narrative read, for a social worker: they are the
  one place the identity is given (audited), and the test checks they do give it, so a matcher that finds nothing
  cannot pass the rest.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families
from unidecode import unidecode

from dyade.contracts.topics import (
    ALERTS_CHANGED, CALLS_RAW, CALLS_RECEIVED, CALLS_UPDATED, FRAMES_CHANGED, FRAMES_CURRENT, REFERRALS_FILED,
    TRIAGE_DECIDED, TRIAGE_OVERRIDDEN, all_topic_names,
)
from dyade.kafka import make_producer, wait_until
from dyade.paths import EIDO_STANDARD
from tests.kit import TopicReader

ALWAYS = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "00:00"}]
SERVICES = ("intake", "triage", "infosocial", "notifier", "analytics")
MOIS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
        "novembre", "décembre")
HEALTH_WORDS = ("schizophrénie", "clozapine", "tentative de suicide")
# The summary fields where the redacted narrative, health words included, belongs (see the module's docstring).
SUMMARY_TOPICS = {CALLS_RECEIVED.name, REFERRALS_FILED.name, TRIAGE_DECIDED.name}
RAW_INPUT_TOPICS = {CALLS_RAW.name, CALLS_RAW.dlq_name}
OVERRIDE_TOPICS = {TRIAGE_OVERRIDDEN.name, TRIAGE_OVERRIDDEN.dlq_name}


def fold(text: str) -> str:
    """Accents and case do not matter: 'Schizophrénie' and 'SCHIZOPHRENIE' are the same word."""
    return unidecode(text).lower()


def letters(hex_digits: str) -> str:
    """Hex digits as letters g..v: a name's unique part that no hex id, key or token of the platform can hold."""
    return "".join("ghijklmnopqrstuv"[int(c, 16)] for c in hex_digits)


@dataclass
class Seed:
    """The recognisable data of one run; every string carries a part unique to the run."""
    u: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def __post_init__(self):
        n = int(self.u, 16)
        self.a, self.b = letters(self.u[:6]), letters(self.u[6:])
        self.first = f"Ghislaine{self.a}"
        self.last = f"Bergeron-{self.b.capitalize()}"
        self.birth = date(1950 + n % 40, 1 + (n >> 8) % 12, 2 + (n >> 16) % 27)
        self.phone_line = f"{(n >> 24) % 10_000:04d}"
        self.phone = f"819-555-{self.phone_line}"
        self.email = f"ghis.bergeron.{self.a}@exemple.qc.ca"
        nam_digits = f"{self.birth.year % 100:02d}{self.birth.month + 50:02d}"  # RAMQ: month + 50 for a woman
        self.nam_letters = "BERG"  # three letters of the last name, one of the first
        self.nam = f"{self.nam_letters} {nam_digits} {self.birth.day:02d}{n % 90 + 10:02d}"
        self.civic = 1001 + (n >> 32) % 8000
        if self.civic % 100 == 0:
            self.civic += 17
        self.home_civic = self.civic + 37 if (self.civic + 37) % 100 else self.civic + 38
        self.sector = f"P{self.u[:8]}"
        self.dyad_id = f"PRIV{self.u[:8]}"
        self.call_id, self.raw_call_id, self.referral_id = f"PRIV-{self.u}", f"PRIVRAW-{self.u}", f"PRIVREF-{self.u}"
        self.eido_id = f"urn:emergency:uid:incidentid:priv{self.u}:sq.qc.ca"

    # --- what the seed writes ---------------------------------------------------------------------------
    def dates(self) -> dict[str, str]:
        d, m, y = self.birth.day, self.birth.month, self.birth.year
        return {"iso": self.birth.isoformat(), "jj/mm/aaaa": f"{d:02d}/{m:02d}/{y}",
                "j/m/aaaa": f"{d}/{m}/{y}", "j mois aaaa": f"{d} {MOIS[m - 1]} {y}",
                "jj mois aaaa": f"{d:02d} {MOIS[m - 1]} {y}", "jj-mm-aaaa": f"{d:02d}-{m:02d}-{y}"}

    def person(self, role: str = "sujet") -> dict:
        return {"first_name": self.first, "last_name": self.last, "birth_date": self.birth.isoformat(), "role": role}

    def narrative(self) -> str:
        dates = self.dates()
        return (f"Appel de la sœur: {self.first} {self.last.upper()} (née le {dates['j mois aaaa']}, NAM {self.nam}) "
                f"a fait une tentative de suicide cette nuit; diagnostic de schizophrénie, ne prend plus sa clozapine "
                f"depuis deux semaines. Elle est au {self.home_civic} rue des Érables, app. 3. Rappeler au "
                f"{self.phone} ou écrire à {self.email}. DDN au dossier: {dates['jj/mm/aaaa']}; {self.first} "
                f"refuse d'ouvrir.")

    def referral_narrative(self) -> str:
        return (f"{self.first} {self.last}, DDN {self.birth.isoformat()}, connue pour une schizophrénie (clozapine), "
                f"tentative de suicide le mois dernier. Tél. ({self.phone[:3]}) {self.phone[4:]}, courriel "
                f"{self.email}, NAM {self.nam.replace(' ', '')}, vit au {self.home_civic} rue des Érables.")

    def override_note(self) -> str:
        return (f"Mme {self.last} est stabilisée sous clozapine (schizophrénie), suivie au CLSC; {self.first} "
                f"joignable au {self.phone}.")

    def call(self, call_id: str, **over) -> dict:
        body = {"call_id": call_id, "revision": 1,
                "received_at": (datetime.now(timezone.utc) - timedelta(seconds=5)).isoformat(),
                "nature_code": "SUIC", "priority": 1,
                "location": {"address": f"{self.civic} boulevard des Seigneurs", "sector": self.sector},
                "persons": [self.person()], "caller_relation": "famille",
                "flags": ["idees_suicidaires", "plan_suicidaire"], "narrative": self.narrative()}
        body.update(over)
        return body

    def eido(self) -> dict:
        doc = json.loads((EIDO_STANDARD / "sample-call-transfer.json").read_text())
        now = datetime.now(timezone.utc)
        doc["$id"] = self.eido_id
        doc["lastUpdateTimeStamp"] = now.isoformat()
        doc["callComponent"][0]["callStartTimestamp"] = (now - timedelta(seconds=5)).isoformat()
        doc["callbackComponent"][0]["callBackInformationUri"] = [f"tel:+1{self.phone.replace('-', '')}"]
        doc["incidentComponent"] = {"$id": "i1", "lastUpdateTimeStamp": now.isoformat(),
                                    "incidentTypeCommonRegistryText": "Police", "incidentTypeInternalCode": "SUIC"}
        comp = doc["locationComponent"][0]
        start, end = comp["locationByValue"].index("<country>"), comp["locationByValue"].index("</civicAddress>")
        comp["locationByValue"] = (comp["locationByValue"][:start]
                                   + f"<country>CA</country><A1>QC</A1><A3>Terrebonne</A3><STP>boulevard</STP>"
                                     f"<RD>des Seigneurs</RD><HNO>{self.civic}</HNO>"
                                   + comp["locationByValue"][end:])
        person = doc["personComponent"][0]
        person["personIncidentRoleRegistryText"] = ["Subject"]
        person["ncPersonComponent"] = {"name": [{"personGivenName": {"value": self.first}, "personSurName": self.last}],
                                       "birthDate": [{"date": [{"value": self.birth.isoformat()}]}]}
        doc["notesComponent"] = [{"$id": "n1", "notesActionComments":
                                  f"<p>{self.first} {self.last}, {self.dates()['jj/mm/aaaa']}: tentative de suicide, "
                                  f"schizophrénie connue; rappeler au {self.phone}</p>"}]
        return doc

    # --- what is searched -------------------------------------------------------------------------------
    def identity(self) -> dict[str, list[str]]:
        """What says who the person is, each with the spellings searched (folded)."""
        line, nam = self.phone_line, self.nam.split()
        found = {
            "prénom": [self.first, self.a],
            "nom": [self.b],  # the unique part: any case, hyphenated or not, is found
            "date de naissance": list(self.dates().values()),
            "téléphone": [f"555-{line}", f"555 {line}", f"555.{line}", f"819555{line}"],
            "courriel": [self.email, f"bergeron.{self.a}"],
            # not its 8 digits run together: a timestamp or a score may hold them by chance
            "NAM": [f"{nam[0]} {nam[1]}", f"{nam[0]}{nam[1]}", f"{nam[1]} {nam[2]}"],
            "numéro civique": [f"{n}{sep}{street}" for n in (self.civic, self.home_civic) for sep in (" ", ", ")
                               for street in ("rue", "boulevard", "boul")],
        }
        return {k: list(dict.fromkeys(fold(v) for v in vs)) for k, vs in found.items()}

    def health(self) -> dict[str, list[str]]:
        return {"santé": [fold(w) for w in HEALTH_WORDS]}

    def everything(self) -> dict[str, list[str]]:
        return {**self.identity(), **self.health()}


def found_in(text: str, searched: dict[str, list[str]]) -> list[str]:
    """The kinds of `searched` found in `text`, with the spelling found: ['prénom: ghislainekmpqrs']."""
    folded = fold(text)
    return [f"{kind}: {s}" for kind, spellings in searched.items() for s in spellings if s in folded]


def excerpt(text: str, spelling: str, width: int = 120) -> str:
    at = fold(text).find(spelling.split(": ", 1)[1])
    return text[max(0, at - width):at + width] if at >= 0 else text[:2 * width]


class Leaks:
    """Findings: where, what, and the text around it (so the failing assertion says exactly what leaks)."""

    def __init__(self):
        self.items: list[str] = []

    def check(self, where: str, text: str, searched: dict[str, list[str]]) -> None:
        for what in found_in(text, searched):
            self.items.append(f"{where}: {what} … {excerpt(text, what)!r}")

    def __bool__(self) -> bool:
        return bool(self.items)

    def report(self, title: str) -> str:
        return f"{title} ({len(self.items)}):\n" + "\n".join(self.items[:40])


# --- reading the whole broker ------------------------------------------------------------------------------


def all_records(bootstrap: str, timeout: float = 90) -> dict[str, list]:
    """Every record of every topic of the broker, from the beginning, without a consumer group."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="dyade-privacy-admin")
    try:
        names = sorted(admin.list_topics())
    finally:
        admin.close()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             client_id="dyade-privacy-reader", max_partition_fetch_bytes=8 * 1024 * 1024)
    try:
        partitions = [TopicPartition(name, p) for name in names
                      for p in sorted(wait_until(lambda n=name: consumer.partitions_for_topic(n), timeout=30))]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        ends = consumer.end_offsets(partitions)
        out: dict[str, list] = {name: [] for name in names}

        def caught_up() -> bool:
            for records in consumer.poll(timeout_ms=500, max_records=5000).values():
                for r in records:
                    out[r.topic].append(r)
            return all(consumer.position(tp) >= end for tp, end in ends.items())
        wait_until(caught_up, timeout=timeout, interval=0)
        return out
    finally:
        consumer.close()


def _without_summaries(value):
    if isinstance(value, dict):
        return {k: _without_summaries(v) for k, v in value.items() if k != "summary"}
    if isinstance(value, list):
        return [_without_summaries(v) for v in value]
    if isinstance(value, str) and value[:1] in "{[":
        try:  # triage keeps its decisions as JSON text inside its state
            return _without_summaries(json.loads(value))
        except ValueError:
            return value
    return value


def as_text(raw: bytes | None, *, drop_summaries: bool = False) -> str:
    """A record's bytes as text (JSON re-dumped without escapes, so 'é' is searched as 'é')."""
    if raw is None:
        return ""
    text = raw.decode("utf-8", "replace")
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    return json.dumps(_without_summaries(parsed) if drop_summaries else parsed, ensure_ascii=False)


def summary_allowed(topic: str) -> bool:
    """A contract topic whose events carry the redacted narrative, its dead letters, or one of triage's own
    (internal, changelog) topics, which carry the call's summary to the decision."""
    base = topic.removesuffix(".dlq")
    return base in SUMMARY_TOPICS or topic not in set(all_topic_names())


# --- the seeded platform -------------------------------------------------------------------------------------


@dataclass
class Seeded:
    seed: Seed
    person_key: str
    alert_id: str
    answers: list[tuple[str, int, str]]     # (what, status, body) of every answer the seeding got


def _get(http: httpx.Client, url: str, headers: dict, **params):
    r = http.get(url, headers=headers, params=params)
    return r.json() if r.status_code == 200 else None


@pytest.fixture(scope="module")
def http():
    with httpx.Client(timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def seeded(platform, headers_for, broker, http) -> Seeded:
    s = Seed()
    url = platform.settings.url_of
    dispatch, sw = headers_for("dispatch", subject="rao-privacy"), headers_for("social_worker", subject="sw-privacy")
    dyad = headers_for("dyad", subject="agente-privacy", dyad_id=s.dyad_id, sector=s.sector)
    answers: list[tuple[str, int, str]] = []

    def keep(what: str, r: httpx.Response, *expected: int) -> httpx.Response:
        answers.append((what, r.status_code, r.text))
        assert r.status_code in expected, f"{what}: {r.status_code} {r.text[:300]}"
        return r

    keep("PUT notifier /v1/dyads", http.put(f"{url('notifier')}/v1/dyads/{s.dyad_id}", headers=headers_for("supervisor"),
         json={"name": "Dyade vie privée", "sector": s.sector, "shifts": ALWAYS,
               "members": [{"name": "Agente Roy", "role": "policier"}, {"name": "Marc Côté", "role": "intervenant"}]}),
         200, 201)

    # a referral about her, by an officer: intake keys her
    person_key = keep("POST intake /v1/referrals", http.post(f"{url('intake')}/v1/referrals",
                      headers=headers_for("officer", subject="matricule-4521"), json={
                          "referral_id": s.referral_id, "referrer_type": "policier", "referrer_id": "4521",
                          "person": s.person(), "clientele": ["etat_mental_perturbe"],
                          "criteria": ["recurrence", "dangerosite_imminente"],
                          "narrative": s.referral_narrative()}), 202).json()["person_key"]

    # a frame about her, written and approved before the call (the alert then carries its police view): her name
    # as the social workers display it, a health element and a relative's phone, all without consent
    frame = keep("POST infosocial /v1/frames", http.post(f"{url('infosocial')}/v1/frames", headers=sw, json={
        "person_key": person_key, "display_name": f"{s.first} {s.last}",
        "particularites": "Schizophrénie traitée par clozapine; tentative de suicide l'an dernier.",
        "interventions_a_privilegier": [{"text": "Parler calmement, une seule personne à la porte",
                                         "source": "police"}],
        "contacts": [{"name": "Sa sœur", "role": "proche", "phone": s.phone}],
        "consent": {"status": "non_demande"}}), 201).json()
    keep("POST infosocial approve", http.post(f"{url('infosocial')}/v1/frames/{frame['frame_id']}/approve",
                                              headers=headers_for("social_worker", subject="sw-privacy-2")), 200)
    wait_until(lambda: (_get(http, f"{url('triage')}/v1/persons/{person_key}/triage", dispatch) or {})
               .get("fiche", {}).get("active"), timeout=90, interval=0.5)

    # the call, over HTTP; the same person from the CAD's raw topic; an EIDO incident about her
    accepted = keep("POST intake /v1/calls", http.post(f"{url('intake')}/v1/calls", headers=dispatch,
                                                       json=s.call(s.call_id)), 202).json()
    assert accepted["persons"][0]["person_key"] == person_key, accepted
    producer = make_producer(broker.bootstrap_servers)
    raw_bad = {
        "sans-heure": json.dumps({k: v for k, v in s.call(f"PRIVBAD-{s.u}").items() if k != "received_at"}),
        "date-a-la-francaise": json.dumps(s.call(f"PRIVDDN-{s.u}", persons=[
            {**s.person(), "birth_date": s.dates()["jj/mm/aaaa"]}])),
        "pas-du-json": f'{{"appel": {s.first} {s.last}, née le {s.dates()["j mois aaaa"]}, {s.phone}, schizophrénie}}',
        "nom-trop-long": json.dumps(s.call(f"PRIVLONG-{s.u}", persons=[
            {**s.person(), "last_name": f"{s.last} " * 12}])),
    }
    producer.send(CALLS_RAW.name, key=s.raw_call_id.encode(), value=json.dumps(s.call(s.raw_call_id)).encode())
    for name, value in raw_bad.items():
        producer.send(CALLS_RAW.name, key=f"{name}-{s.u}".encode(), value=value.encode())
    producer.flush()
    producer.close()
    keep("POST intake /v1/eido", http.post(f"{url('intake')}/v1/eido", headers=dispatch, json=s.eido()), 202)

    wait_until(lambda: _get(http, f"{url('triage')}/v1/calls/{s.call_id}/decision", dispatch), timeout=90,
               interval=0.5)
    wait_until(lambda: _get(http, f"{url('triage')}/v1/calls/{s.raw_call_id}/decision", dispatch), timeout=90,
               interval=0.5)
    wait_until(lambda: _get(http, f"{url('triage')}/v1/calls/{s.eido_id}/decision", dispatch), timeout=90,
               interval=0.5)
    alerts = wait_until(lambda: [a for a in (_get(http, f"{url('notifier')}/v1/alerts", dyad) or {}).get("alerts", [])
                                 if a.get("call_id") in (s.call_id, s.raw_call_id)], timeout=90, interval=0.5)
    alert_id = alerts[0]["alert_id"]
    keep("POST notifier acknowledge", http.post(f"{url('notifier')}/v1/alerts/{alert_id}/acknowledge", headers=dyad),
         200)

    # the call is cleared by the dyad: the update reaches triage, the notifier and analytics
    keep("POST intake updates", http.post(f"{url('intake')}/v1/calls/{s.call_id}/updates", headers=dispatch, json={
        "status": "cleared", "at": datetime.now(timezone.utc).isoformat(), "disposition": "transport_volontaire",
        "dyad_id": s.dyad_id}), 202)

    # a social worker sets her recurrence aside, with a note as one writes it (triage honours the override)
    keep("POST infosocial recurrence-override", http.post(
        f"{url('infosocial')}/v1/persons/{person_key}/recurrence-override", headers=sw,
        json={"recurrent": False, "note": s.override_note()}), 201)
    wait_until(lambda: (_get(http, f"{url('triage')}/v1/persons/{person_key}/triage", dispatch) or {})
               .get("derogation"), timeout=90, interval=0.5)

    # bad requests that carry who she is: refused, without the value in the answer
    bad_dob = {**s.person(), "birth_date": s.dates()["jj/mm/aaaa"]}
    refusals = [
        ("POST intake /v1/calls (date de naissance jj/mm/aaaa)", "intake", "/v1/calls", dispatch,
         s.call(f"PRIVR1-{s.u}", persons=[bad_dob]), 422),
        ("POST intake /v1/calls (champ inconnu)", "intake", "/v1/calls", dispatch,
         s.call(f"PRIVR2-{s.u}", persons=[{**s.person(), "nom_complet": f"{s.first} {s.last} {s.phone}"}]), 422),
        ("POST intake /v1/calls (prénom seul)", "intake", "/v1/calls", dispatch,
         s.call(f"PRIVR3-{s.u}", persons=[{"first_name": s.first, "role": "sujet"}]), 422),
        ("POST intake /v1/calls (nom trop long)", "intake", "/v1/calls", dispatch,
         s.call(f"PRIVR4-{s.u}", persons=[{**s.person(), "last_name": f"{s.last} " * 12}]), 422),
        ("POST intake /v1/calls (récit trop long)", "intake", "/v1/calls", dispatch,
         s.call(f"PRIVR5-{s.u}", narrative=s.narrative() * 11), 422),
        ("POST intake /v1/calls (priorité)", "intake", "/v1/calls", dispatch,
         s.call(f"PRIVR6-{s.u}", priority=f"{s.last} {s.phone}"), 422),
        ("POST intake /v1/calls (même révision, autre contenu)", "intake", "/v1/calls", dispatch,
         s.call(s.call_id, narrative=f"{s.first} {s.last} rappelle du {s.phone}"), 409),
        ("POST intake /v1/calls:batch (date de naissance)", "intake", "/v1/calls:batch", dispatch,
         {"calls": [s.call(f"PRIVR7-{s.u}", persons=[bad_dob])]}, 200),
        ("POST intake /v1/referrals (sans critère)", "intake", "/v1/referrals",
         headers_for("officer", subject="matricule-4521"),
         {"referrer_type": "policier", "referrer_id": "4521", "person": s.person(), "criteria": [],
          "narrative": s.referral_narrative()}, 422),
        ("POST intake /v1/persons/resolve (date)", "intake", "/v1/persons/resolve", sw,
         {"first_name": s.first, "last_name": s.last, "birth_date": s.dates()["j mois aaaa"]}, 422),
        ("POST intake /v1/eido (nom de famille seul)", "intake", "/v1/eido", dispatch,
         _eido_surname_only(s), 422),
        ("POST intake updates (statut)", "intake", f"/v1/calls/{s.call_id}/updates", dispatch,
         {"status": s.last, "at": datetime.now(timezone.utc).isoformat()}, 422),
        ("POST infosocial /v1/persons/search (date)", "infosocial", "/v1/persons/search", sw,
         {"last_name": s.last, "first_name": s.first, "birth_date": s.dates()["jj/mm/aaaa"]}, 422),
    ]
    for what, service, path, headers, body, status in refusals:
        keep(what, http.post(f"{url(service)}{path}", headers=headers, json=body), status)
    # a name in a path that matches no route: no metric label, no log line may hold it
    keep("GET intake (chemin inconnu)", http.get(f"{url('intake')}/v1/personnes/{s.last}", headers=dispatch), 404)

    # everything has gone through: the referral is queued, the call, its alert and its disposition counted
    wait_until(lambda: _get(http, f"{url('infosocial')}/v1/referrals", sw, person_key=person_key), timeout=90,
               interval=0.5)
    analyst = headers_for("analyst", subject="analyste-privacy")
    wait_until(lambda: ((_get(http, f"{url('analytics')}/v1/figures/overview", analyst, sector=s.sector) or {})
                        .get("calls", 0) >= 2), timeout=90, interval=0.5)
    wait_until(lambda: any(d["dyad_id"] == s.dyad_id and d["acknowledged"] >= 1 for d in
                           (_get(http, f"{url('analytics')}/v1/figures/dyads", analyst) or {}).get("dyads", [])),
               timeout=90, interval=0.5)
    wait_until(lambda: "transport_volontaire" in json.dumps(
        _get(http, f"{url('analytics')}/v1/figures/dispositions", analyst, sector=s.sector) or {}), timeout=90,
        interval=0.5)
    dlq = TopicReader(broker.bootstrap_servers, CALLS_RAW.dlq_name)
    try:
        dlq.wait_for_records(lambda r: (r.key or b"").decode().endswith(s.u), len(raw_bad), timeout=90)
    finally:
        dlq.close()
    return Seeded(seed=s, person_key=person_key, alert_id=alert_id,
                  answers=answers)


def _eido_surname_only(s: Seed) -> dict:
    doc = s.eido()
    doc["$id"] = f"urn:emergency:uid:incidentid:privbad{s.u}:sq.qc.ca"
    doc["personComponent"][0]["ncPersonComponent"] = {"name": [{"personSurName": s.last}]}
    return doc


# --- what the platform answers, read before the broker, the logs and the metrics are searched ----------------


@dataclass
class Answer:
    what: str
    status: int
    text: str


@dataclass
class Reads:
    apis: list[Answer]          # every read outside intake's identity and narrative reads
    lists: list[Answer]         # Info-social's frame list and caseload, for a social worker
    identity: Answer            # intake's identity read, for a social worker
    narrative: Answer           # intake's narrative read, for a social worker
    identity_refused: list[Answer]


def _stream_until(http: httpx.Client, url: str, headers: dict, call_id: str, timeout: float = 30) -> Answer:
    """The field app's live stream from the beginning, until the call's alert went by."""
    got, status = [], 0
    try:
        with http.stream("GET", url, headers=headers, params={"cursor": 0}, timeout=timeout) as r:
            status = r.status_code
            for line in r.iter_lines():
                got.append(line)
                if line.startswith("data:") and call_id in line:
                    break
    except httpx.ReadTimeout:
        got.append(f"(l'alerte de {call_id} n'est pas passée dans le flux en {timeout:g} s)")
    text = "\n".join(got)
    return Answer("notifier GET /v1/stream", status if call_id in text else 0, text)


@pytest.fixture(scope="module")
def reads(seeded, platform, headers_for, http) -> Reads:
    """Everything is read once, here, so that what a read sets off (audits, the register of communications, log
    lines, metrics) is on the broker and in the logs when they are searched."""
    s, key = seeded.seed, seeded.person_key
    url = platform.settings.url_of
    dispatch, sw = headers_for("dispatch", subject="rao-privacy"), headers_for("social_worker", subject="sw-privacy")
    supervisor, analyst = headers_for("supervisor", subject="chef-privacy"), headers_for("analyst", subject="analyste")
    officer, admin = headers_for("officer", subject="matricule-4521"), headers_for("admin", subject="admin-privacy")
    dyad = headers_for("dyad", subject="agente-privacy", dyad_id=s.dyad_id, sector=s.sector)
    month = datetime.now(timezone.utc).strftime("%Y-%m")
    from services.analytics.entrypoints.api import EXPORTS
    wanted: list[tuple[str, str, dict, dict]] = [
        ("triage", f"/v1/calls/{s.call_id}/decision", dispatch, {}),
        ("triage", f"/v1/calls/{s.raw_call_id}/decision", dispatch, {}),
        ("triage", f"/v1/calls/{s.eido_id}/decision", dispatch, {}),
        ("triage", f"/v1/persons/{key}/triage", dispatch, {}),
        ("triage", f"/v1/persons/{key}/triage", sw, {}),
        ("notifier", "/v1/alerts", dyad, {"include_closed": "true"}),
        ("notifier", f"/v1/alerts/{seeded.alert_id}", dyad, {}),
        ("notifier", "/v1/alerts", supervisor, {"include_closed": "true", "per_page": "200"}),
        ("notifier", "/v1/followups/today", dyad, {}),
        ("notifier", "/v1/dyads", supervisor, {}),
        ("infosocial", f"/v1/persons/{key}/frame", officer, {"call_id": s.call_id}),
        ("infosocial", f"/v1/persons/{key}/frame", dyad, {"call_id": s.call_id}),
        ("infosocial", f"/v1/persons/{key}/frame", dispatch, {}),
        ("infosocial", f"/v1/persons/{key}/frame", analyst, {}),
        ("infosocial", "/v1/desk", sw, {}),
        ("infosocial", "/v1/desk/suggestions", sw, {"state": "toutes", "per_page": "100"}),
        ("infosocial", "/v1/desk/referrals", sw, {"state": "toutes", "per_page": "100"}),
        ("infosocial", "/v1/desk/referrals", sw, {"state": "toutes", "age": "adulte"}),
        ("infosocial", "/v1/referrals", sw, {"person_key": key}),
        ("infosocial", f"/v1/referrals/{s.referral_id}", sw, {}),
        ("intake", f"/v1/calls/{s.call_id}", dispatch, {}),
        ("intake", f"/v1/referrals/{s.referral_id}", officer, {}),
        ("intake", "/v1/outbox", supervisor, {}),
        ("intake", "/v1/persons/identity-reads", admin, {}),
        ("intake", "/v1/narrative-reads", admin, {}),
        *[("analytics", f"/v1/figures/{name}", analyst, {})
          for name in ("overview", "repeat-calls", "grandes-utilisatrices", "dyads", "latency", "dispositions",
                       "frames", "referrals", "calls-by-week", "top-locations")],
        ("analytics", "/v1/figures/overview", analyst, {"sector": s.sector}),
        ("analytics", "/v1/reports/monthly", analyst, {"month": month}),
        *[("analytics", f"/v1/export/{name}.csv", analyst, {}) for name in EXPORTS],
        *[(service, path, {}, {}) for service in SERVICES for path in ("/healthz", "/readyz")],
    ]

    def get(service: str, path: str, headers: dict, params: dict) -> Answer:
        r = http.get(f"{url(service)}{path}", headers=headers, params=params)
        return Answer(f"{service} GET {path} {params or ''}", r.status_code, r.text)

    apis = [get(*x) for x in wanted]
    apis.append(_stream_until(http, f"{url('notifier')}/v1/stream", dyad, s.call_id))
    lists = [get("infosocial", "/v1/frames", sw, {}), get("infosocial", "/v1/caseload", sw, {"team": "true"})]
    purpose = {"purpose": "essai de fuite"}
    identity = get("intake", f"/v1/persons/{key}/identity", sw, purpose)
    narrative = get("intake", f"/v1/calls/{s.call_id}/narrative", sw, purpose)
    refused = [Answer(f"{role}: {a.what}", a.status, a.text) for role in ("dispatch", "supervisor", "analyst",
                                                                          "admin", "officer")
               for a in [get("intake", f"/v1/persons/{key}/identity", headers_for(role, subject=f"{role}-privacy"),
                             purpose)]]
    # what the reads published (audits, the register of communications) has left intake's outbox
    wait_until(lambda: (_get(http, f"{url('intake')}/v1/outbox", supervisor) or {}).get("backlog") == 0,
               timeout=60, interval=0.3)
    return Reads(apis=apis, lists=lists, identity=identity, narrative=narrative, identity_refused=refused)


# --- the proofs ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def records(seeded, reads, broker) -> dict[str, list]:
    return all_records(broker.bootstrap_servers)


def test_no_event_on_any_topic_says_who_she_is(seeded, records):
    s = seeded.seed
    ours = (s.u.encode(), seeded.person_key.encode())
    for name in (CALLS_RECEIVED.name, CALLS_UPDATED.name, REFERRALS_FILED.name, TRIAGE_DECIDED.name,
                 ALERTS_CHANGED.name, FRAMES_CURRENT.name, FRAMES_CHANGED.name, CALLS_RAW.dlq_name):
        assert any(mark in (r.value or b"") + (r.key or b"") for r in records[name] for mark in ours), \
            f"{name}: aucun enregistrement de l'essai lu (le balayage ne prouverait rien)"
    raw_inputs = [as_text(r.value) for r in records[CALLS_RAW.name] if (r.key or b"").decode().endswith(s.u)]
    assert raw_inputs and all(found_in(t, {"nom": s.identity()["nom"]}) for t in raw_inputs), \
        "l'entrée du RAO porte le nom: le chercheur doit l'y trouver"
    internal = [n for n in records if n not in set(all_topic_names())]
    assert any(records[n] for n in internal), f"aucun topic interne du triage lu: {sorted(records)}"

    leaks = Leaks()
    for topic, rows in records.items():
        for r in rows:
            where = f"{topic}[{r.partition}]@{r.offset}"
            leaks.check(f"{where} clé", (r.key or b"").decode("utf-8", "replace"), s.everything())
            for header, value in r.headers or []:
                leaks.check(f"{where} en-tête {header}", f"{header}={(value or b'').decode('utf-8', 'replace')}",
                            s.everything())
            if topic in RAW_INPUT_TOPICS:
                continue
            if topic in OVERRIDE_TOPICS:  # its note: test_the_recurrence_override_event_carries_no_free_text
                value = json.loads(r.value)
                value["payload"].pop("note", None)
                leaks.check(f"{where} valeur hors note", json.dumps(value, ensure_ascii=False), s.everything())
                continue
            leaks.check(f"{where} valeur", as_text(r.value), s.identity())
            if summary_allowed(topic):
                leaks.check(f"{where} valeur hors summary", as_text(r.value, drop_summaries=True), s.health())
            else:
                leaks.check(f"{where} valeur", as_text(r.value), s.health())
    assert not leaks, leaks.report("identité ou santé dans les topics")


def test_the_recurrence_override_event_carries_no_free_text(seeded, records):
    """What a social worker writes about a person stays in Info-social: triage needs the override (recurrent, until),
    not the note, and keeps nothing else of it (services/triage/domain/state.py record_override)."""
    s = seeded.seed
    mine = [r for r in records[TRIAGE_OVERRIDDEN.name] if seeded.person_key.encode() in (r.key or b"")]
    assert mine, "la dérogation de l'essai n'est pas sur triage.overridden.v1 (rien ne serait prouvé)"
    leaks = Leaks()
    for r in mine:
        leaks.check(f"{TRIAGE_OVERRIDDEN.name}[{r.partition}]@{r.offset}", as_text(r.value), s.everything())
    assert not leaks, leaks.report(
        "la note libre de l'intervenante part telle quelle dans l'événement (OverridePayload.note, "
        "dyade/contracts/triage.py, remplie par services/infosocial/adapters/queue.py override): nom, téléphone et "
        "mots de santé sur triage.overridden.v1, que le triage n'utilise pas")


def test_the_dead_letter_reasons_name_the_field_not_the_person(seeded, records):
    s = seeded.seed
    mine = [r for r in records[CALLS_RAW.dlq_name] if (r.key or b"").decode().endswith(s.u)]
    reasons = {r.key.decode().removesuffix(f"-{s.u}"): dict(r.headers)["dlq.reason"].decode() for r in mine}
    assert set(reasons) == {"sans-heure", "date-a-la-francaise", "pas-du-json", "nom-trop-long"}, reasons
    assert "received_at" in reasons["sans-heure"] and "birth_date" in reasons["date-a-la-francaise"]
    assert "JSON invalide" in reasons["pas-du-json"] and "last_name" in reasons["nom-trop-long"]
    leaks = Leaks()
    for key, reason in reasons.items():
        leaks.check(f"raison de {key}", reason, s.everything())
    assert not leaks, leaks.report("identité ou santé dans les raisons des lettres mortes")


def test_no_log_line_of_any_service_holds_a_seed(seeded, reads, platform, broker):
    s = seeded.seed
    files = sorted(p for p in Path(platform.logs).iterdir() if p.is_file())
    files += [broker.log_path] if broker.log_path and Path(broker.log_path).exists() else []
    logged = {p.stem for p in files if p.stat().st_size}
    assert set(SERVICES) <= logged, f"journaux manquants ou vides: {sorted(set(SERVICES) - logged)}"
    leaks = Leaks()
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            leaks.check(f"{path.name}:{number}", line, s.everything())
    assert not leaks, leaks.report("identité ou santé dans les journaux")


def test_no_metric_label_of_any_service_holds_a_seed(seeded, reads, platform, http):
    s = seeded.seed
    leaks = Leaks()
    for service in SERVICES:
        r = http.get(f"{platform.settings.url_of(service)}/metrics")
        assert r.status_code == 200, (service, r.status_code)
        labels = [f"{sample.name}{{{','.join(f'{k}={v}' for k, v in sample.labels.items())}}}"
                  for family in text_string_to_metric_families(r.text) for sample in family.samples]
        assert any("dyade_" in x for x in labels), f"{service}: aucune métrique de Dyade"
        for text in labels:
            leaks.check(f"{service} /metrics", text, s.everything())
    assert not leaks, leaks.report("identité ou santé dans les étiquettes de métriques")


def test_refusals_and_acceptances_do_not_echo_her(seeded):
    """An error body says which field and what is wrong, never the value (nor the health words of a narrative);
    an acceptance gives keys, never the identity (an alert's answer shows its summary, as the field app does)."""
    s = seeded.seed
    leaks = Leaks()
    errors = [(what, body) for what, status, body in seeded.answers if status >= 400]
    assert len(errors) >= 13, errors
    for what, status, body in seeded.answers:
        leaks.check(f"{what} → {status}", body, s.everything() if status >= 400 else s.identity())
    assert not leaks, leaks.report("identité ou santé dans les réponses aux envois")


def test_no_api_outside_intakes_identity_reads_says_who_she_is(seeded, reads):
    """Triage's decisions and person state, the notifier's alerts and field app (its live stream included), the
    police, dispatch and analyst views of the frame, the social worker's desk and queue, intake's own reads,
    analytics' figures, report and exports, every service's health: keys, never who she is."""
    s = seeded.seed
    refused = [f"{a.what}: {a.status} {a.text[:200]}" for a in reads.apis if a.status != 200]
    assert not refused, "lectures refusées (rien ne serait prouvé):\n" + "\n".join(refused)
    leaks = Leaks()
    for a in reads.apis:
        leaks.check(a.what, a.text, s.identity())
    assert not leaks, leaks.report("identité dans les réponses des API")


def test_infosocials_lists_show_no_name_that_intake_did_not_disclose(seeded, reads):
    """The frame list and the caseload of the social workers' desk name no one: a name is given by intake's audited
    identity read (the desk's search goes there), not by a second copy kept beside the frame."""
    s = seeded.seed
    leaks = Leaks()
    for a in reads.lists:
        assert a.status == 200, (a.what, a.status, a.text[:300])
        assert seeded.person_key in a.text, f"{a.what}: la personne de l'essai n'y est pas (rien ne serait prouvé)"
        leaks.check(a.what, a.text, s.identity())
    assert not leaks, leaks.report(
        "Info-social garde sa propre copie du nom (infosocial_frames.display_name, « Nom affiché ») et la montre à "
        "toute intervenante dans GET /v1/frames (adapters/overview.py frame_list) et GET /v1/caseload "
        "(adapters/desk.py caseload), sans passer par la lecture d'identité auditée d'intake ni être consignée")


def test_intakes_identity_and_narrative_reads_do_give_her_to_a_social_worker(seeded, reads):
    """The one place her identity is given: the matcher finds it there, so it would find it anywhere else."""
    s = seeded.seed
    assert reads.identity.status == 200, reads.identity.text
    kinds = {x.split(":")[0] for x in found_in(reads.identity.text, s.identity())}
    assert {"prénom", "nom", "date de naissance"} <= kinds, (kinds, reads.identity.text)
    assert reads.narrative.status == 200, reads.narrative.text
    kinds = {x.split(":")[0] for x in found_in(reads.narrative.text, s.everything())}
    assert {"prénom", "nom", "date de naissance", "téléphone", "courriel", "NAM", "numéro civique", "santé"} <= kinds, \
        kinds
    for a in reads.identity_refused:
        assert a.status == 403, (a.what, a.status)
        assert not found_in(a.text, s.identity()), (a.what, a.text)
