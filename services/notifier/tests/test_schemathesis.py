"""A bounded schemathesis run over the OpenAPI (the live stream aside: it never ends): whatever it
sends, the service answers without a 5xx, and every 4xx says what is wrong in `detail`."""
from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings

EXAMPLES_PER_OPERATION = 15


def test_no_server_error_on_any_operation(base_url, settings, notifier, token):
    from services.notifier.app import create_app
    schema = schemathesis.openapi.from_dict(create_app(settings, notifier=notifier).openapi())
    admin, dyad = token("admin", subject="fuzz"), token("dyad", subject="fuzz", dyad_id="fuzz")
    failures: list[str] = []
    seen = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/v1/stream":
            continue

        @given(case=operation.as_strategy())
        @hypothesis_settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            nonlocal seen
            seen += 1
            response = case.call(base_url=base_url, headers=dyad if seen % 3 == 0 else admin)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.body!r:.200} -> "
                                f"{response.status_code} {response.text[:200]}")
            elif response.status_code >= 400 and not response.json().get("detail"):
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code} sans détail")

        run()
    assert seen > 100
    assert not failures, "\n".join(failures[:10])
