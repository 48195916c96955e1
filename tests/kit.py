"""Test fixtures shared by every service's tests and the cross-service tests (a pytest plugin, loaded
by the root conftest.py): one real Tansu broker per test session, one fresh PostgreSQL database per
test session, tokens by role, readers of a topic from its beginning; a database of a test's own (SQLite
then PostgreSQL, or stopped at a revision to test a migration), every service as its own process, an app
served in a thread, Debian's Chromium, and the bad-text checks every service runs at its edge."""
from __future__ import annotations

import threading
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from dyade.auth import issue_token
from dyade.broker import EmbeddedBroker
from dyade.contracts import Event, Topic, decode
from dyade.db import scratch_database
from dyade.kafka import create_topics, wait_until
from dyade.settings import Settings

T = TypeVar("T")

@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    """A real Tansu broker for the whole session, with every declared topic created."""
    log = tmp_path_factory.mktemp("tansu") / "tansu.log"
    with EmbeddedBroker(log_path=log) as b:
        create_topics(b.bootstrap_servers)
        yield b


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new PostgreSQL database migrated to every service's head; dropped afterwards."""
    url, drop = scratch_database("dyade_test")
    try:
        yield url
    finally:
        drop()


@contextmanager
def database(dialect: str, tmp_path: Path, *, up_to: str | None = None) -> Iterator[str]:
    """A new database, "sqlite" (a file in tmp_path) or "postgresql", migrated to every service's head; with
    `up_to`, only to that revision of one service: rows written there in an earlier schema show what a later
    migration keeps (`dyade.db.migrate(url)` goes on to the heads). Dropped afterwards."""
    from alembic import command

    from dyade.db import alembic_config, migrate
    if dialect == "sqlite":
        url, drop = f"sqlite:///{tmp_path / 'dyade.db'}", None
    else:
        url, drop = scratch_database("dyade_test", migrated=False)
    try:
        if up_to:
            command.upgrade(alembic_config(url), up_to)
        else:
            migrate(url)
        yield url
    finally:
        if drop:
            drop()


@pytest.fixture(scope="session")
def pg_url():
    """A fresh PostgreSQL database for this session, migrated to every service's head; dropped after."""
    with fresh_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request, tmp_path):
    """Sessions on a database of the test's own, migrated to every head: SQLite (the embedded default), then
    PostgreSQL."""
    from dyade.db import make_engine, make_sessionmaker
    with database(request.param, tmp_path) as url:
        engine = make_engine(url)
        try:
            yield make_sessionmaker(engine)
        finally:
            engine.dispose()


def schema_drift(url: str, metadata, prefix: str) -> list:
    """What differs between the tables named `prefix...` the migrations made in the database at `url` and
    those `metadata` describes (alembic's autogenerate comparison): nothing, when a service's models and
    migrations agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()
    return [d for d in diff if prefix in repr(d)]


@pytest.fixture(scope="session")
def dyade_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("dyade-home")


def settings_for(bootstrap: str, database_url: str, home: Path, name: str = "test") -> Settings:
    """Settings on this broker and database, with keys of their own (`name`) and a free port per service."""
    from dyade.broker import free_port
    return Settings(kafka_bootstrap_servers=bootstrap, database_url=database_url, dyade_home=home,
                    dyade_pseudonym_key=f"{name}-pseudonym-key-0123456789abcdef",
                    dyade_token_secret=f"{name}-token-secret-0123456789abcdefghijk",
                    intake_port=free_port(), triage_port=free_port(), infosocial_port=free_port(),
                    notifier_port=free_port(), analytics_port=free_port(), _env_file=None)


@pytest.fixture(scope="session")
def settings(broker, pg_url, dyade_home) -> Settings:
    """Settings pointing at the session's broker and database (ports chosen free per service)."""
    return settings_for(broker.bootstrap_servers, pg_url, dyade_home)


