"""A token's audience, on the five real apps: `dyade.auth.AUDIENCE` is what their routes admit (derived again
here from every `requires(...)`), and each service refuses a token whose audience does not name it — the role ×
service matrix. Info-social's and triage's forwarding of the reader's token is covered by the default audiences."""
from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from dyade.auth import AUDIENCE, FORWARDS, SERVICE_NAMES, issue_token
from dyade.contracts import Role
from dyade.service import SERVICES

PAGE_ROLES = {  # who the pages let in (they check it themselves, without `requires`)
    "infosocial": "services.infosocial.entrypoints.pages:ALLOWED_ROLES",
    "notifier": "services.notifier.entrypoints.deps:FIELD",
    "analytics": "services.analytics.entrypoints.api:READERS",
}


@pytest.fixture(scope="module")
def apps(settings):
    from services.analytics.bootstrap import create_app as analytics
    from services.infosocial.bootstrap import create_app as infosocial
    from services.intake.bootstrap import create_app as intake
    from services.notifier.bootstrap import create_app as notifier
    from services.triage.bootstrap import build_app
    from services.triage.config import TriageOptions, load_ruleset
    from services.triage.entrypoints.api import create_web
    options = TriageOptions()
    built = {"intake": intake(settings, background=False),
             "infosocial": infosocial(settings, workers=False, sweep=False),
             "notifier": notifier(settings), "analytics": analytics(settings, consume=False),
             "triage": create_web(build_app(settings, options, load_ruleset(options)), settings)}
    yield built
    built["infosocial"].state.identities.close()
    built["infosocial"].state.triage.close()


def api_routes(routes):
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # an included router (FastAPI keeps it whole)
            yield from api_routes(route.original_router.routes)


def roles_of(dependant) -> frozenset[Role]:
    found = frozenset(getattr(dependant.call, "roles", ()) or ())
    for sub in dependant.dependencies:
        found |= roles_of(sub)
    return found


def admitted(apps) -> dict[str, dict[Role, APIRoute]]:
    """service → role → the first route whose `requires` admits the role."""
    out: dict[str, dict[Role, APIRoute]] = {}
    for service, app in apps.items():
        for route in api_routes(app.routes):
            for role in sorted(roles_of(route.dependant)):
                out.setdefault(service, {}).setdefault(role, route)
    return out


def page_roles(service: str) -> frozenset[Role]:
    import importlib
    module, name = PAGE_ROLES[service].split(":")
    return frozenset(getattr(importlib.import_module(module), name))


def test_the_audience_table_is_what_the_routes_admit(apps):
    assert SERVICE_NAMES == tuple(s.name for s in SERVICES)
    routes = admitted(apps)
    derived = {role: tuple(s for s in SERVICE_NAMES if role in routes.get(s, {}) or
                           (s in PAGE_ROLES and role in page_roles(s))) for role in Role}
    assert derived == AUDIENCE, "dyade.auth.AUDIENCE differs from the services' requires(...)"
    for service in PAGE_ROLES:  # a page lets in no role its own API would refuse
        assert page_roles(service) <= set(routes[service]), service


def test_a_forwarded_token_is_meant_for_where_it_is_forwarded(apps):
    """Info-social asks intake and triage with the reader's token (identities, sectors, the caseload), triage a
    peer worker: every role that may use the forwarding service may use the service it forwards to, when that
    service admits the role at all (a dyad's token is forwarded to triage only: intake admits no dyad)."""
    routes = admitted(apps)
    assert set(FORWARDS["infosocial"]) == {"intake", "triage"}
    for service, targets in FORWARDS.items():
        for role in routes[service]:
            for target in targets:
                if role in routes[target]:
                    assert target in AUDIENCE[role], (role, service, target)
    for role in (Role.SOCIAL_WORKER,):  # the pages' reader: identities from intake, sectors from triage
        assert {"infosocial", "intake", "triage"} <= set(AUDIENCE[role])
    assert "triage" in AUDIENCE[Role.DYAD]  # the police view's sector check (services/infosocial/entrypoints/scope.py)


