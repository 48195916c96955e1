"""Bad text at the notifier's edge: NUL, other control characters, DEL, a lone surrogate or U+FFFF in any
string field of any body (roster, webhook, subscriptions, decline/close/snooze reasons, bulk close,
follow-up plans: fields found by walking the models, tests.kit.string_fields) or in the path is a 422
naming the field, before anything reaches the database."""
from __future__ import annotations

import pytest

from tests.kit import assert_every_string_field_guarded, bad_text_test, body_routes, send_json
from services.notifier.entrypoints.api import router

ROUTES = body_routes(router.routes)


def test_the_api_has_bodies_and_every_string_field_is_guarded():
    assert {path for _, path, _ in ROUTES} >= {"/v1/dyads/{dyad_id}", "/v1/dyads/{dyad_id}/webhook",
                                                "/v1/alerts/{alert_id}/decline", "/v1/alerts/{alert_id}/close",
                                                "/v1/alerts/{alert_id}/snooze", "/v1/persons/{person_key}/followup-plan"}
    assert_every_string_field_guarded(ROUTES)


test_bad_text_in_any_field_is_a_422_naming_it = bad_text_test(ROUTES, client="http")


@pytest.mark.parametrize("method, path", [("PUT", "/v1/dyads/D%00X/webhook"), ("GET", "/v1/alerts/A%00X"),
                                          ("POST", "/v1/alerts/A%1bX/seen"), ("GET", "/v1/dyads?sector=S%00")])
def test_bad_text_in_the_path_or_query_is_a_422(http, supervisor, method, path):
    r = send_json(http, method, path, {"url": "https://example.org/hook"}, supervisor) if method != "GET" \
        else http.get(path, headers=supervisor)
    assert r.status_code == 422 and "interdit" in r.json()["detail"], r.text
