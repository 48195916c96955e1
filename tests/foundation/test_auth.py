"""`requires`: a role passes only where it is listed — `admin` is not every role."""
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from dyade.auth import issue_token, requires
from dyade.contracts import Role

SECRET = "test-secret-0123456789abcdefghijklmnop"


def test_admin_passes_only_where_it_is_listed():
    app = FastAPI()
    app.state.token_secret = SECRET

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
                        algorithms=["HS256"], issuer="dyade")
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
