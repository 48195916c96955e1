"""Property-based run over intake's own OpenAPI (schemathesis strategies, driven by hypothesis): whatever
is sent, with a valid token of a role the operation admits, never a 5xx."""
from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

EXAMPLES = 40
ROLE_OF = {  # a role each operation admits (dispatch otherwise): the generated requests get past the role check
    "/v1/referrals": "officer", "/v1/referrals/{referral_id}": "officer",
    "/v1/persons/resolve": "social_worker", "/v1/persons/{person_key}/identity": "social_worker",
    "/v1/persons/identities": "social_worker", "/v1/persons/identity-reads": "admin", "/v1/outbox": "admin",
}


def test_no_server_error_on_any_operation(intake, token):
    schema = schemathesis.openapi.from_asgi("/openapi.json", intake.app)
    tried = []
    for result in schema.get_all_operations():
        operation = result.ok()
        tried.append(f"{operation.method.upper()} {operation.path}")
        auth = token(ROLE_OF.get(operation.path, "dispatch"))

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            case.headers = {**(case.headers or {}), **auth}
            response = case.call()
            assert response.status_code < 500, \
                f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
        run()
    assert "POST /v1/calls" in tried and "POST /v1/eido" in tried and "POST /v1/calls:batch" in tried
