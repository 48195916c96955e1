"""`rebuild` empties the tables and replays the topics: the figures come back identical."""
from __future__ import annotations

from dyade.db import make_engine, make_sessionmaker
from services.analytics.adapters.rebuild import rebuild
from services.analytics.tests.history import AS_OF


def test_rebuild_replays_topics_to_the_same_figures(server, client, history, settings):
    q = {"sector": history.sector, "window_days": 60, "as_of": AS_OF.isoformat()}
    paths = ("/v1/figures/repeat-calls", "/v1/figures/dyads", "/v1/figures/latency", "/v1/figures/referrals",
             "/v1/figures/dispositions", "/v1/figures/top-locations")
    before = {p: client.get(p, params=q).json() for p in paths}
    engine = make_engine(settings.db_url)
    progress = []
    try:
        result = rebuild(settings.kafka_bootstrap_servers, make_sessionmaker(engine),
                         on_progress=lambda done, total: progress.append((done, total)))
    finally:
        engine.dispose()
    assert result.records >= len(history.events)
    assert result.stored >= len(history.events)
    assert progress[0][0] == 0 and progress[-1][0] == progress[-1][1] == result.records
    server[0].state.book.refresh()
    after = {p: client.get(p, params=q).json() for p in paths}
    assert after == before
    assert after["/v1/figures/repeat-calls"]["n_persons"] == 7


def test_cli_rebuild_reports_progress_and_totals(monkeypatch, server, client, history, settings):
    from typer.testing import CliRunner

    from dyade.settings import get_settings
    from services.analytics.entrypoints.cli import app
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", settings.kafka_bootstrap_servers)
    monkeypatch.setenv("DATABASE_URL", settings.db_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["rebuild", "--yes"])
        refused = CliRunner().invoke(app, ["rebuild"], input="n\n")
        figure = CliRunner().invoke(app, ["figure", "nope"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "reconstruction terminée" in result.output and "événements lus" in result.output
    assert refused.exit_code == 1
    assert figure.exit_code == 2 and "indicateur inconnu" in figure.output
    server[0].state.book.refresh()
    q = {"sector": history.sector, "window_days": 60, "as_of": AS_OF.isoformat()}
    assert client.get("/v1/figures/repeat-calls", params=q).json()["n_persons"] == 7
