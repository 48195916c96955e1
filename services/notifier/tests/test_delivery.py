"""Delivery: the live stream resends what a client missed when it reconnects; Web Push reaches a
local push endpoint that checks VAPID and decrypts the payload; the webhook is signed."""
from __future__ import annotations

import httpx
import orjson
import pytest

from dyade.kafka import wait_until
from services.notifier.tests.conftest import ALWAYS, alert_for, alert_row, alerted, decision, put_dyad, send
from services.notifier.tests.endpoints import Receivers


@pytest.fixture
def receivers():
    r = Receivers()
    yield r
    r.close()


def sse_events(response, want: set[str], limit: int = 200):
    """Read SSE messages until every alert id in `want` has been seen; returns [(id, data)]."""
    out, fields = [], {}
    for line in response.iter_lines():
        if line == "":
            if "data" in fields:
                data = orjson.loads(fields["data"])
                out.append((int(fields["id"]), data))
                want.discard(data["alert"]["alert_id"])
                if not want or len(out) >= limit:
                    return out
            fields = {}
        elif not line.startswith(":"):
            key, _, value = line.partition(":")
            fields[key] = value.lstrip(" ")
    return out


def test_stream_resends_what_was_missed_on_reconnect(notifier, http, base_url, supervisor, producer, clock,
                                                     unique, token):
    put_dyad(http, supervisor, f"A{unique}", f"X{unique}", shifts=ALWAYS)
    me = token("dyad", dyad_id=f"A{unique}", sector=f"X{unique}")
    cursor = http.get("/v1/alerts", headers=me).json()["cursor"]
    timeout = httpx.Timeout(60, read=60)
    with httpx.stream("GET", f"{base_url}/v1/stream?cursor={cursor}", headers=me, timeout=timeout) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        first = alerted(notifier, producer, f"l1-{unique}", sector=f"X{unique}", at=clock())
        got = sse_events(resp, {first.alert_id})
    last_id = got[-1][0]
    assert got[-1][1]["alert"]["level_label"] == "Dyade suggérée"
    wait_until(lambda: alert_row(notifier, first.alert_id).state == "delivered")  # the app got it

    # offline: two calls come in
    send(producer, decision(f"l2-{unique}", sector=f"X{unique}", at=clock()),
         decision(f"l3-{unique}", sector=f"X{unique}", at=clock()))
    missed = {alert_for(notifier, f"l2-{unique}").alert_id, alert_for(notifier, f"l3-{unique}").alert_id}
    with httpx.stream("GET", f"{base_url}/v1/stream", headers={**me, "Last-Event-ID": str(last_id)},
                      timeout=timeout) as resp:
        again = sse_events(resp, set(missed))
    assert missed <= {d["alert"]["alert_id"] for _, d in again}
    ids = [i for i, _ in again]
    assert len(ids) == len(set(ids))   # the window behind the cursor may send a change again, never twice


def _stored_alert(alert_id: str, state: str, dyad_id: str, sector: str):
    from datetime import datetime, timezone
    from services.notifier.adapters.models import AlertRow
    now = datetime.now(timezone.utc)
    return AlertRow(alert_id=alert_id, kind="appel", state=state, dyad_id=dyad_id, sector=sector,
                    level="dyade_prioritaire", call_ids=[], person_keys=[], reasons=[], tried=[dyad_id],
                    created_at=now, assigned_at=now, updated_at=now)


def _change(alert_id: str, state: str, dyad_id: str, previous_dyad_id: str | None = None):
    import uuid
    from datetime import datetime, timezone
    from services.notifier.adapters.models import AlertEventRow
    return AlertEventRow(event_id=str(uuid.uuid4()), alert_id=alert_id, state=state, dyad_id=dyad_id,
                         previous_dyad_id=previous_dyad_id, occurred_at=datetime.now(timezone.utc))


