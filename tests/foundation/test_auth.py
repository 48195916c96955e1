"""`requires`: a role passes only where it is listed — `admin` is not every role; a token passes only at the
services its audience names, and never from the address."""
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from dyade.auth import issue_token, requires
from dyade.contracts import Role

SECRET = "test-secret-0123456789abcdefghijklmnop"


def test_admin_passes_only_where_it_is_listed():
    app = FastAPI()
    app.state.token_secret = SECRET
    app.state.service = "notifier"

    @app.get("/supervisors")
    def supervisors(_=Depends(requires(Role.SUPERVISOR))):
        return {}

    @app.get("/operations")
    def operations(_=Depends(requires(Role.SUPERVISOR, Role.ADMIN))):
        return {}

    def get(path: str, role: Role):
        return client.get(path, headers={"Authorization": "Bearer " + issue_token(SECRET, subject="s", role=role)})

    client = TestClient(app)
    refused = get("/supervisors", Role.ADMIN)
    assert refused.status_code == 403
    assert "admin" in refused.json()["detail"] and "renseignements de santé" in refused.json()["detail"]
    assert get("/supervisors", Role.SUPERVISOR).status_code == 200
    assert get("/operations", Role.ADMIN).status_code == 200
    assert client.get("/supervisors").status_code == 401


def test_a_token_names_its_subject():
    import pytest
    from dyade.auth import TokenPolicyError
    for subject in ("", "   ", None):
        with pytest.raises(TokenPolicyError, match="sujet requis"):
            issue_token(SECRET, subject=subject, role="officer")


def test_token_lives_are_bounded_by_role_and_configuration():
    import jwt
    import pytest
    from dyade.auth import TokenPolicyError, max_token_hours
    from dyade.settings import Settings
    with pytest.raises(TokenPolicyError, match=r"876000 h demandées, 12 h au plus \(DYADE_TOKEN_MAX_HOURS\)"):
        issue_token(SECRET, subject="adm", role="admin", ttl_s=876_000 * 3600)
    with pytest.raises(TokenPolicyError, match="DYADE_TOKEN_MAX_HOURS_SYSTEM"):
        issue_token(SECRET, subject="rao", role="dispatch", ttl_s=721 * 3600)
    claims = jwt.decode(issue_token(SECRET, subject="rao", role="dispatch", ttl_s=720 * 3600), SECRET,
                        algorithms=["HS256"], issuer="dyade", options={"verify_aud": False})
    assert claims["exp"] - claims["iat"] == 720 * 3600 and claims["sub"] == "rao"
    settings = Settings(_env_file=None, dyade_token_max_hours=8, dyade_token_max_hours_system=48)
    assert (max_token_hours("social_worker", settings), max_token_hours("dispatch", settings)) == (8, 48)
    assert (max_token_hours("dyad"), max_token_hours("dispatch")) == (12, 720)
    with pytest.raises(TokenPolicyError):
        issue_token(SECRET, subject="sw", role="social_worker", ttl_s=9 * 3600,
                    max_ttl_s=max_token_hours("social_worker", settings) * 3600)
    with pytest.raises(TokenPolicyError, match="positive"):
        issue_token(SECRET, subject="sw", role="social_worker", ttl_s=0)


def test_short_secrets_stop_a_service_outside_the_embedded_default(tmp_path):
    import pytest
    from dyade.service import create_app, run
    from dyade.settings import Settings, SettingsError
    production = dict(_env_file=None, kafka_bootstrap_servers="127.0.0.1:1", database_url=f"sqlite:///{tmp_path}/d.db",
                      dyade_home=tmp_path)
    short = Settings(**production, dyade_token_secret="x" * 31)
    with pytest.raises(SettingsError, match=r"DYADE_TOKEN_SECRET est trop court \(31 octets\).*au moins 32"):
        create_app("intake", short, title="t")
    with pytest.raises(SettingsError, match="DYADE_PSEUDONYM_KEY"):
        Settings(**production, dyade_token_secret="é" * 16, dyade_pseudonym_key="k" * 20).check_secrets()
    with pytest.raises(SystemExit, match="erreur : DYADE_TOKEN_SECRET est trop court"):
        run(lambda s: create_app("intake", s, title="t"), "intake", short)
    Settings(**production, dyade_token_secret="é" * 16).check_secrets()  # 32 bytes of UTF-8
    Settings(**production, dyade_token_secret="short", dyade_embedded=True).check_secrets()  # `dyade up`, embedded
    Settings(_env_file=None, dyade_home=tmp_path, dyade_token_secret="short").check_secrets()  # nothing configured
    assert create_app("intake", Settings(**production), title="t").state.token_secret  # generated: long enough


