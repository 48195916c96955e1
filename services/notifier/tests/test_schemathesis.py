"""A bounded schemathesis run over the OpenAPI (the live stream aside: it never ends): whatever it
sends, the service answers without a 5xx, and every 4xx says what is wrong in `detail`."""
from __future__ import annotations

from tests.kit import no_server_errors


def test_no_server_error_on_any_operation(base_url, settings, notifier, token):
    from services.notifier.bootstrap import create_app
    supervisor, dyad = token("supervisor", subject="fuzz"), token("dyad", subject="fuzz", dyad_id="fuzz", sector="fuzz")
    sent = no_server_errors(create_app(settings, notifier=notifier).openapi(),
                            lambda case, n: case.call(base_url=base_url, headers=dyad if n % 3 == 0 else supervisor),
                            examples=15, skip=("/v1/stream",))
    assert sent > 100
