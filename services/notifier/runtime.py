"""Wiring of the notifier: database, consumers, outbox relay, delivery worker, scheduler and the
live-stream hub. One object per process; tests drive it directly (injected clock, `tick(now)`)."""
from __future__ import annotations

import asyncio
import logging
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dyade import ledger
from dyade.clock import utcnow
from dyade.contracts.topics import TOPICS
from dyade.db import make_engine, make_sessionmaker, unit_of_work
from dyade.settings import Settings

from services.notifier.adapters import alerts, delivery, followups, handlers
from services.notifier.entrypoints import views
from services.notifier.config import NotifierConfig
from services.notifier.entrypoints.consumers import start_consumers
from services.notifier.adapters.models import AlertEventRow, AlertRow, DyadRow, OutboxRow, SubscriptionRow, processed
from services.notifier.adapters.outbox import ASSIGNING, EventRelay, Relay

log = logging.getLogger("dyade.notifier")
PRUNE_EVERY = timedelta(hours=1)
OUTBOX_KEPT = timedelta(days=7)   # published rows, kept a week for an operator's questions
# an event id is kept as long as its topic may deliver it again (the longest retention the notifier reads)
LEDGER_KEPT = timedelta(days=max(t.retention_days or 0 for t in TOPICS if "notifier" in t.consumed_by) + 7)
# a cleared call is kept while a decision about it could page: past the horizon none does (`hors_horizon`);
# a day more for the CAD's clock and a lagging triage
CLEARED_KEPT_PAST_HORIZON = timedelta(days=1)
RESUMED_AT_MOST = 500   # deliveries queued again at start, the most recently assigned