def _app(service: str) -> TestClient:
    app = FastAPI()
    app.state.token_secret = SECRET
    app.state.service = service

    @app.get("/v1/figures")
    def figures(_=Depends(requires(Role.SUPERVISOR, Role.ANALYST))):
        return {}
    return TestClient(app)


def _bearer(**kw) -> dict[str, str]:
    return {"Authorization": "Bearer " + issue_token(SECRET, **kw)}


def test_a_token_carries_the_services_its_role_is_admitted_at_unless_restricted():
    import jwt
    import pytest
    from dyade.auth import AUDIENCE, TokenPolicyError, audience_for

    def aud(**kw):
        return jwt.decode(issue_token(SECRET, subject="s", **kw), SECRET, algorithms=["HS256"],
                          options={"verify_aud": False})["aud"]
    for role in Role:
        assert aud(role=role) == list(AUDIENCE[role])
    assert aud(role="supervisor", audience=["notifier"]) == ["notifier"]
    assert aud(role="supervisor", audience="analytics") == ["analytics"]
    with pytest.raises(TokenPolicyError, match="service inconnu : 'mairie'"):
        issue_token(SECRET, subject="s", role="supervisor", audience=["mairie"])
    with pytest.raises(TokenPolicyError, match="analyst n'est admis par aucune route du service triage"):
        issue_token(SECRET, subject="s", role="analyst", audience=["triage"])
    with pytest.raises(TokenPolicyError, match="au moins un service"):
        issue_token(SECRET, subject="s", role="analyst", audience=[])
    # What Info-social forwards the token to comes with it, where the role is admitted.
    assert audience_for("social_worker", ["infosocial"]) == ("intake", "triage", "infosocial")
    assert audience_for("dyad", ["infosocial"]) == ("triage", "infosocial")
    assert audience_for("supervisor", ["notifier", "notifier"]) == ("notifier",)


def test_a_token_is_refused_where_its_audience_does_not_name_the_service():
    intake, analytics = _app("intake"), _app("analytics")
    for_notifier = _bearer(subject="sup", role="supervisor", audience=["notifier"])
    r = intake.get("/v1/figures", headers=for_notifier)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert "ne vaut pas pour le service intake" in r.json()["detail"] and "--service intake" in r.json()["detail"]
    assert analytics.get("/v1/figures", headers=for_notifier).status_code == 401
    assert analytics.get("/v1/figures", headers=_bearer(subject="sup", role="supervisor")).status_code == 200
    assert analytics.get("/v1/figures", headers=_bearer(subject="sup", role="supervisor",
                                                          audience=["analytics"])).status_code == 200
    # The role is told first: a role this route does not admit is a 403, whatever the audience.
    r = analytics.get("/v1/figures", headers=_bearer(subject="d", role="dispatch", audience=["intake"]))
    assert r.status_code == 403 and "dispatch" in r.json()["detail"]


def test_a_token_without_audience_is_refused_and_says_to_issue_a_new_one():
    import time
    import jwt
    now = int(time.time())
    old = jwt.encode({"sub": "sup", "role": "supervisor", "iss": "dyade", "iat": now, "exp": now + 600}, SECRET,
                     algorithm="HS256")
    for client in (_app("intake"), _app("analytics")):
        r = client.get("/v1/figures", headers={"Authorization": f"Bearer {old}"})
        assert r.status_code == 401 and "sans audience" in r.json()["detail"] and "dyade token" in r.json()["detail"]
    odd = jwt.encode({"sub": "sup", "role": "supervisor", "iss": "dyade", "iat": now, "exp": now + 600,
                      "aud": [1, 2]}, SECRET, algorithm="HS256")
    assert _app("analytics").get("/v1/figures", headers={"Authorization": f"Bearer {odd}"}).status_code == 401


def test_a_token_in_the_address_is_refused_even_with_a_good_header():
    client = _app("analytics")
    good = issue_token(SECRET, subject="sup", role="supervisor")
    for headers in ({}, {"Authorization": f"Bearer {good}"}):
        r = client.get("/v1/figures", params={"access_token": good}, headers=headers)
        assert r.status_code == 401, r.text
        assert "dans l'adresse" in r.json()["detail"] and "Authorization" in r.json()["detail"]
    client.cookies.set("dyade_token", good)
    assert client.get("/v1/figures").status_code == 200  # the pages' HttpOnly cookie
    assert client.get("/v1/figures", params={"access_token": ""}).status_code == 401
