"""The pages' security: a sign-in link's token is exchanged for the HttpOnly cookie and leaves the address
(303 to the same address without it), the cookie is Secure behind a TLS proxy that DYADE_FORWARDED_ALLOW_IPS
trusts (not otherwise), every page answers with its Content-Security-Policy, and no template holds a script the
policy would block (inline code, event-handler attributes, javascript: links)."""
from __future__ import annotations

import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from dyade.auth import issue_token
from dyade.broker import free_port
from dyade.kafka import wait_until
from dyade.web import PAGE_POLICY

ROOT = Path(__file__).resolve().parents[2]
PAGE_SERVICES = ("infosocial", "notifier", "analytics")
READER = {"infosocial": ("social_worker", {}), "notifier": ("dyad", {"dyad_id": "D1", "sector": "S1"}),
          "analytics": ("analyst", {})}
PATH_VALUES = {"person_key": "p_0000pagesecurity00"}
QUERIES = {"/rapport": "month=2025-01"}
SIGN_OUT = ("/logout",)


@pytest.fixture(scope="module")
def apps(settings):
    from services.analytics.bootstrap import create_app as analytics
    from services.infosocial.bootstrap import create_app as infosocial
    from services.notifier.bootstrap import create_app as notifier
    built = {"infosocial": infosocial(settings, workers=False, sweep=False), "notifier": notifier(settings),
             "analytics": analytics(settings, consume=False)}
    yield built
    built["infosocial"].state.identities.close()
    built["infosocial"].state.triage.close()


@pytest.fixture(scope="module")
def link_token(settings):
    def make(service: str, **kw) -> str:
        role, claims = READER[service]
        return issue_token(settings.dyade_token_secret, subject=f"pages-{service}", role=kw.pop("role", role),
                           **{**claims, **kw})
    return make


def page_paths(app) -> list[str]:
    """Every GET page of the app (the routes outside the API and the OpenAPI schema), path parameters filled."""
    def walk(routes):
        for route in routes:
            if isinstance(route, APIRoute):
                yield route
            elif hasattr(route, "original_router"):
                yield from walk(route.original_router.routes)
    paths = []
    for route in walk(app.routes):
        if "GET" in route.methods and not route.include_in_schema and not route.path.startswith("/v1/"):
            path = route.path
            for name, value in PATH_VALUES.items():
                path = path.replace("{" + name + "}", value)
            assert "{" not in path, f"give a value to the parameters of {route.path}"
            paths.append(path + ("?" + QUERIES[path] if path in QUERIES else ""))
    return sorted(paths, key=lambda p: p in SIGN_OUT)  # signing out last: the others are seen signed in


