"""Delivery to devices: Web Push (VAPID, RFC 8291/8292, via pywebpush) for phones in the background,
and a signed webhook (HMAC-SHA256 over `<timestamp>.<body>`) for CAD mobile terminals.

A webhook goes only where it may: https (http only in the embedded default or with
DYADE_WEBHOOK_ALLOW_HTTP), to public addresses: the host name is resolved and every address checked
(loopback, private, link-local, multicast, reserved and unspecified refused, unless allow-listed in
NOTIFIER_WEBHOOK_ALLOWLIST) when the webhook is registered AND at each delivery, and the request goes to
the address that was checked (a name that resolves elsewhere meanwhile — DNS rebinding — changes nothing).

An alert's content sent out is a communication of the information of the alert's persons: `record_sending`
enters it in the register of communications (communications.recorded.v1, through the outbox) before anything
is sent — no sending without its entry; an attempt that then fails stays recorded, since the content may have
left."""
from __future__ import annotations

import base64
import ipaddress
import logging
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush
from sqlalchemy import select
from sqlalchemy.orm import Session

from dyade.contracts import (CommunicationPayload, CommunicationRecorded, InformationType, LegalBasis, Recipient,
                             Reference)
from dyade.files import create_secret
from services.notifier.domain.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from services.notifier.adapters.models import FrameRow
from services.notifier.adapters.outbox import enqueue

log = logging.getLogger("dyade.notifier.delivery")


def load_vapid(home: Path) -> Vapid02:
    """The service's VAPID key pair, generated once and kept under DYADE_HOME/secrets."""
    path = Path(home) / "secrets" / "notifier_vapid_private.pem"
    if not path.exists():
        key = Vapid02()
        key.generate_keys()
        create_secret(path, key.private_pem())  # 0600 from the start; another process's key wins
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


# --- where a webhook may go --------------------------------------------------------------------------------

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[..., list]


class WebhookRefused(ValueError):
    """A webhook URL the notifier will not call; the message (French) says why."""


