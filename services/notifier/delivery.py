"""Delivery to devices: Web Push (VAPID, RFC 8291/8292, via pywebpush) for phones in the background,
and a signed webhook (HMAC-SHA256 over `<timestamp>.<body>`) for CAD mobile terminals."""
from __future__ import annotations

import base64
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush

from services.notifier.domain.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

log = logging.getLogger("dyade.notifier.delivery")


def load_vapid(home: Path) -> Vapid02:
    """The service's VAPID key pair, generated once and kept under DYADE_HOME/secrets."""
    path = home / "secrets" / "notifier_vapid_private.pem"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Vapid02()
        key.generate_keys()
        key.save_key(str(path))
        path.chmod(0o600)
    return Vapid02.from_file(str(path))


def application_server_key(vapid: Vapid02) -> str:
    """The public key as the browser's PushManager.subscribe wants it (base64url, uncompressed point)."""
    raw = vapid.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True)
class Sent:
    ok: bool
    status: int | None = None
    gone: bool = False  # the subscription no longer exists (404/410): forget it
    error: str | None = None


def send_push(vapid: Vapid02, *, endpoint: str, p256dh: str, auth: str, message: dict, subject: str,
              ttl: int) -> Sent:
    info = {"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}}
    try:
        resp = webpush(info, data=orjson.dumps(message).decode(), vapid_private_key=vapid,
                       vapid_claims={"sub": subject}, ttl=ttl, timeout=10, headers={"Urgency": "high"})
        return Sent(True, resp.status_code)
    except WebPushException as exc:
        status = exc.response.status_code if exc.response is not None else None
        return Sent(False, status, gone=status in (404, 410), error=str(exc)[:200])
    except Exception as exc:  # network errors: the escalation clock covers a phone that never got it
        return Sent(False, error=f"{type(exc).__name__}: {exc}"[:200])


def send_webhook(*, url: str, secret: str, body: dict, now: float | None = None) -> Sent:
    raw = orjson.dumps(body)
    ts = int(now if now is not None else time.time())
    headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: sign(secret, ts, raw)}
    try:
        resp = httpx.post(url, content=raw, headers=headers, timeout=10)
        return Sent(resp.is_success, resp.status_code)
    except httpx.HTTPError as exc:
        return Sent(False, error=f"{type(exc).__name__}: {exc}"[:200])
