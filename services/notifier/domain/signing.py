"""Signed webhooks for CAD mobile terminals: HMAC-SHA256 over `<timestamp>.<body>`; the receiver
rejects a bad signature or a timestamp outside the tolerance (replay)."""
from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Dyade-Signature"
TIMESTAMP_HEADER = "X-Dyade-Timestamp"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str | int, body: bytes, signature: str, *, now: float,
           tolerance_s: int = 300) -> bool:
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs(now - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature or "")
