"""ASGI guard for request bodies: refuses, before any parsing, a body that is not UTF-8 (400, naming the
byte) or that is larger than the limit even when sent without Content-Length (413)."""
from __future__ import annotations

import orjson

from dyade.service import MAX_BODY_BYTES


async def _reply(send, status: int, detail: str) -> None:
    body = orjson.dumps({"detail": detail, "errors": [{"field": "(corps)", "problem": detail}]})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class Utf8BodyGuard:
    def __init__(self, app, max_bytes: int = MAX_BODY_BYTES):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return await _reply(send, 413, f"corps de requête trop volumineux (max {self.max_bytes} octets)")
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            return await _reply(send, 400, f"corps de requête: UTF-8 invalide à l'octet {exc.start}")
        delivered = False

        async def replay():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)