@pytest.mark.parametrize("service", PAGE_SERVICES)
def test_a_sign_in_link_is_exchanged_for_the_cookie_and_leaves_the_address(apps, link_token, service):
    client = TestClient(apps[service])
    token = link_token(service)
    r = client.get("/", params={"lang": "fr", "access_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/?lang=fr"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"dyade_token={token};") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Secure" not in cookie  # plain http, no proxy: see test_the_cookie_is_secure_behind_a_trusted_proxy
    followed = TestClient(apps[service]).get("/", params={"access_token": token, "lang": "fr"})
    assert followed.status_code == 200, followed.text[:300]
    assert "access_token" not in str(followed.url) and followed.history[0].status_code == 303
    assert token not in followed.text  # the page does not repeat the token (language links, forms...)
    assert followed.headers["content-security-policy"] == PAGE_POLICY


@pytest.mark.parametrize("service", PAGE_SERVICES)
def test_a_link_with_a_bad_token_leaves_the_address_too_and_signs_nobody_in(apps, link_token, settings, service):
    others = {"infosocial": ["intake"], "notifier": ["triage"], "analytics": ["intake"]}[service]
    for bad in ("pas-un-jeton", link_token(service)[:-4] + "AAAA", link_token(service, audience=others),
                issue_token("un-autre-secret-0123456789abcdefghijkl", subject="x", role=READER[service][0],
                            **READER[service][1])):
        client = TestClient(apps[service])
        r = client.get("/suivis" if service == "infosocial" else "/", params={"access_token": bad, "page": "2"},
                       follow_redirects=False)
        assert r.status_code == 303 and "access_token" not in r.headers["location"], bad
        assert parse_qs(urlsplit(r.headers["location"]).query) == {"page": ["2"]}
        assert "set-cookie" not in r.headers, bad
        landed = client.get(r.headers["location"])
        assert "access_token" not in str(landed.url)
        assert landed.status_code in (200, 401) and 'name="token"' in landed.text  # the sign-in form


def test_a_page_does_not_open_with_a_token_meant_for_another_service(apps, link_token):
    for service in PAGE_SERVICES:
        client = TestClient(apps[service])
        elsewhere = {"infosocial": ["intake"], "notifier": ["triage"], "analytics": ["intake"]}[service]
        client.cookies.set("dyade_token", link_token(service, audience=elsewhere))
        r = client.get("/")
        assert 'name="token"' in r.text, service  # asked to sign in
        login = {"infosocial": "/connexion", "notifier": "/connexion", "analytics": "/login"}[service]
        form = TestClient(apps[service]).post(login, data={"token": link_token(service, audience=elsewhere)},
                                              follow_redirects=False)
        assert form.status_code == 401 and "--service " + service in form.text, (service, form.text[:500])


def test_the_api_refuses_a_token_in_the_address_even_on_a_page_service(apps, link_token):
    token = link_token("analytics")
    client = TestClient(apps["analytics"])
    r = client.get("/v1/figures/overview", params={"access_token": token})
    assert r.status_code == 401 and "Authorization" in r.json()["detail"]
    assert client.get("/v1/figures/overview", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert "set-cookie" not in r.headers


@pytest.mark.parametrize("service", PAGE_SERVICES)
def test_every_page_sends_the_security_headers(apps, link_token, service):
    paths = page_paths(apps[service])
    assert "/" in paths
    signed_in = TestClient(apps[service])
    signed_in.cookies.set("dyade_token", link_token(service))
    for client in (TestClient(apps[service]), signed_in):
        for path in paths:
            r = client.get(path)
            expected = (200,) if client is signed_in else (200, 401)
            assert r.status_code in expected, (path, r.status_code)
            assert r.headers["x-content-type-options"] == "nosniff", path
            assert r.headers["referrer-policy"] == "no-referrer", path
            if r.headers.get("content-type", "").startswith("text/html"):
                assert r.headers["content-security-policy"] == PAGE_POLICY, path
    csp = dict(d.strip().split(" ", 1) for d in PAGE_POLICY.split(";"))
    assert csp["default-src"] == "'self'" and csp["script-src"] == "'self'" and csp["frame-ancestors"] == "'none'"
    docs = TestClient(apps[service]).get("/docs")
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]
    assert "content-security-policy" not in TestClient(apps[service]).get("/healthz").headers  # JSON


class ScriptFinder(HTMLParser):
    """What a `script-src 'self'` policy would block in a template: inline script elements (data blocks of
    type application/json are not run), on* event-handler attributes, javascript: URLs."""

    def __init__(self):
        super().__init__()
        self.problems: list[str] = []
        self._inline: bool = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…> (attribut d'événement)")
            if value and name in ("href", "src", "action", "formaction") and \
                    value.strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}=javascript:…>")
        self._inline = tag == "script" and not attrs.get("src") and attrs.get("type") != "application/json"

    def handle_data(self, data):
        if self._inline and data.strip():
            self.problems.append(f"<script> en ligne : {data.strip()[:60]!r}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._inline = False


TEMPLATES = sorted((ROOT / "services").glob("*/templates/**/*.html"))


def test_the_finder_sees_what_the_policy_blocks():
    finder = ScriptFinder()
    finder.feed('<a href="#" onclick="go()">x</a><script>alert(1)</script><a href="javascript:go()">y</a>'
                '<script src="/static/a.js"></script><script type="application/json">{"a": 1}</script>')
    assert len(finder.problems) == 3, finder.problems


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT / "services")))
def test_no_template_holds_an_inline_script(template):
    finder = ScriptFinder()
    finder.feed(template.read_text())
    assert not finder.problems, f"{template}: {finder.problems} — move the code to a static .js file"


