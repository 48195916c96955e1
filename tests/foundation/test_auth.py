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
