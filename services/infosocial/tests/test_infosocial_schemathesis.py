"""A bounded schemathesis run over the OpenAPI: whatever it sends, the service answers without a 5xx,
and every 4xx carries a `detail` saying what is wrong."""
from __future__ import annotations

from tests.kit import no_server_errors

VIEWS = ("/v1/frames/{frame_id}", "/v1/persons/{person_key}/frame")  # what an officer may read


def test_no_server_error_on_any_operation(infosocial, sw, token, reading_from, intake_url):
    base, app = infosocial
    reading_from(intake_url)  # the search asks a real intake (503 only when intake is away)
    admin, officer = token("admin", subject="admin-fuzz"), token("officer", subject="officer-fuzz")

    def call(case, n):
        # the audit as admin, the rest as a social worker (so the sweep, which moves every frame's clock,
        # gets 403); the two frame views also as an officer
        if case.path.startswith("/v1/audit"):
            who = admin
        else:
            who = officer if case.path in VIEWS and n % 2 else sw[0]
        return case.call(base_url=base, headers=who)
    assert no_server_errors(app.openapi(), call, examples=25) > 100