def test_templates_are_found():
    assert {p.parts[-3] for p in TEMPLATES} == set(PAGE_SERVICES)


def _serve(app, settings, allow: str):
    from dyade.service import server_config
    config = server_config(app, "analytics", settings.model_copy(
        update={"analytics_port": free_port(), "dyade_forwarded_allow_ips": allow, "dyade_host": "127.0.0.1"}))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=30)
    return server, thread, f"http://127.0.0.1:{config.port}"


@pytest.mark.parametrize("allow, secure", [("127.0.0.1", True), ("10.20.30.0/24", False)])
def test_the_cookie_is_secure_behind_a_trusted_proxy(apps, link_token, settings, allow, secure):
    """The services' uvicorn (dyade.service.server_config) believes X-Forwarded-Proto from the addresses of
    DYADE_FORWARDED_ALLOW_IPS only: from 127.0.0.1 it is trusted by default, not once the proxy is elsewhere."""
    assert type(settings)(_env_file=None).dyade_forwarded_allow_ips == "127.0.0.1"
    server, thread, base = _serve(apps["analytics"], settings, allow)
    try:
        token = link_token("analytics")
        r = httpx.get(f"{base}/", params={"access_token": token}, headers={"X-Forwarded-Proto": "https"})
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert ("Secure" in r.headers["set-cookie"]) is secure, r.headers["set-cookie"]
        plain = httpx.get(f"{base}/", params={"access_token": token})
        assert "Secure" not in plain.headers["set-cookie"]
    finally:
        server.should_exit = True
        thread.join(10)


CSP_WATCH = """window.__csp = []; document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + (e.sourceFile || '')));"""


@pytest.fixture(scope="module")
def served(apps, settings):
    """The three page apps on uvicorn, as dyade.service runs them."""
    from dyade.service import server_config
    running = {}
    for service, app in apps.items():
        config = server_config(app, service, settings.model_copy(update={f"{service}_port": free_port()}))
        config.lifespan = "off"  # no consumers: the pages and their API only
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        wait_until(lambda: server.started, timeout=30)
        running[service] = (server, thread, f"http://127.0.0.1:{config.port}")
    yield {service: base for service, (_, _, base) in running.items()}
    for server, thread, _ in running.values():
        server.should_exit = True
        thread.join(10)


@pytest.mark.browser
def test_the_pages_run_in_chromium_without_a_policy_violation(apps, served, link_token):
    """Signed in by a sign-in link in a real browser: the address no longer holds the token, and no page (nor
    the printable report's button) trips the Content-Security-Policy."""
    import playwright.sync_api as playwright
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        try:
            for service, base in served.items():
                context = browser.new_context(locale="fr-CA")
                context.add_init_script(CSP_WATCH)
                page = context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text
                        else None)
                page.goto(f"{base}/?access_token={link_token(service)}")
                assert "access_token" not in page.url, page.url
                assert page.evaluate("window.history.length") == 2  # the blank tab, then the page without it
                assert "dyade_token" not in page.evaluate("document.cookie")  # HttpOnly
                for path in page_paths(apps[service]):
                    if path.endswith(".js"):
                        continue
                    page.goto(base + path)
                    page.wait_for_load_state("networkidle")
                    assert page.evaluate("window.__csp") == [], (service, path, page.evaluate("window.__csp"))
                    if path.startswith("/rapport"):
                        page.evaluate("window.print = () => { window.__printed = true; }")
                        page.click("#imprimer")
                        assert page.evaluate("window.__printed === true"), "the print link no longer prints"
                assert not errors, (service, errors)
                context.close()
        finally:
            browser.close()