@contextmanager
def every_service(settings: Settings, env: dict[str, str] | None = None, timeout: float = 120):
    """Every service as its own process, as `dyade up` runs them, on the settings' broker, database and ports
    (logs in <home>/logs), ready; stopped afterwards. `env`: more of the services' environment."""
    import os

    from dyade.cli.up import Platform, available_services
    from dyade.service import SERVICES
    environ = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
               "DATABASE_URL": settings.database_url, "DYADE_HOME": str(settings.dyade_home),
               "DYADE_PSEUDONYM_KEY": settings.dyade_pseudonym_key,
               "DYADE_TOKEN_SECRET": settings.dyade_token_secret, "PYTHONUNBUFFERED": "1", **(env or {})}
    for spec in SERVICES:
        environ[f"{spec.name.upper()}_PORT"] = str(settings.port_of(spec.name))
    running = Platform(settings)
    running.logs = Path(settings.dyade_home) / "logs"
    running.logs.mkdir(parents=True, exist_ok=True)
    try:
        for spec in available_services():
            running.start_service(spec, environ)
        running.wait_ready(timeout=timeout)
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def token(settings):
    """token(role, subject="tester", **claims) -> bearer header dict; `claims` are issue_token's keywords
    (sector=, dyad_id=, audience=[...] to restrict the services it is meant for; default: every service that
    admits the role)."""
    def make(role: str, subject: str = "tester", **claims) -> dict[str, str]:
        return {"Authorization": "Bearer " + issue_token(settings.dyade_token_secret, subject=subject, role=role, **claims)}
    return make


@pytest.fixture(scope="session")
def producer(broker):
    """A producer on the session's broker (dyade.kafka's settings: idempotent, acks=all)."""
    from dyade.kafka import make_producer
    p = make_producer(broker.bootstrap_servers)
    yield p
    p.close()


CHROMIUM = "/usr/bin/chromium"  # Debian's
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright, for a module's browser tests (both in the test extras: a missing
    one fails, never skips)."""
    from playwright.sync_api import sync_playwright
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium manquant: apt-get install -y chromium")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def unique() -> str:
    """A short unique prefix for ids, so tests sharing the session's broker and database never collide."""
    return uuid.uuid4().hex[:8]


class Served:
    """An ASGI app served by uvicorn in a thread on 127.0.0.1 (a free port unless `port`): `start()` returns once
    it listens (its lifespan started), `stop()` asks it to stop and waits for its thread; or `with Served(app) as
    served:`. `config`: more of uvicorn.Config's keywords."""

    def __init__(self, app, port: int | None = None, **config):
        import uvicorn

        from dyade.broker import free_port
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None,
                                                    access_log=False, **config))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self, timeout: float = 60) -> "Served":
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=timeout, interval=0.05)
        return self

    def stop(self, wait: float = 20) -> None:
        self.server.should_exit = True
        self.thread.join(wait)

    def __enter__(self) -> "Served":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class TopicReader:
    """Reads a topic from the beginning, every partition, without a consumer group (nothing shared with
    other tests). `records` holds every record read so far; `events` the ones that decode."""

    def __init__(self, bootstrap: str, topic: Topic | str, timeout: float = 30):
        name = topic.name if isinstance(topic, Topic) else topic
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                      client_id="dyade-test-reader")
        partitions = wait_until(lambda: self.consumer.partitions_for_topic(name), timeout=timeout)
        self.consumer.assign([TopicPartition(name, p) for p in sorted(partitions)])
        self.consumer.seek_to_beginning()
        self.records: list[ConsumerRecord] = []
        self._events: list[Event] = []

    def poll(self) -> list[ConsumerRecord]:
        """Reads what is new; returns every record read so far."""
        for records in self.consumer.poll(timeout_ms=300).values():
            self.records.extend(records)
            for record in records:
                try:
                    self._events.append(decode(record.value))
                except Exception:  # a tombstone, a dead letter, a test's bad bytes
                    pass
        return self.records

    def events(self, accept: Callable[[Event], object] = lambda e: True) -> list[Event]:
        """Reads what is new; returns the events read so far that `accept` keeps."""
        self.poll()
        return [e for e in self._events if accept(e)]

    def wait(self, predicate: Callable[[list[Event]], T], timeout: float = 60) -> T:
        """Reads until predicate(every event read so far) is truthy; returns that value."""
        return wait_until(lambda: predicate(self.events()), timeout=timeout, interval=0.05)

    def wait_for(self, accept: Callable[[Event], object], count: int = 1, timeout: float = 60) -> list[Event]:
        """Reads until `accept` keeps `count` events; returns all it keeps."""
        return self.wait(lambda events: at_least(count, [e for e in events if accept(e)]), timeout)

    def wait_for_records(self, accept: Callable[[ConsumerRecord], object], count: int = 1,
                         timeout: float = 60) -> list[ConsumerRecord]:
        """The same as `wait_for`, over the records as they are (tombstones, dead letters, headers)."""
        return wait_until(lambda: at_least(count, [r for r in self.poll() if accept(r)]), timeout=timeout,
                          interval=0.05)

    def close(self) -> None:
        self.consumer.close()


def at_least(count: int, items: list) -> list | None:
    return items if len(items) >= count else None


def keyed(*keys: str) -> Callable[[ConsumerRecord], bool]:
    """Accepts the records with one of these keys."""
    wanted = {k.encode() for k in keys}
    return lambda record: record.key in wanted


