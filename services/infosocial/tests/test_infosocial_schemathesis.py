"""A bounded schemathesis run over the OpenAPI: whatever it sends, the service answers without a 5xx,
and every 4xx carries a `detail` saying what is wrong."""
from __future__ import annotations

from dyade.testing import no_server_errors


def test_no_server_error_on_any_operation(infosocial, sw, token):
    base, app = infosocial
    admin = token("admin", subject="admin-fuzz")

    def call(case, n):
        # reads also as admin (the sweep, which moves every frame's clock, only as a social worker: 403)
        who = admin if case.method == "GET" and n % 2 else sw[0]
        return case.call(base_url=base, headers=who)
    assert no_server_errors(app.openapi(), call, examples=25) > 100