def test_stream_sends_a_change_committed_late_below_the_client_s_cursor(notifier, http, base_url, supervisor,
                                                                        unique, token):
    """PostgreSQL hands out ids at insert and the change commits later: a client that took its cursor in
    between (GET /v1/alerts, or Last-Event-ID) still gets it from the window behind its cursor."""
    a, b, x = f"A{unique}", f"B{unique}", f"X{unique}"
    put_dyad(http, supervisor, a, x, shifts=ALWAYS)
    put_dyad(http, supervisor, b, x, shifts=ALWAYS)
    late, early, gone, probe = (f"al_{k}{unique}" for k in ("late", "early", "gone", "probe"))
    with notifier.work() as s:
        s.add_all([_stored_alert(late, "created", a, x), _stored_alert(early, "acknowledged", a, x),
                   _stored_alert(gone, "escalated", b, x), _stored_alert(probe, "acknowledged", a, x)])
        s.add(_change(gone, "escalated", b, previous_dyad_id=a))   # went from this dyad to B, before the cursor
    slow = notifier.sessions()     # e.g. a consumed batch: its row is written early, committed late
    try:
        slow.add(_change(late, "created", a))
        slow.flush()
        with notifier.work() as s:
            s.add(_change(early, "acknowledged", a))
        me = token("dyad", dyad_id=a, sector=x)
        cursor = http.get("/v1/alerts", headers=me).json()["cursor"]
        with httpx.stream("GET", f"{base_url}/v1/stream?cursor={cursor}", headers=me,
                          timeout=httpx.Timeout(60, read=60)) as resp:
            slow.commit()
            notifier.changed()
            with notifier.work() as s:
                s.add(_change(probe, "acknowledged", a))   # the stream has read past the late change
            got = sse_events(resp, {probe})
    finally:
        slow.close()
    streamed = {d["alert"]["alert_id"]: i for i, d in got}
    assert late in streamed and streamed[late] <= cursor
    assert gone in streamed   # the window behind the cursor re-sends it: harmless, the app upserts
    wait_until(lambda: alert_row(notifier, late).state == "delivered")   # the dyad's own alert, now on its app
    assert alert_row(notifier, gone).state == "escalated"   # B's alert: A's stream does not deliver it


def test_stream_is_per_dyad(http, base_url, token):
    with httpx.stream("GET", f"{base_url}/v1/stream", headers=token("dyad")) as resp:
        assert resp.status_code == 403


def test_web_push_reaches_the_device_encrypted_and_vapid_signed(notifier, http, supervisor, producer, clock,
                                                                unique, token, receivers):
    put_dyad(http, supervisor, f"A{unique}", f"X{unique}", shifts=ALWAYS)
    me = token("dyad", dyad_id=f"A{unique}", sector=f"X{unique}")
    receivers.vapid_public_key = http.get("/v1/push/key", headers=me).json()["public_key"]
    phone = receivers.device(f"phone-{unique}")
    r = http.post("/v1/subscriptions", json=phone.subscription(), headers=me)
    assert r.status_code == 201, r.text
    bad = http.post("/v1/subscriptions", json={"endpoint": "ftp://x", "keys": {"p256dh": "x"}}, headers=me)
    assert bad.status_code == 422 and "endpoint" in bad.json()["detail"]

    alert = alerted(notifier, producer, f"w1-{unique}", sector=f"X{unique}", at=clock(), level="dyade_prioritaire")
    [msg] = wait_until(lambda: [p for p in receivers.pushes if p["alert_id"] == alert.alert_id], timeout=60)
    assert msg["title"] == f"Alerte Dyade prioritaire — secteur X{unique}"
    assert "p_" not in orjson.dumps(msg).decode()   # no person key through a third-party push service
    assert receivers.rejected == []
    wait_until(lambda: alert_row(notifier, alert.alert_id).state == "delivered")

    receivers.devices.clear()   # the browser unsubscribed: the endpoint answers 410, the subscription is dropped
    send(producer, decision(f"w2-{unique}", sector=f"X{unique}", at=clock()))
    alert_for(notifier, f"w2-{unique}")

    def dropped():
        from sqlalchemy import select
        from services.notifier.adapters.models import SubscriptionRow
        with notifier.sessions() as s:
            return s.scalars(select(SubscriptionRow).where(SubscriptionRow.endpoint == phone.endpoint)).first() is None
    wait_until(dropped, timeout=60)


