"""The demo: its live calls (a followed high utiliser back within the first seconds, valid calls, updates
only once due), and its seeding against the real intake, Info-social and notifier services (each served
by uvicorn on its own port, on the session's broker and PostgreSQL): roster, history, approved frames."""
from __future__ import annotations

import random
import threading
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import uvicorn

from dyade.auth import issue_token
from dyade.broker import free_port
from dyade.contracts.inbound import CallSubmission, CallUpdateSubmission
from dyade.kafka import wait_until
from dyade.simulation.demo import Demo, DemoOptions, LiveCalls
from dyade.simulation.population import identity_key


@pytest.fixture(scope="module")
def offline_demo(tmp_path_factory):
    from dyade.settings import Settings
    settings = Settings(dyade_home=tmp_path_factory.mktemp("demo-home"), dyade_token_secret="x" * 32,
                        intake_port=free_port(), _env_file=None)
    return Demo(settings, DemoOptions(rate=2.0, seed=7, history_days=10, frames=3))


def test_a_followed_high_utiliser_calls_back_at_once(offline_demo):
    demo = offline_demo
    live = LiveCalls(demo.sim, demo.featured, random.Random(1), rate=2.0)
    now = datetime.now(timezone.utc)
    calls = []
    for i in range(30):
        calls += [r for r in live.due(now + timedelta(seconds=10 + i)) if r.kind == "call"]
        live.next_at = now  # one call per step, whatever the pace
    assert [c.person_id for c in calls[:2]][1] == demo.featured[0].person_id
    assert calls[5].person_id == demo.featured[1].person_id and calls[11].person_id == demo.featured[2].person_id
    featured_keys = {identity_key(**demo.featured[0].canonical)}
    subject = next(p for p in calls[1].body["persons"] if p["role"] == "sujet")
    assert identity_key(subject["first_name"], subject["last_name"], subject["birth_date"]) in featured_keys
    for c in calls:
        CallSubmission.model_validate(c.body)
    assert len({c.call_id for c in calls}) == len(calls)


def test_live_updates_come_only_when_due(offline_demo):
    live = LiveCalls(offline_demo.sim, offline_demo.featured, random.Random(2), rate=1.0)
    start = datetime.now(timezone.utc)
    first = live.due(start + timedelta(seconds=5))
    assert [r.kind for r in first] == ["call"]
    live.next_at = start + timedelta(days=1)  # no more calls: only the first call's updates
    seen = []
    for minute in range(0, 40):
        seen += live.due(start + timedelta(seconds=5, minutes=minute))
    assert [u.body["status"] for u in seen] == ["dispatched", "on_scene", "cleared"]
    call_at = datetime.fromisoformat(first[0].body["received_at"])
    for u in seen:
        CallUpdateSubmission.model_validate(u.body)
        assert u.call_id == first[0].call_id and datetime.fromisoformat(u.body["at"]) > call_at
        assert "dyad_id" not in u.body  # the dyad takes the alert in the field app, not the CAD


def test_the_banner_names_what_to_open(offline_demo):
    text = offline_demo.banner()
    s = offline_demo.settings
    assert f"{s.url_of('notifier')}/connexion" in text and f"{s.url_of('analytics')}/?access_token=" in text
    assert text.count("jeton dyade D") == 4


def test_every_token_of_the_banner_opens_its_page(offline_demo):
    """No role passes everywhere (`admin` included): each link carries a role its page admits."""
    import re
    from dyade.auth import read_token
    from services.analytics.api import READERS as DASHBOARD
    from services.infosocial.web import ALLOWED_ROLES as INFOSOCIAL
    from services.notifier.deps import FIELD
    s = offline_demo.settings
    pages = {s.url_of("analytics"): DASHBOARD, s.url_of("infosocial"): INFOSOCIAL, s.url_of("notifier"): FIELD}
    checked = 0
    for line in offline_demo.banner().splitlines():
        token = re.search(r"eyJ[\w-]+\.[\w-]+\.[\w-]+", line)
        if not token:
            continue
        url = s.url_of("notifier") if "jeton dyade" in line else re.search(r"https?://[^/\s]+", line).group(0)
        who = read_token(s.dyade_token_secret, token.group(0))
        assert who.role in pages[url], line
        assert who.role != "dyad" or who.dyad_id, line
        checked += 1
    assert checked == 4 + 3


