"""`rebuild` empties the tables and replays the topics: the figures come back identical."""
from __future__ import annotations

from dyade.db import make_engine, make_sessionmaker
from services.analytics.rebuild import rebuild
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
    server[0].state.book.invalidate()
    after = {p: client.get(p, params=q).json() for p in paths}
    assert after == before
    assert after["/v1/figures/repeat-calls"]["n_persons"] == 6
