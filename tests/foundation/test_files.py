"""The embedded default's files are private from the start: DYADE_HOME 0700, the SQLite database and the logs
0600, secrets created 0600 whole (never written, then chmod-ed), one secret even when processes race."""
from __future__ import annotations

import multiprocessing
import os
import stat

import pytest
from sqlalchemy import text

from dyade.broker import EmbeddedBroker
from dyade.db import check_database, make_engine
from dyade.files import create_secret, open_private_append, private_dir
from dyade.settings import Settings


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def loose_umask():
    """umask 000: whatever a file is created with is what it gets."""
    old = os.umask(0)
    yield
    os.umask(old)


@pytest.fixture
def no_chmod(monkeypatch):
    """A file made open then chmod-ed fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"chmod after creation: {args}")
    monkeypatch.setattr(os, "chmod", refuse)


def test_home_secrets_and_database_of_the_embedded_default(tmp_path, loose_umask, no_chmod):
    settings = Settings(_env_file=None, dyade_home=tmp_path / "var")
    secret = settings.secret("dyade_token_secret")
    assert len(secret) >= 32 and settings.secret("dyade_token_secret") == secret
    assert mode(tmp_path / "var") == 0o700
    assert mode(tmp_path / "var" / "secrets") == 0o700
    assert mode(tmp_path / "var" / "secrets" / "dyade_token_secret") == 0o600
    assert [p.name for p in (tmp_path / "var" / "secrets").iterdir()] == ["dyade_token_secret"]  # no temp left
    engine = make_engine(settings.db_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    db = tmp_path / "var" / "dyade.db"
    assert mode(db) == 0o600
    assert mode(f"{db}-wal") == 0o600 and mode(f"{db}-shm") == 0o600  # SQLite gives them the database's mode
    engine.dispose()


def test_check_database_creates_the_sqlite_file_private(tmp_path, loose_umask):
    check_database(f"sqlite:///{tmp_path}/other.db")
    assert mode(tmp_path / "other.db") == 0o600
    check_database("sqlite://")  # in memory: nothing to create


def test_an_existing_home_or_database_left_open_is_closed(tmp_path):
    home = tmp_path / "old"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    (home / "dyade.db").touch()
    os.chmod(home / "dyade.db", 0o644)
    settings = Settings(_env_file=None, dyade_home=home)
    make_engine(settings.db_url).dispose()
    assert mode(home) == 0o700 and mode(home / "dyade.db") == 0o600


def test_logs_are_created_private(tmp_path, loose_umask, no_chmod):
    logs = private_dir(tmp_path / "logs")
    with open_private_append(logs / "intake.log") as fh:
        fh.write(b"ligne\n")
    with open_private_append(logs / "intake.log") as fh:
        fh.write(b"autre\n")
    assert mode(logs) == 0o700 and mode(logs / "intake.log") == 0o600
    assert (logs / "intake.log").read_bytes() == b"ligne\nautre\n"


def test_the_embedded_broker_log_is_private(tmp_path, loose_umask):
    with EmbeddedBroker(log_path=tmp_path / "tansu.log"):
        pass
    assert mode(tmp_path / "tansu.log") == 0o600


def test_the_notifier_vapid_key_is_created_private(tmp_path, loose_umask, no_chmod):
    from services.notifier.adapters.delivery import load_vapid
    key = load_vapid(tmp_path)
    assert mode(tmp_path / "secrets" / "notifier_vapid_private.pem") == 0o600
    assert load_vapid(tmp_path).private_pem() == key.private_pem()


def _race(args) -> str:
    home, _ = args
    return Settings(_env_file=None, dyade_home=home).secret("dyade_pseudonym_key")


def test_services_starting_together_share_one_secret(tmp_path):
    with multiprocessing.get_context("fork").Pool(6) as pool:
        values = pool.map(_race, [(tmp_path / "home", i) for i in range(24)])
    assert len(set(values)) == 1 and len(values[0]) >= 32
    assert sorted(p.name for p in (tmp_path / "home" / "secrets").iterdir()) == ["dyade_pseudonym_key"]


def test_create_secret_never_replaces_an_existing_one(tmp_path):
    path = tmp_path / "s" / "k"
    assert create_secret(path, b"premier") and not create_secret(path, b"second")
    assert path.read_bytes() == b"premier" and mode(path) == 0o600
