"""No personal data in a log line, a database error's included: engines hide the statements' parameters,
and the JSON formatter (every service's logs, uvicorn's "Exception in ASGI application" too) masks what a
database or validation error's message may quote — PostgreSQL's DETAIL quotes the whole row."""
from __future__ import annotations

import logging
import sys

import pytest
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from dyade.db import describe_db_error, make_engine
from dyade.observability import JsonFormatter

NAME, BIRTH = "Bellefeuille-Ouimet", "1961-07-14"


def logged(exc_info) -> str:
    return JsonFormatter("test").format(logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1,
                                                          "Exception in ASGI application", (), exc_info))


@pytest.fixture
def engine(pg_url):
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


def test_a_database_error_logged_quotes_no_value(engine):
    with pytest.raises(IntegrityError) as caught:
        with engine.connect() as conn:
            conn.execute(text("CREATE TEMP TABLE people (last_name text, birth date, note text NOT NULL)"))
            conn.execute(text("INSERT INTO people VALUES (:n, :b, NULL)"), {"n": NAME, "b": BIRTH})
    exc = caught.value
    assert NAME not in str(exc).split("DETAIL")[0]  # hide_parameters=True: the statement's part is masked
    assert "hidden due to hide_parameters=True" in str(exc)
    assert NAME in str(exc.orig)  # ... but the server's DETAIL quotes the failing row
    line = logged((type(exc), exc, exc.__traceback__))
    assert NAME not in line and BIRTH not in line
    assert "IntegrityError" in line and "SQLSTATE 23502" in line and "colonne=note" in line
    assert describe_db_error(exc) == \
        "IntegrityError (psycopg.errors.NotNullViolation) SQLSTATE 23502 table=people colonne=note"


def test_a_validation_error_logged_names_fields_not_values():
    class Person(BaseModel):
        birth: int

    try:
        Person(birth=NAME)
    except Exception:
        line = logged(sys.exc_info())
    assert NAME not in line and "birth: Input should be a valid integer" in line


def test_other_errors_keep_their_message():
    try:
        raise RuntimeError("relais arrêté")
    except RuntimeError:
        assert "RuntimeError: relais arrêté" in logged(sys.exc_info())


def test_a_500_tells_the_caller_nothing_of_the_error():
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from dyade.service import _install_error_handlers
    app = FastAPI()
    _install_error_handlers(app)

    @app.get("/panne")
    def panne():
        raise RuntimeError(f"{NAME} {BIRTH}")

    r = TestClient(app, raise_server_exceptions=False).get("/panne")
    assert r.status_code == 500 and r.json()["detail"].startswith("erreur interne du service")
    assert NAME not in r.text