@pytest.fixture
def reader(broker):
    """reader(topic) -> a TopicReader on the session's broker, closed after the test."""
    opened: list[TopicReader] = []

    def make(topic: Topic | str) -> TopicReader:
        opened.append(TopicReader(broker.bootstrap_servers, topic))
        return opened[-1]
    yield make
    for r in opened:
        r.close()


def no_server_errors(openapi: dict, call, *, examples: int, skip: tuple[str, ...] = ()) -> int:
    """A bounded, reproducible schemathesis run over a service's OpenAPI: `call(case, n)` sends the n-th
    generated request and returns the response. Whatever is sent, no 5xx, and every 4xx says what is wrong
    in `detail`. Returns how many requests were sent."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    schema = schemathesis.openapi.from_dict(openapi)
    failures: list[str] = []
    seen = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in skip:
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            nonlocal seen
            seen += 1
            response = call(case, seen)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.body!r:.200} -> "
                                f"{response.status_code} {response.text[:200]}")
            elif response.status_code >= 400 and not response.json().get("detail"):
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code} sans détail")
        run()
    assert not failures, "\n".join(failures[:10])
    return seen


# --- bad text in every string field of every inbound body (dyade.contracts.text) ---------------------------

BAD_TEXT = {"NUL": "ab\x00cd", "ESC": "ab\x1bcd", "DEL": "ab\x7fcd", "surrogate": "ab\ud800cd", "FFFF": "ab\uffffcd"}
BAD_IN_LINES = {"LF": "ab\ncd", "TAB": "ab\tcd"}


class StringField:
    """A string field of a body model, anywhere in it: `path` as the 422 names it (list items as 0)."""

    def __init__(self, model: type, path: tuple, single_line: bool, guarded: bool, pattern: bool,
                 min_length: int = 0):
        self.model, self.path = model, path
        self.single_line, self.guarded, self.pattern, self.min_length = single_line, guarded, pattern, min_length

    def padded(self, value: str) -> str:
        """`value` made long enough for the field's min_length (checked before the text itself)."""
        return value + "x" * max(0, self.min_length - len(value))

    @property
    def name(self) -> str:
        return ".".join(str(p) for p in self.path)

    def body(self, value: str):
        """The smallest JSON body that puts `value` at this field (the other fields are left out: their own
        errors come with it, the field's error must be among them)."""
        out: object = value
        for step in reversed(self.path):
            out = [out] if isinstance(step, int) else {step: out}
        return out

    def __repr__(self) -> str:
        return f"{self.model.__name__}.{self.name}"


def string_fields(model: type) -> list[StringField]:
    """Every str field of a pydantic model, walking nested models, lists and optionals (model_fields, so a
    new field is covered the day it is added). `guarded`: it is a Line or a Text of dyade.contracts.text;
    `single_line`: a Line; `pattern`: an ASCII pattern constrains it (a refusal then says so in English)."""
    import types
    import typing
    from enum import Enum

    from pydantic import BaseModel
    from pydantic.fields import FieldInfo

    from dyade.contracts.text import check_line, check_text

    found: list[StringField] = []

    def walk(annotation, metadata: list, path: tuple, stack: tuple) -> None:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            base, *extra = typing.get_args(annotation)
            return walk(base, [*metadata, *extra], path, stack)
        if origin in (typing.Union, types.UnionType):
            for arg in typing.get_args(annotation):
                if arg is not type(None):
                    walk(arg, metadata, path, stack)
            return
        if origin in (list, tuple, set, frozenset):
            args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
            return walk(args[0], [], path + (0,), stack) if args else None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation in stack:
                return
            for name, info in annotation.model_fields.items():
                walk(info.annotation, list(info.metadata), path + (info.alias or name,), stack + (annotation,))
            return
        if annotation is str or (isinstance(annotation, type) and issubclass(annotation, str)
                                 and not issubclass(annotation, Enum)):
            flat = []
            for m in metadata:
                flat += [m, *m.metadata] if isinstance(m, FieldInfo) else [m]
            funcs = {getattr(m, "func", None) for m in flat}
            found.append(StringField(model, path, single_line=check_line in funcs,
                                     guarded=bool(funcs & {check_line, check_text}),
                                     pattern=any(getattr(m, "pattern", None) for m in flat),
                                     min_length=max([getattr(m, "min_length", None) or 0 for m in flat] + [0])))

    walk(model, [], (), ())
    return found


