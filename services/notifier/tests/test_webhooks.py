"""Where a webhook may go: https (http only in the embedded default or with DYADE_WEBHOOK_ALLOW_HTTP), public
addresses only — every address of the host checked when it is registered and again at each delivery (DNS
rebinding), the request sent to the address checked — unless allow-listed (NOTIFIER_WEBHOOK_ALLOWLIST)."""
from __future__ import annotations

import socket

import pytest

from dyade.settings import Settings
from services.notifier.config import NotifierConfig
from services.notifier.adapters.delivery import WebhookPolicy, WebhookRefused, check_webhook_url, send_webhook
from services.notifier.tests.conftest import put_dyad
from services.notifier.tests.endpoints import Receivers

PUBLIC = "93.184.215.14"


def resolver(*addresses: str):
    """A getaddrinfo that answers `addresses` for any name (literal IPs as the real one does)."""
    def resolve(host, port, type=0, **_):
        out = []
        for a in addresses or (host,):
            family = socket.AF_INET6 if ":" in a else socket.AF_INET
            out.append((family, socket.SOCK_STREAM, 6, "", (a, port) if family == socket.AF_INET else (a, port, 0, 0)))
        return out
    return resolve


STRICT = WebhookPolicy()


@pytest.mark.parametrize("url,why", [
    ("http://127.0.0.1:8004/cad", "https"),
    ("https://127.0.0.1:8004/cad", "de bouclage"),
    ("https://169.254.169.254/latest/meta-data/", "lien local"),
    ("https://[::1]:5432/", "de bouclage"),
    ("https://10.1.2.3/", "privée"),
    ("https://192.168.0.10/", "privée"),
    ("https://172.16.5.4/", "privée"),
    ("https://100.64.0.1/", "non publique"),
    ("https://0.0.0.0/", "non spécifiée"),
    ("https://224.0.0.1/", "multidiffusion"),
    ("https://240.0.0.1/", "réservée"),
    ("https://[::ffff:127.0.0.1]/", "de bouclage"),
    ("https://[fe80::1]/", "lien local"),
    ("https://[fd00::1]/", "privée"),
    ("https://user:pass@cad.example.org/", "identifiants"),
    ("https:///chemin", "nom d'hôte"),
    ("https://cad.example.org:99999/", "invalide"),
])
def test_refused_targets_say_why_in_french(url, why):
    with pytest.raises(WebhookRefused, match=why):
        check_webhook_url(url, STRICT)


def test_a_public_https_target_is_accepted_and_every_address_is_checked():
    target = check_webhook_url("https://cad.example.org/hook", STRICT, resolver(PUBLIC))
    assert (target.host, target.port, str(target.address)) == ("cad.example.org", 443, PUBLIC)
    with pytest.raises(WebhookRefused, match=r"privée.*cad.example.org → 10.0.0.7"):
        check_webhook_url("https://cad.example.org/hook", STRICT, resolver(PUBLIC, "10.0.0.7"))


def test_unknown_host_is_refused():
    def fails(*_a, **_k):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    with pytest.raises(WebhookRefused, match="introuvable"):
        check_webhook_url("https://nulle-part.invalid/", STRICT, fails)


def test_the_allowlist_admits_named_hosts_and_cidrs():
    policy = WebhookPolicy.parse("cad-gw.interne, 10.20.0.0/16, 127.0.0.1,[::1]", allow_http=True)
    assert check_webhook_url("https://cad-gw.interne/x", policy, resolver("10.9.9.9")).host == "cad-gw.interne"
    assert str(check_webhook_url("http://terminal/x", policy, resolver("10.20.3.4")).address) == "10.20.3.4"
    assert check_webhook_url("http://127.0.0.1:9/x", policy).port == 9
    assert check_webhook_url("http://[::1]:5432/", policy).port == 5432
    with pytest.raises(WebhookRefused, match="privée"):
        check_webhook_url("http://terminal/x", policy, resolver("10.21.0.1"))


def test_http_only_in_the_embedded_default_or_when_allowed():
    config = NotifierConfig(_env_file=None)
    embedded = Settings(_env_file=None, dyade_home="/nonexistent")
    production = Settings(_env_file=None, kafka_bootstrap_servers="kafka:9092", database_url="postgresql://x@db/d")
    assert WebhookPolicy.of(embedded, config).allow_http
    assert not WebhookPolicy.of(production, config).allow_http
    assert WebhookPolicy.of(production.model_copy(update={"dyade_webhook_allow_http": True}), config).allow_http
    assert WebhookPolicy.of(production.model_copy(update={"dyade_embedded": True}), config).allow_http
    assert WebhookPolicy.of(production, NotifierConfig(_env_file=None, webhook_allowlist="a.b,10.0.0.0/8")).hosts \
        == frozenset({"a.b"})


def test_delivery_checks_again_and_goes_to_the_address_it_checked():
    receivers = Receivers()
    receivers.webhook_secret = "s3cret"
    port = int(receivers.url.rsplit(":", 1)[1])
    try:
        # Registered when the name pointed to a public address; at delivery it points to 127.0.0.1: refused.
        rebound = send_webhook(url=f"http://terminal.cad.test:{port}/cad", secret="s3cret", body={"n": 1},
                               policy=WebhookPolicy(allow_http=True), resolve=resolver("127.0.0.1"))
        assert not rebound.ok and "de bouclage" in rebound.error and receivers.webhooks == []
        # Allow-listed: the request goes to the address resolved and checked, the Host header keeps the name.
        policy = WebhookPolicy.parse("127.0.0.0/8", allow_http=True)
        sent = send_webhook(url=f"http://terminal.cad.test:{port}/cad", secret="s3cret", body={"n": 2},
                            policy=policy, resolve=resolver("127.0.0.1"))
        assert sent.ok, sent
        assert receivers.webhooks == [{"n": 2}]
    finally:
        receivers.close()


@pytest.mark.parametrize("url", ["http://127.0.0.1:8004/", "http://169.254.169.254/latest/meta-data/",
                                 "http://[::1]:5432/", "https://10.0.0.1/cad"])
def test_registration_refuses_internal_targets_with_422(notifier, http, supervisor, unique, url, monkeypatch):
    put_dyad(http, supervisor, f"W{unique}", f"X{unique}")
    monkeypatch.setattr(notifier, "webhook_policy", WebhookPolicy.parse("", allow_http=True))
    r = http.put(f"/v1/dyads/W{unique}/webhook", json={"url": url}, headers=supervisor)
    assert r.status_code == 422, r.text
    assert "refusée pour le webhook" in r.json()["detail"]
    dyad = next(d for d in http.get("/v1/dyads", headers=supervisor).json()["dyads"] if d["dyad_id"] == f"W{unique}")
    assert dyad["webhook"] is False


def test_registration_requires_https_outside_the_embedded_default(notifier, http, supervisor, unique, monkeypatch):
    put_dyad(http, supervisor, f"V{unique}", f"X{unique}")
    monkeypatch.setattr(notifier, "webhook_policy", WebhookPolicy())
    r = http.put(f"/v1/dyads/V{unique}/webhook", json={"url": "http://cad.example.org/hook"}, headers=supervisor)
    assert r.status_code == 422 and "https://" in r.json()["detail"], r.text
    unknown = http.put(f"/v1/dyads/NOPE{unique}/webhook", json={"url": "https://cad.example.org/"}, headers=supervisor)
    assert unknown.status_code == 404