def _call_path(route: APIRoute) -> str:
    path = re.sub(r"\{person_key\}", "p_0000audience0000", route.path)
    return re.sub(r"\{[^}]+\}", "audience-test", path)


def _call(client: TestClient, route: APIRoute, headers: dict[str, str]):
    # no body: a write stops at 422 once the token passed
    return client.request(sorted(route.methods)[0], _call_path(route), headers=headers)


@pytest.fixture(scope="module")
def bearer(settings):
    def make(role: Role, audience=None) -> dict[str, str]:
        claims = {"dyad_id": "D1", "sector": "S1"} if role == Role.DYAD else {}
        return {"Authorization": "Bearer " + issue_token(settings.dyade_token_secret, subject=f"aud-{role.value}",
                                                         role=role, audience=audience, **claims)}
    return make


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_role_by_audience_matrix(apps, bearer, service):
    """At each service, for each role its routes admit: a token meant for this service passes the token check;
    one meant only for the role's other services is a 401 naming the service; a role not admitted is a 403."""
    client = TestClient(apps[service], raise_server_exceptions=False)
    routes = admitted(apps)[service]
    for role, route in routes.items():
        own = _call(client, route, bearer(role, [service]))
        # 200, 404 (nothing by that id) or 422 (no body): the route ran past the token check
        assert own.status_code < 500 and own.status_code not in (401, 403), (service, role.value, route.path,
                                                                             own.status_code, own.text)
        elsewhere = [s for s in AUDIENCE[role] if s != service]
        if elsewhere:
            refused = _call(client, route, bearer(role, elsewhere))
            assert refused.status_code == 401, (service, role.value, route.path, refused.text)
            assert f"ne vaut pas pour le service {service}" in refused.json()["detail"]
    any_route = next(iter(routes.values()))
    for role, route in routes.items():  # never from the address, even alongside a good header
        good = bearer(role, [service])
        in_address = client.request(sorted(route.methods)[0], _call_path(route), headers=good,
                                    params={"access_token": good["Authorization"][7:]})
        assert in_address.status_code == 401 and "Authorization" in in_address.json()["detail"], (service, role)
    for role in (r for r in Role if service not in AUDIENCE[r]):
        r = _call(client, any_route, bearer(role))
        assert r.status_code == 403 and role.value in r.json()["detail"], (service, role.value, r.text)


def _cli_token(tmp_path, *args):
    import os
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DYADE_", "KAFKA_", "DATABASE_"))}
    env["DYADE_HOME"] = str(tmp_path / "home")
    return subprocess.run([sys.executable, "-m", "dyade.cli.main", "token", *args], capture_output=True, text=True,
                          env=env, timeout=60)


def test_dyade_token_service_restricts_the_audience_and_says_it(tmp_path):
    import jwt
    r = _cli_token(tmp_path, "supervisor", "--subject", "sup-1", "--service", "notifier", "--service", "analytics")
    assert r.returncode == 0, r.stderr
    secret = (tmp_path / "home" / "secrets" / "dyade_token_secret").read_text().strip()
    claims = jwt.decode(r.stdout.strip(), secret, algorithms=["HS256"], audience="notifier")
    assert claims["aud"] == ["notifier", "analytics"]
    assert "notifier, analytics" in r.stderr
    r = _cli_token(tmp_path, "social_worker", "--subject", "sw-1", "--service", "infosocial")
    assert jwt.decode(r.stdout.strip(), secret, algorithms=["HS256"], audience="infosocial")["aud"] == \
        ["intake", "triage", "infosocial"]  # Info-social forwards her token to intake and triage
    r = _cli_token(tmp_path, "dispatch", "--subject", "rao")
    assert jwt.decode(r.stdout.strip(), secret, algorithms=["HS256"], audience="intake")["aud"] == \
        list(AUDIENCE[Role.DISPATCH])
    r = _cli_token(tmp_path, "analyst", "--subject", "a-1", "--service", "triage")
    assert r.returncode == 2 and r.stdout == "" and "analyst" in r.stderr and "triage" in r.stderr
    r = _cli_token(tmp_path, "analyst", "--subject", "a-1", "--service", "mairie")
    assert r.returncode == 2 and "service inconnu" in r.stderr