# --- against the real services -------------------------------------------------------------------------
def _serve(app, port: int):
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False,
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=60)
    return server, thread


@pytest.fixture(scope="module")
def platform(settings):
    """intake, Info-social and the notifier, on ports of their own (other tests use the session's)."""
    from services.infosocial.app import create_app as infosocial_app
    from services.intake.api import create_app as intake_app
    from services.notifier.app import create_app as notifier_app
    from services.notifier.config import NotifierConfig
    from services.notifier.runtime import Notifier

    tag = uuid.uuid4().hex[:8]
    mine = settings.model_copy(update={"intake_port": free_port(), "infosocial_port": free_port(),
                                       "notifier_port": free_port()})
    notifier = Notifier(mine, NotifierConfig(group_id=f"notifier-demo-{tag}", tick_s=0, _env_file=None)).start()
    running = [
        _serve(intake_app(mine, raw_group=f"intake-raw-demo-{tag}"), mine.intake_port),
        _serve(infosocial_app(mine, consumer_group=f"infosocial-demo-{tag}", sweep=False), mine.infosocial_port),
        _serve(notifier_app(mine, notifier=notifier), mine.notifier_port),
    ]
    yield mine
    for server, _ in running:
        server.should_exit = True
    for _, thread in running:
        thread.join(15)
    notifier.stop()


def test_the_demo_seeds_roster_history_and_frames_then_streams(platform):
    stop = threading.Event()
    demo = Demo(platform, DemoOptions(rate=2.0, seed=int(uuid.uuid4().hex[:6], 16), history_days=10, frames=2), stop)
    thread = threading.Thread(target=demo.run, daemon=True)
    thread.start()

    def auth(role: str, subject: str = "verif") -> dict:
        return {"Authorization": "Bearer " + issue_token(platform.dyade_token_secret, subject=subject, role=role)}
    intake, infosocial, notifier = (httpx.Client(base_url=platform.url_of(n), timeout=30)
                                    for n in ("intake", "infosocial", "notifier"))
    try:
        wait_until(lambda: demo.history_done.is_set(), timeout=120)
        wait_until(lambda: demo.stats["calls"] >= 4, timeout=120)
        dyads = {d["dyad_id"]: d for d in _dyads(notifier.get("/v1/dyads", headers=auth("supervisor")).json())}
        assert {"D1", "D2", "D3", "D4"} <= set(dyads)

        keys = []
        for person in demo.featured:
            r = intake.post("/v1/persons/resolve", json={**person.canonical, "role": "sujet"}, headers=auth("social_worker"))
            assert r.status_code == 200 and r.json()["match"] == "exact", r.text
            keys.append(r.json()["person_key"])

        def frames_active() -> bool:
            return all(infosocial.get(f"/v1/persons/{k}/frame", headers=auth("social_worker")).status_code == 200
                       for k in keys)
        wait_until(frames_active, timeout=120)
        first_live = f"DEMO-{demo_run_id(demo)}-00002"
        r = intake.get(f"/v1/calls/{first_live}", headers=auth("dispatch"))
        assert r.status_code == 200, r.text
        assert demo.stats["rejected"] == 0
    finally:
        stop.set()
        thread.join(30)
        for c in (intake, infosocial, notifier):
            c.close()
    assert not thread.is_alive()


def _dyads(body) -> list[dict]:
    items = body.get("dyads", body) if isinstance(body, dict) else body
    return [{**d, "dyad_id": d.get("dyad_id") or d.get("id")} for d in items]


def demo_run_id(demo: Demo) -> str:
    return demo.live_stream.run_id


def test_history_is_replayed_once_per_dyade_home(offline_demo):
    demo = offline_demo
    demo._save_state(history={"seed": demo.options.seed, "at": "2026-11-01T08:00:00-04:00"})
    try:
        demo.history_done.clear()
        demo.replay_history()  # intake is not even running: nothing is sent
        assert demo.history_done.is_set()
    finally:
        demo.state_path.unlink()