def body_routes(routes) -> list[tuple[str, str, type]]:
    """(method, path, body model) of every route of an app or router that takes a JSON body model."""
    import types
    import typing

    from fastapi.routing import APIRoute
    from pydantic import BaseModel

    out = []
    for route in routes:
        if (included := getattr(route, "original_router", None)) is not None:  # FastAPI ≥ 0.16x: included routers
            prefix = getattr(getattr(route, "include_context", None), "prefix", "") or ""
            out += [(m, prefix + p, model) for m, p, model in body_routes(included.routes)]
            continue
        if not isinstance(route, APIRoute) or route.body_field is None:
            continue
        annotation = route.body_field.field_info.annotation
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            for method in sorted(route.methods):
                out.append((method, route.path, annotation))
    return out


def bad_text_cases(routes: list[tuple[str, str, type]]) -> list:
    """pytest params (method, path, field, kind, value) for every string field of every (method, path, body
    model) — body_routes' rows — and every bad text it must refuse."""
    cases = []
    for method, path, model in routes:
        for field in string_fields(model):
            kinds = {**BAD_TEXT, **(BAD_IN_LINES if field.single_line else {})}
            for kind, value in kinds.items():
                cases.append(pytest.param(method, path, field, kind, field.padded(value),
                                          id=f"{method} {path} {field.name} {kind}"))
    return cases


def send_json(client, method: str, path: str, body, headers: dict):
    """Sent as ASCII JSON (json.dumps escapes a lone surrogate: httpx's own encoder cannot)."""
    import json
    return client.request(method, path, content=json.dumps(body).encode(),
                          headers={**headers, "Content-Type": "application/json"})


def assert_refused_naming(response, field: StringField) -> None:
    assert response.status_code == 422, f"{field!r}: {response.status_code} {response.text[:300]}"
    errors = response.json()["errors"]
    mine = [e for e in errors if e["field"] == field.name]
    assert mine, f"{field!r}: not named in {[e['field'] for e in errors]}"
    if not field.pattern:
        assert any("interdit" in e["problem"] and "U+" in e["problem"] for e in mine), (field, mine)
    assert "cd" not in " ".join(e["problem"] for e in errors).replace("abcd", ""), "the refused text is echoed"


def role_finder(client, token, fill_path: Callable[[str], str]):
    """role(method, path) → the headers of the first role the route lets through (not 401/403), found once."""
    from dyade.contracts import Role
    known: dict[tuple[str, str], dict] = {}

    def headers_for(method: str, path: str) -> dict:
        if (method, path) not in known:
            for role in Role:
                h = token(role.value, subject="texte-test", **({"dyad_id": "D-texte"} if role == Role.DYAD else {}))
                r = send_json(client, method, fill_path(path), {}, h)
                if r.status_code not in (401, 403):
                    known[(method, path)] = h
                    break
            else:
                raise AssertionError(f"{method} {path}: no role is let through")
        return known[(method, path)]
    return headers_for


def assert_every_string_field_guarded(routes: list[tuple[str, str, type]]) -> None:
    """Every string field of every body of `routes` (body_routes' rows) is a Line, a Text or an ASCII pattern."""
    unguarded = [f for _, _, model in routes for f in string_fields(model) if not (f.guarded or f.pattern)]
    assert not unguarded, f"champs sans Line/Text (dyade.contracts.text): {unguarded}"


def bad_text_test(routes: list[tuple[str, str, type]], client: str):
    """The test that bad text in any string field of any body of `routes` is a 422 naming the field, sent with
    the first role the route lets through, to the service whose test client is the fixture named `client`.
    A test module binds it to a name of its own: `test_bad_text_in_any_field_is_a_422_naming_it = ...`."""
    finders: dict[int, Callable[[str, str], dict]] = {}

    @pytest.mark.parametrize("method, path, field, kind, value", bad_text_cases(routes))
    def test(request, token, method, path, field, kind, value):
        http = request.getfixturevalue(client)
        if id(http) not in finders:
            finders[id(http)] = role_finder(http, token, fill_path)
        headers = finders[id(http)](method, path)
        assert_refused_naming(send_json(http, method, fill_path(path), field.body(value), headers), field)
    return test


def fill_path(path: str, values: dict[str, str] | None = None) -> str:
    """A route's path with a plausible value for each parameter."""
    import re
    defaults = {"frame_id": "f_0123456789abcdef", "person_key": "p_texte1234", "referral_id": "R-texte",
                "dyad_id": "D-texte", "alert_id": "A-texte", "call_id": "C-texte", "sector": "S1"}
    defaults.update(values or {})
    return re.sub(r"\{(\w+)(:[^}]*)?\}", lambda m: defaults.get(m.group(1), "x1"), path)
