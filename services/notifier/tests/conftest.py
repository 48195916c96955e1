"""Notifier fixtures: one runtime (real broker, real PostgreSQL, injectable clock, scheduler driven by
the tests) served by uvicorn on a free port for the session; helpers to publish what triage and intake
would publish and to read what the notifier published."""
from __future__ import annotations

import os
import uuid
from datetime import date, datetime, timedelta, timezone

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition

from dyade.contracts import decode
from dyade.contracts.alerts import AlertChanged
from dyade.contracts.calls import CallUpdated, CallUpdatePayload
from dyade.contracts.frames import FrameCurrent, FrameCurrentPayload, PoliceView
from dyade.contracts.triage import Danger, DecisionPayload, Reason, Recurrence, TriageDecided
from dyade.contracts.topics import ALERTS_CHANGED
from dyade.kafka import publish, wait_until
from services.notifier.bootstrap import create_app
from services.notifier.config import NotifierConfig
from services.notifier.domain.roster import MONTREAL
from services.notifier.adapters.models import AlertRow
from services.notifier.runtime import Notifier
from tests.kit import Served, settings_for

DAY = datetime(2026, 11, 24, 10, 0, tzinfo=MONTREAL)      # a Tuesday, 10h in Montréal: day shift
NIGHT = datetime(2026, 11, 24, 23, 30, tzinfo=MONTREAL)   # outside team hours


class Clock:
    """The runtime's clock: real time unless a test sets it."""

    def __init__(self) -> None:
        self.fixed: datetime | None = None

    def __call__(self) -> datetime:
        return self.fixed or datetime.now(timezone.utc)

    def set(self, at: datetime | None) -> None:
        self.fixed = at.astimezone(timezone.utc) if at else None


if os.environ.get("NOTIFIER_TEST_SQLITE"):
    @pytest.fixture(scope="session")
    def settings(broker, dyade_home):
        """NOTIFIER_TEST_SQLITE=1: the same tests on SQLite (the embedded default of `dyade up`)."""
        from dyade.db import migrate
        url = f"sqlite:///{dyade_home / 'notifier-test.db'}"
        migrate(url)
        return settings_for(broker.bootstrap_servers, url, dyade_home)


@pytest.fixture(scope="session")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def notifier(settings, clock):
    config = NotifierConfig(group_id=f"notifier-test-{uuid.uuid4().hex[:8]}", tick_s=0, ack_delay_s=180,
                            supervisor_delay_s=600, horizon_minutes=120, _env_file=None,
                            webhook_allowlist="127.0.0.1")  # the tests' CAD terminal listens on loopback, in http
    runtime = Notifier(settings.model_copy(update={"dyade_webhook_allow_http": True}), config, clock=clock).start()
    wait_until(lambda: all(c.ready.is_set() for c in runtime.consumers), timeout=90)
    yield runtime
    runtime.stop()


@pytest.fixture(scope="session")
def base_url(settings, notifier):
    served = Served(create_app(settings, notifier=notifier), settings.notifier_port, timeout_graceful_shutdown=1)
    yield served.start(timeout=30).url
    served.stop(wait=10)


@pytest.fixture(scope="session")
def http(base_url):
    with httpx.Client(base_url=base_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def supervisor(token):
    return token("supervisor", subject="sup-test")


@pytest.fixture(autouse=True)
def _real_time(clock):
    yield
    clock.set(None)


def put_dyad(http, headers, dyad_id, sector, shifts=None, **extra):
    body = {"name": f"Dyade {dyad_id}", "sector": sector,
            "members": [{"name": "Agente Test", "role": "policier"}, {"name": "Intervenant Test", "role": "intervenant"}]}
    if shifts is not None:
        body["shifts"] = shifts
    body.update(extra)
    r = http.put(f"/v1/dyads/{dyad_id}", json=body, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


ALWAYS = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "00:00"}]


RECURRENT = (("recurrence.30j", "Appels répétés en 30 jours", "3"),)
KNIFE = (("danger.arme", "Arme mentionnée ou vue (danger imminent)", "arme signalée"),
         ("danger.menaces_de_mort", "Menaces de mort (danger imminent)", "menaces de mort signalées"))
IDEATION = (("danger.idees_suicidaires", "Idées suicidaires sans plan", "idées suicidaires signalées"),)


