"""A bounded schemathesis run over the OpenAPI: whatever it sends, the service answers without a 5xx,
and every 4xx carries a `detail` saying what is wrong."""
from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

EXAMPLES_PER_OPERATION = 25


def test_no_server_error_on_any_operation(infosocial, sw, token):
    base, app = infosocial
    schema = schemathesis.openapi.from_dict(app.openapi())
    admin = token("admin", subject="admin-fuzz")
    failures: list[str] = []
    seen = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            nonlocal seen
            seen += 1
            # reads also as admin (the sweep, which moves every frame's clock, only as a social worker: 403)
            who = admin if case.method == "GET" and seen % 2 else sw[0]
            response = case.call(base_url=base, headers=who)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.body!r:.200} -> "
                                f"{response.status_code} {response.text[:200]}")
            elif response.status_code >= 400 and not response.json().get("detail"):
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code} sans détail")

        run()
    assert seen > 100
    assert not failures, "\n".join(failures[:10])
