"""Other triage workers, for the read API: each worker holds the tables of the partitions assigned to it,
so a read about a key held elsewhere is forwarded to the worker holding it (its URL comes from faust's
partition assignor, which shares every member's `canonical_url`). The owner audits the read and checks the
reader (role, audience, claims, sector: dyade.access) on its own — the forwarded request carries the reader's
token as a bearer header, whichever way it came (header or `dyade_token` cookie; one in the address was refused
before any forwarding) — and a header so it is answered where it lands, never forwarded twice."""
from __future__ import annotations

import httpx
from fastapi import Request
from fastapi.responses import JSONResponse
from kafka.partitioner.default import murmur2

from dyade.auth import token_from

FORWARDED = "x-dyade-forwarded-by"


def forwarded(request: Request) -> bool:
    return FORWARDED in request.headers


def partition_of(key: str, partitions: int) -> int:
    """The partition of a key, as the producers put it there (Java's default partitioner: murmur2)."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


class Peers:
    def __init__(self, app, timeout: float = 5.0):
        self.app = app
        self.me = str(app.conf.canonical_url).rstrip("/")
        self.timeout = timeout

    def owner(self, table_name: str, key: str) -> str | None:
        """URL of the other worker holding `key` in the table; None when it is this one (or none known)."""
        table = self.app.tables[table_name]
        topic = table.changelog_topic.get_topic_name()
        partition = partition_of(key, table.partitions or self.app.conf.topic_partitions)
        for host, topics in self.app.router.table_metadata(table_name).items():
            if partition in topics.get(topic, ()):
                host = str(host).rstrip("/")
                return None if host == self.me else host
        return None

    def others(self) -> list[str]:
        hosts = {str(h).rstrip("/") for h in self.app.router.tables_metadata()}
        return sorted(hosts - {self.me})

    async def forward(self, host: str, request: Request) -> JSONResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() == "accept-language"}
        if token := token_from(request):
            headers["Authorization"] = "Bearer " + token  # the owner checks it again
        headers[FORWARDED] = self.me
        url = host + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                r = await client.get(url, headers=headers)
        except httpx.HTTPError as exc:
            return JSONResponse({"detail": f"le worker de triage qui détient cette clé ({host}) ne répond pas: "
                                           f"{type(exc).__name__}"}, status_code=503)
        return JSONResponse(r.json(), status_code=r.status_code)