def decision(call_id: str, *, sector: str | None, at: datetime, level: str = "dyade_suggeree", persons=(), revision=1,
             summary="Personne en crise, propos suicidaires.", reasons=RECURRENT, danger: str = "previsible",
             category: str = "etat_mental_perturbe", address: str | None = None, lat: float | None = None,
             lon: float | None = None, nature_code: str | None = None) -> TriageDecided:
    payload = DecisionPayload(
        decision_id=f"{call_id}:r{revision}:test", call_id=call_id, call_revision=revision, person_keys=tuple(persons),
        location_key="l_test", sector=sector, category=category, level=level,
        danger=Danger(level=danger, score=0.5), recurrence=Recurrence(person_calls={"30j": 3}),
        reasons=tuple(Reason(factor=f, label=label, observed=obs, weight=1, contribution=1) for f, label, obs in reasons),
        ruleset_version="test", call_received_at=at, summary=summary, address=address, lat=lat, lon=lon,
        nature_code=nature_code)
    return TriageDecided.new(payload=payload, occurred_at=at, source="triage", correlation_id=call_id)


def call_update(call_id: str, status: str, *, at: datetime, dyad_id=None, disposition=None, persons=()):
    return CallUpdated.new(payload=CallUpdatePayload(call_id=call_id, status=status, dyad_id=dyad_id,
                                                     disposition=disposition, person_keys=tuple(persons)),
                           occurred_at=at, source="intake", correlation_id=call_id)


def frame(person_key: str, *, stale=False, version=1) -> FrameCurrent:
    view = PoliceView(interventions_a_privilegier=("Parler calmement, proposer un café",),
                      interventions_a_eviter=("Uniformes multiples à la porte",),
                      contacts=({"name": "Sœur (proche)", "role": "proche", "phone": "450-555-0101",
                                 "when_to_call": "en crise"},),
                      risques=("Fugue",), niveau_tolerance="faible", legal_basis="consentement")
    payload = FrameCurrentPayload(person_key=person_key, frame_id=f"f_{person_key}", version=version, stale=stale,
                                  review_due=date(2027, 1, 1), consent="obtenu", police_view=view)
    return FrameCurrent.new(payload=payload, occurred_at=datetime.now(timezone.utc), source="infosocial",
                            correlation_id=person_key)


def send(producer, *events):
    for e in events:
        publish(producer, e)
    producer.flush()


def alert_for(notifier, call_id: str, timeout: float = 60) -> AlertRow:
    """Wait until the notifier made (or merged into) an alert for the call."""
    def find():
        with notifier.sessions() as s:
            from sqlalchemy import select
            from services.notifier.adapters.models import DecisionRow
            d = s.scalars(select(DecisionRow).where(DecisionRow.call_id == call_id)).first()
            return d and (s.get(AlertRow, d.alert_id) if d.alert_id else d)
    return wait_until(find, timeout=timeout)


def alerted(notifier, producer, call_id: str, **decision_of) -> AlertRow:
    """Triage decides about the call (`decision`'s keywords); the alert the notifier made or merged it into."""
    send(producer, decision(call_id, **decision_of))
    return alert_for(notifier, call_id)


def busy(notifier, dyad_id: str) -> set[str]:
    from services.notifier.adapters import roster
    with notifier.sessions() as s:
        return roster.busy_dyads(s, [dyad_id])


def alert_row(notifier, alert_id: str) -> AlertRow:
    with notifier.sessions() as s:
        return s.get(AlertRow, alert_id)


class AlertEvents:
    """Reads alerts.changed.v1 from its end at creation: the AlertChanged events published since."""

    def __init__(self, bootstrap: str):
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                      client_id="notifier-test-reader")
        wait_until(lambda: self.consumer.partitions_for_topic(ALERTS_CHANGED.name), timeout=30)
        parts = [TopicPartition(ALERTS_CHANGED.name, p) for p in self.consumer.partitions_for_topic(ALERTS_CHANGED.name)]
        self.consumer.assign(parts)
        self.consumer.seek_to_end()
        for p in parts:
            self.consumer.position(p)
        self.events: list[AlertChanged] = []

    def states(self, alert_id: str) -> list[str]:
        for recs in self.consumer.poll(timeout_ms=200).values():
            self.events.extend(decode(r.value, AlertChanged) for r in recs)
        return [e.payload.state.value for e in self.events if e.payload.alert_id == alert_id]

    def wait_for(self, alert_id: str, state: str, timeout: float = 60) -> list[str]:
        return wait_until(lambda: state in (s := self.states(alert_id)) and s, timeout=timeout)

    def close(self):
        self.consumer.close()


@pytest.fixture
def alert_events(broker):
    reader = AlertEvents(broker.bootstrap_servers)
    yield reader
    reader.close()


__all__ = ["DAY", "NIGHT", "ALWAYS", "RECURRENT", "KNIFE", "IDEATION", "put_dyad", "decision", "call_update", "frame", "send", "alert_for",
           "alert_row", "busy", "timedelta"]