def test_webhook_is_signed_for_the_cad_terminal(notifier, http, supervisor, producer, clock, unique, receivers):
    put_dyad(http, supervisor, f"A{unique}", f"X{unique}", shifts=ALWAYS)
    r = http.put(f"/v1/dyads/A{unique}/webhook", json={"url": f"{receivers.url}/cad"}, headers=supervisor)
    assert r.status_code == 200
    receivers.webhook_secret = "pas-le-bon-secret"
    alert = alerted(notifier, producer, f"h1-{unique}", sector=f"X{unique}", at=clock(), summary="Voisin inquiet")
    wait_until(lambda: "signature de webhook invalide" in receivers.rejected, timeout=60)
    assert alert_row(notifier, alert.alert_id).state == "created"   # a refused webhook is not a delivery

    receivers.webhook_secret = r.json()["secret"]
    second = alerted(notifier, producer, f"h2-{unique}", sector=f"X{unique}", at=clock(), summary="Voisin inquiet")
    [body] = wait_until(lambda: [w for w in receivers.webhooks if w["alert"]["alert_id"] == second.alert_id],
                        timeout=60)
    assert body["event"] == "alert.assigned" and body["alert"]["summary"] == "Voisin inquiet"
    wait_until(lambda: alert_row(notifier, second.alert_id).state == "delivered")


def test_a_restarted_notifier_delivers_what_the_stopped_one_had_only_queued(notifier, http, supervisor, settings,
                                                                            unique, token, receivers):
    """The relay hands an assigned alert to the in-memory delivery queue once its change is published: a process
    that stopped in between left the dyad's devices without the push. The next process delivers it; not an
    alert already delivered, nor one whose change is not yet published (the relay hands that one over)."""
    from datetime import datetime, timezone

    from sqlalchemy import text

    from services.notifier.runtime import Notifier
    put_dyad(http, supervisor, f"R{unique}", f"Y{unique}", shifts=ALWAYS)
    me = token("dyad", dyad_id=f"R{unique}", sector=f"Y{unique}")
    receivers.vapid_public_key = http.get("/v1/push/key", headers=me).json()["public_key"]
    phone = receivers.device(f"phone-r-{unique}")
    assert http.post("/v1/subscriptions", json=phone.subscription(), headers=me).status_code == 201
    lost, delivered, unpublished = (f"lost-{unique}", f"done-{unique}", f"relay-{unique}")
    restarted = Notifier(settings.model_copy(update={"kafka_bootstrap_servers": "", "dyade_webhook_allow_http": True}),
                         notifier.config)
    with notifier.engine.connect() as relay_busy:
        if notifier.engine.dialect.name == "postgresql":   # the running relay holds off: the change stays unpublished
            relay_busy.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": notifier.relay.lock_key})
        with notifier.work() as s:   # what the stopped process left
            for alert_id, state in ((lost, "created"), (delivered, "delivered"), (unpublished, "created")):
                s.add(_stored_alert(alert_id, state, f"R{unique}", f"Y{unique}"))
                change = _change(alert_id, "created", f"R{unique}")
                change.published_at = None if alert_id == unpublished else datetime.now(timezone.utc)
                s.add(change)
        queued, put = [], restarted.deliveries.put
        restarted.deliveries.put = lambda alert_id: (queued.append(alert_id), put(alert_id))
        restarted.start()   # queues what was lost; its delivery worker takes it
        relay_busy.rollback()
    try:
        assert lost in queued and delivered not in queued
        if notifier.engine.dialect.name == "postgresql":
            assert unpublished not in queued
        [msg] = wait_until(lambda: [p for p in receivers.pushes if p["alert_id"] == lost], timeout=60)
        assert msg["title"] == f"Alerte Dyade prioritaire — secteur Y{unique}"
        wait_until(lambda: alert_row(notifier, lost).state == "delivered")
    finally:
        restarted.stop()
