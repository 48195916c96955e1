"""Local receivers for the tests: a Web Push endpoint that checks the VAPID JWT (RFC 8292) and decrypts
the aes128gcm payload with the subscription's private key (RFC 8291), and a webhook receiver that
checks the HMAC signature. Nothing here trusts the sender: a bad request gets 4xx, as a real push
service or CAD terminal would answer."""
from __future__ import annotations

import base64
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from services.notifier.domain.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Device:
    """A browser's push subscription: its own P-256 key pair and auth secret."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)

    def subscription(self) -> dict:
        raw = self.key.public_key().public_bytes(serialization.Encoding.X962,
                                                 serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": self.endpoint, "keys": {"p256dh": b64u(raw), "auth": b64u(self.auth)},
                "expirationTime": None}


class Receivers:
    def __init__(self):
        self.devices: dict[str, Device] = {}
        self.pushes: list[dict] = []       # decrypted messages
        self.webhooks: list[dict] = []     # verified bodies
        self.rejected: list[str] = []
        self.webhook_secret: str | None = None
        self.vapid_public_key: str | None = None
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def device(self, name: str) -> Device:
        d = Device(f"{self.url}/push/{name}")
        self.devices[name] = d
        return d

    def close(self):
        self.server.shutdown()

    def _handler(self):
        receivers = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    if self.path.startswith("/push/"):
                        status = receivers._push(self.path.rsplit("/", 1)[1], self.headers, body)
                    else:
                        status = receivers._webhook(self.headers, body)
                except Exception as exc:
                    receivers.rejected.append(f"{type(exc).__name__}: {exc}")
                    status = 400
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
        return Handler

    def _push(self, name: str, headers, body: bytes) -> int:
        device = self.devices.get(name)
        if device is None:
            return 410
        scheme, _, params = headers["Authorization"].partition(" ")
        assert scheme == "vapid", f"schéma d'autorisation {scheme!r}"
        fields = dict(p.strip().split("=", 1) for p in params.split(","))
        if self.vapid_public_key:
            assert fields["k"] == self.vapid_public_key, "clé VAPID inattendue"
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64u(fields["k"]))
        claims = jwt.decode(fields["t"], key=public, algorithms=["ES256"], audience=self.url)  # signature + aud + exp
        assert claims["sub"].startswith("mailto:") and claims["exp"] <= time.time() + 24 * 3600
        assert headers["Content-Encoding"] == "aes128gcm" and int(headers["TTL"]) > 0
        plain = http_ece.decrypt(body, private_key=device.key, auth_secret=device.auth, version="aes128gcm")
        self.pushes.append({"device": name, **orjson.loads(plain)})
        return 201

    def _webhook(self, headers, body: bytes) -> int:
        if not verify(self.webhook_secret or "", headers.get(TIMESTAMP_HEADER), body,
                      headers.get(SIGNATURE_HEADER, ""), now=time.time()):
            self.rejected.append("signature de webhook invalide")
            return 401
        self.webhooks.append(orjson.loads(body))
        return 204