@dataclass(frozen=True)
class WebhookPolicy:
    allow_http: bool = False
    hosts: frozenset[str] = frozenset()            # allow-listed host names (lower case)
    networks: tuple[Network, ...] = field(default=())  # allow-listed CIDRs (a single address is a /32 or /128)

    @classmethod
    def parse(cls, allowlist: str, *, allow_http: bool = False) -> "WebhookPolicy":
        """`allowlist`: comma-separated host names or CIDRs (NOTIFIER_WEBHOOK_ALLOWLIST)."""
        hosts, networks = set(), []
        for item in (x.strip() for x in (allowlist or "").split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
            except ValueError:
                hosts.add(item.lower().rstrip("."))
        return cls(allow_http, frozenset(hosts), tuple(networks))

    @classmethod
    def of(cls, settings, config) -> "WebhookPolicy":
        return cls.parse(config.webhook_allowlist,
                         allow_http=settings.embedded or settings.dyade_webhook_allow_http)

    def allows(self, address: IPAddress) -> bool:
        return any(address in n for n in self.networks if n.version == address.version)


@dataclass(frozen=True)
class Target:
    url: str
    host: str
    port: int
    address: IPAddress  # the checked address the request goes to


def not_public(address: IPAddress) -> str | None:
    """Why an address is not a public one (in French), or None."""
    if address.version == 6:
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None:
            return not_public(embedded)
    for reason, flag in (("de bouclage", address.is_loopback), ("non spécifiée", address.is_unspecified),
                         ("lien local", address.is_link_local), ("multidiffusion", address.is_multicast),
                         ("réservée", address.is_reserved), ("privée", address.is_private)):
        if flag:
            return reason
    return None if address.is_global else "non publique"


def check_webhook_url(url: str, policy: WebhookPolicy, resolve: Resolver = socket.getaddrinfo) -> Target:
    """The target of a webhook URL, every address of its host checked; WebhookRefused otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookRefused(f"URL de webhook invalide : {exc}") from None
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and policy.allow_http):
        raise WebhookRefused("le webhook doit être en https:// (http:// seulement en mode embarqué ou avec "
                             "DYADE_WEBHOOK_ALLOW_HTTP)")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise WebhookRefused("URL de webhook sans nom d'hôte")
    if parts.username is not None or parts.password is not None:
        raise WebhookRefused("URL de webhook avec identifiants (utilisateur:mot de passe@) : refusée")
    port = port or (443 if scheme == "https" else 80)
    try:
        infos = resolve(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise WebhookRefused(f"nom d'hôte du webhook introuvable : {host} ({exc})") from None
    addresses: list[IPAddress] = []
    for info in infos:
        try:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        except ValueError:
            continue
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise WebhookRefused(f"nom d'hôte du webhook sans adresse : {host}")
    if host.lower() not in policy.hosts:
        for address in addresses:
            reason = not_public(address)
            if reason and not policy.allows(address):
                raise WebhookRefused(f"adresse {reason} refusée pour le webhook : {host} → {address} "
                                     f"(à autoriser au besoin dans NOTIFIER_WEBHOOK_ALLOWLIST)")
    return Target(url, host, port, addresses[0])


def send_webhook(*, url: str, secret: str, body: dict, now: float | None = None,
                 policy: WebhookPolicy | None = None, resolve: Resolver = socket.getaddrinfo) -> Sent:
    """POST the signed body. With `policy`, the target is checked again now and the request goes to the
    address just checked (TLS still verifies the certificate of the host name)."""
    raw = orjson.dumps(body)
    ts = int(now if now is not None else time.time())
    headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: sign(secret, ts, raw)}
    extensions: dict = {}
    if policy is not None:
        try:
            target = check_webhook_url(url, policy, resolve)
        except WebhookRefused as exc:
            return Sent(False, error=str(exc)[:200])
        url, pinned_headers, extensions = pinned(target)
        headers.update(pinned_headers)
    try:
        with httpx.Client(timeout=10, follow_redirects=False) as client:
            resp = client.post(url, content=raw, headers=headers, extensions=extensions)
        return Sent(resp.is_success, resp.status_code)
    except httpx.HTTPError as exc:
        return Sent(False, error=f"{type(exc).__name__}: {exc}"[:200])


def pinned(target: Target) -> tuple[str, dict[str, str], dict]:
    """The URL with the checked address in place of the host name, the Host header, and the TLS server name."""
    parts = urlsplit(target.url)
    literal = f"[{target.address}]" if target.address.version == 6 else str(target.address)
    url = urlunsplit((parts.scheme, f"{literal}:{target.port}", parts.path or "/", parts.query, ""))
    extensions = {"sni_hostname": target.host} if parts.scheme.lower() == "https" else {}
    return url, {"Host": parts.netloc}, extensions


# --- the register of communications --------------------------------------------------------------------------

SENDING_PURPOSE = "alerte à la dyade assignée, pour une intervention adaptée"


def webhook_name(url: str) -> str:
    """A webhook as the register names it: its host (the path may carry a token; the secret never leaves)."""
    try:
        return (urlsplit(url).hostname or "?")[:200]
    except ValueError:
        return "?"


def record_sending(session: Session, *, alert_id: str, call_id: str | None, person_keys: list[str],
                   dyad_id: str, sector: str | None, webhook_url: str | None, push_endpoints: list[str],
                   now: datetime) -> int:
    """Enters in the register, in the session's transaction, the alert's content about to go to the webhook and
    to the dyad's devices: one entry per person of the alert and channel, on the basis of the person's frame
    as the notifier holds it (the alert shows whether the person has one), else none needed. Returns how many."""
    keys = list(dict.fromkeys(person_keys))
    bases = dict(session.execute(select(FrameRow.person_key, FrameRow.police_view)
                                 .where(FrameRow.person_key.in_(keys))).all()) if keys else {}
    channels = []
    if webhook_url:
        channels.append((InformationType.ALERTE_WEBHOOK,
                         Recipient(organisation="Terminal mobile du RAO (webhook de la dyade)", channel="webhook",
                                   dyad_id=dyad_id, sector=sector, webhook=webhook_name(webhook_url))))
    if push_endpoints:
        hosts = ", ".join(sorted({webhook_name(e) for e in push_endpoints}))
        channels.append((InformationType.ALERTE_APPAREIL,
                         Recipient(organisation=f"Appareils de la dyade, par le service Web Push ({hosts})"[:200],
                                   channel="web_push", dyad_id=dyad_id, sector=sector)))
    count = 0
    for key in keys:
        basis = LegalBasis((bases.get(key) or {}).get("legal_basis", LegalBasis.AUCUNE))
        for information, recipient in channels:
            payload = CommunicationPayload(person_key=key, information=information, recipient=recipient,
                                           purpose=SENDING_PURPOSE, legal_basis=basis,
                                           reference=Reference(call_id=call_id, alert_id=alert_id))
            enqueue(session, CommunicationRecorded.new(payload=payload, occurred_at=now, source="notifier",
                                                       correlation_id=call_id or alert_id))
            count += 1
    return count
