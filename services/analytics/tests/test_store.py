"""Instants are stored in UTC with the source's offset honoured, on SQLite (the embedded default) as on
PostgreSQL; the figures read from SQLite equal the known truth; rows from before are flagged for a rebuild."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text

from dyade.db import make_engine, make_sessionmaker, migrate, unit_of_work
from services.analytics.adapters import models as m
from services.analytics.adapters import store
from services.analytics.config import AnalyticsConfig
from services.analytics.adapters.figures import FigureBook, Params
from services.analytics.tests.history import AS_OF, MTL, build, received as _call
from services.analytics.tests.truth import assert_cohort_truth, assert_latency_truth, assert_referral_truth

EST = timezone(timedelta(hours=-5))


def test_an_offset_time_is_stored_as_its_utc_instant(sessions):
    """10:00−05:00 is 15:00 UTC: stored so, read back so (SQLite once kept 10:00 and read it as UTC)."""
    at = datetime(2026, 12, 1, 10, 0, tzinfo=EST)
    berkeley = datetime(2014, 7, 4, 21, 30, tzinfo=timezone(timedelta(hours=-7)))
    with unit_of_work(sessions) as s:
        store.apply(s, [_call("c-tz", at, at + timedelta(seconds=2)),
                        _call("c-bk", berkeley, datetime(2026, 12, 1, 15, tzinfo=timezone.utc), source_system="berkeley-cad")])
    with unit_of_work(sessions) as s:
        facts = store.load_facts(s)
        raw = dict(s.execute(text("SELECT call_id, received_at FROM analytics_calls")).all())
        dialect = s.get_bind().dialect.name
    got = {c.call_id: c for c in facts.calls}
    assert got["c-tz"].received_at == datetime(2026, 12, 1, 15, 0, tzinfo=timezone.utc)
    assert got["c-tz"].received_at.utcoffset() == timedelta(0)
    assert got["c-tz"].ingested_at == datetime(2026, 12, 1, 15, 0, 2, tzinfo=timezone.utc)
    assert got["c-bk"].received_at == datetime(2014, 7, 5, 4, 30, tzinfo=timezone.utc)
    assert got["c-bk"].is_backfill() and not got["c-tz"].is_backfill()
    if dialect == "sqlite":  # ISO UTC text
        assert raw["c-tz"] == "2026-12-01T15:00:00.000000+00:00"


def test_the_earliest_revision_gives_the_calls_processing_time(sessions):
    at = datetime(2026, 12, 1, 10, 0, tzinfo=EST)
    first, later = at + timedelta(seconds=5), at + timedelta(hours=4)
    with unit_of_work(sessions) as s:  # revision 2 (hours later) arrives first, revision 1 after it
        store.apply(s, [_call("c-rev", at, later, revision=2)])
    with unit_of_work(sessions) as s:
        store.apply(s, [_call("c-rev", at, first, revision=1)])
    with unit_of_work(sessions) as s:
        (c,) = [c for c in store.load_facts(s).calls if c.call_id == "c-rev"]
    assert c.ingested_at == first.astimezone(timezone.utc) and not c.is_backfill()
    with unit_of_work(sessions) as s:
        (revision,) = s.execute(select(m.calls.c.revision).where(m.calls.c.call_id == "c-rev")).one()
    assert revision == 2


@pytest.mark.parametrize("batch", [40, 1000])  # 1000: one batch, PostgreSQL's COPY path (from 50 rows)
def test_figures_read_back_equal_the_truth(sessions, batch):
    h = build("store001")
    with unit_of_work(sessions) as s:
        for i in range(0, len(h.events), batch):  # in batches, as the consumer does
            store.apply(s, h.events[i:i + batch])
    book = FigureBook(sessions, tz=MTL, config=AnalyticsConfig(_env_file=None))
    q = Params(window_days=60, sector=h.sector, as_of=AS_OF)
    assert_cohort_truth(book.repeat_calls(q))
    assert_cohort_truth(book.repeat_calls(Params(window_days=60, sector=h.sector)))  # default as_of: the newest fact
    assert_latency_truth(book.latency(q))
    assert_referral_truth(book.referrals(q))
    assert book.overview(q)["calls_to_rebuild"] == 0


def test_rows_from_before_are_counted_for_a_rebuild(tmp_path):
    """A SQLite row of the earlier code (wall time, no offset, no processing time) is read as UTC and counted."""
    url = f"sqlite:///{tmp_path / 'legacy.db'}"
    migrate(url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO analytics_calls (call_id, revision, received_at, category, nature_code, "
                              "priority, location_key, replayed) VALUES ('old', 1, '2026-12-01 10:00:00.000000', "
                              "'etat_mental_perturbe', '5150', 3, 'l', 0)"))
        book = FigureBook(make_sessionmaker(engine), config=AnalyticsConfig(_env_file=None))
        overview = book.overview(Params())
        assert overview["calls"] == 1 and overview["calls_to_rebuild"] == 1
        assert book.latency(Params())["received_to_triage"]["count"] == 0
        (c,) = book.facts().calls
        assert c.received_at == datetime(2026, 12, 1, 10, tzinfo=timezone.utc)
    finally:
        engine.dispose()