class Hub:
    """Wakes the live streams (asyncio) when any thread committed alert changes."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.waiters: set[asyncio.Event] = set()
        self.lock = threading.Lock()

    def subscribe(self) -> asyncio.Event:
        self.loop = asyncio.get_running_loop()
        ev = asyncio.Event()
        with self.lock:
            self.waiters.add(ev)
        return ev

    def unsubscribe(self, ev: asyncio.Event) -> None:
        with self.lock:
            self.waiters.discard(ev)

    def notify(self) -> None:
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        with self.lock:
            waiters = list(self.waiters)
        for ev in waiters:
            loop.call_soon_threadsafe(ev.set)


class Notifier:
    _pruned_at: datetime | None = None

    def __init__(self, settings: Settings, config: NotifierConfig | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.settings, self.config, self.clock = settings, config or NotifierConfig(), clock
        self.engine = make_engine(settings.db_url)
        self.sessions = make_sessionmaker(self.engine)
        self.hub = Hub()
        self.vapid = delivery.load_vapid(settings.dyade_home)
        self.webhook_policy = delivery.WebhookPolicy.of(settings, self.config)  # where webhooks may go
        self.deliveries: "queue.Queue[str]" = queue.Queue()
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.consumers: list = []
        self.relay: Relay | None = None
        self.event_relay: EventRelay | None = None  # notifier_outbox: the register's entries

    # --- transactions ---------------------------------------------------------------------------
    @contextmanager
    def work(self) -> Iterator[Session]:
        """A unit of work; once committed, the relay and the live streams are woken."""
        with unit_of_work(self.sessions) as session:
            yield session
        self.changed()

    def changed(self) -> None:
        for relay in (self.relay, self.event_relay):
            if relay:
                relay.notify()
        self.hub.notify()

    # --- life cycle -----------------------------------------------------------------------------
    def start(self) -> "Notifier":
        bootstrap = self.settings.kafka_bootstrap_servers
        self.resume_deliveries()
        if bootstrap:
            self.relay = Relay(self.sessions, bootstrap, self.deliveries).start()
            self.event_relay = EventRelay(self.sessions, bootstrap).start()
            self.consumers = start_consumers(self, bootstrap)
        self._thread(self._deliver_loop, "notifier-delivery")
        if self.config.tick_s > 0:
            self._thread(self._schedule_loop, "notifier-scheduler")
        return self

    def stop(self) -> None:
        self.stop_event.set()
        for c in self.consumers:
            c.stop()
        for relay in (self.relay, self.event_relay):
            if relay:
                relay.stop()
        self.deliveries.put("")
        for t in self.threads:
            t.join(10)
        self.engine.dispose()

    def ready(self) -> None:
        if self.relay and not self.relay.alive:
            raise RuntimeError("relais des événements d'alerte arrêté")
        if self.event_relay and not self.event_relay.alive:
            raise RuntimeError("relais du registre des communications arrêté")
        stalled = [t.name for t in self.threads if not t.is_alive()]
        if stalled:
            raise RuntimeError(f"tâches arrêtées: {', '.join(stalled)}")

    def _thread(self, target, name: str) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        self.threads.append(t)

    # --- scheduler ------------------------------------------------------------------------------
    def tick(self, now: datetime | None = None) -> dict:
        """Escalations, expiries and follow-up reminders due at `now` (the scheduler's clock)."""
        now = (now or self.clock()).astimezone(timezone.utc)
        with self.work() as session:
            escalated = alerts.run_due(session, self.config, now=now)
        with self.work() as session:
            reminders = followups.remind_due(session, now=now, tz=self.config.tz)
        out = {"escalated_or_expired": escalated, "reminders": reminders}
        if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
            with self.work() as session:
                out["pruned"] = ledger.prune(session, outbox_table=OutboxRow.__table__, processed=processed,
                                             sent_before=now - OUTBOX_KEPT, processed_before=now - LEDGER_KEPT)
                out["pruned"] += handlers.forget_cleared_calls(
                    session, before=now - self.config.horizon - CLEARED_KEPT_PAST_HORIZON)
            self._pruned_at = now
        return out

    def _schedule_loop(self) -> None:
        while not self.stop_event.wait(self.config.tick_s):
            try:
                self.tick()
            except Exception:
                log.exception("scheduler tick failed")

    # --- delivery -------------------------------------------------------------------------------
    def resume_deliveries(self) -> int:
        """Queues again, at start, the deliveries a stopped process may have lost: the relay hands an alert to
        the in-memory delivery queue once its assignment is published, so a crash between the two left the
        dyad's devices without the push (the app's live stream still shows the alert). An alert assigned to a
        dyad and not delivered since, whose changes are all published, is delivered again — at worst a second
        push of an alert the devices already show (the app keeps one entry per alert); one whose changes are
        not all published goes through the relay as usual."""
        unpublished = select(AlertEventRow.id).where(AlertEventRow.alert_id == AlertRow.alert_id,
                                                     AlertEventRow.outbound.is_(True),
                                                     AlertEventRow.published_at.is_(None))
        with self.sessions() as session:
            ids = list(session.scalars(select(AlertRow.alert_id).where(
                AlertRow.state.in_(ASSIGNING), AlertRow.dyad_id.is_not(None), ~unpublished.exists())
                .order_by(AlertRow.assigned_at.desc()).limit(RESUMED_AT_MOST)))
        for alert_id in reversed(ids):   # the oldest first, as they were assigned
            self.deliveries.put(alert_id)
        if ids:
            log.info("deliveries resumed", extra={"alerts": len(ids)})
        return len(ids)

    def _deliver_loop(self) -> None:
        """A few deliveries at once: a slow webhook must not hold back the next alert's push."""
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="notifier-deliver") as pool:
            while not self.stop_event.is_set():
                alert_id = self.deliveries.get()
                if alert_id:
                    pool.submit(self._deliver_logged, alert_id)

    def _deliver_logged(self, alert_id: str) -> None:
        try:
            self.deliver(alert_id)
        except Exception:
            log.exception("delivery failed", extra={"alert_id": alert_id})

    def deliver(self, alert_id: str) -> list[tuple[str, delivery.Sent]]:
        """Web Push to the dyad's devices and the signed webhook; any success marks it delivered."""
        with self.sessions() as session:
            alert = session.get(AlertRow, alert_id)
            if alert is None or not alert.dyad_id or alert.state not in ("created", "escalated"):
                return []
            dyad = session.get(DyadRow, alert.dyad_id)
            subs = list(session.scalars(select(SubscriptionRow).where(SubscriptionRow.dyad_id == alert.dyad_id)))
            if not subs and not (dyad is not None and dyad.webhook_url):
                return []   # the app's live stream is this dyad's only channel
            message, body = views.push_message(alert), views.summaries(session, [alert], tz=self.config.tz)[0]
            dyad_id = alert.dyad_id
        webhook = dyad.webhook_url if dyad is not None and dyad.webhook_url and dyad.webhook_secret else None
        with self.work() as session:  # no sending without its entries in the register of communications
            delivery.record_sending(session, alert_id=alert_id, call_id=alert.call_id,
                                    person_keys=list(alert.person_keys or []), dyad_id=dyad_id, sector=alert.sector,
                                    webhook_url=webhook, push_endpoints=[s.endpoint for s in subs], now=self.clock())
        results: list[tuple[str, delivery.Sent]] = []
        for sub in subs:
            sent = delivery.send_push(self.vapid, endpoint=sub.endpoint, p256dh=sub.p256dh, auth=sub.auth,
                                      message=message, subject=self.config.vapid_subject, ttl=self.config.push_ttl_s)
            results.append(("webpush", sent))
            if sent.gone:
                with self.work() as session:
                    session.execute(delete(SubscriptionRow).where(SubscriptionRow.id == sub.id))
        if webhook:
            sent = delivery.send_webhook(url=dyad.webhook_url, secret=dyad.webhook_secret,
                                         body={"event": "alert.assigned", "alert": body}, policy=self.webhook_policy)
            results.append(("webhook", sent))
        for channel, sent in results:
            if sent.ok:
                with self.work() as session:
                    alerts.mark_delivered(session, alert_id, dyad_id, now=self.clock(), channel=channel)
                break
        if any(not s.ok for _, s in results):
            log.warning("delivery channel failed", extra={"alert_id": alert_id,
                                                          "failures": [(c, s.status) for c, s in results if not s.ok]})
        return results
