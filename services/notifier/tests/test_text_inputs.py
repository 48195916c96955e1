"""Bad text at the notifier's edge: NUL, other control characters, DEL, a lone surrogate or U+FFFF in any
string field of any body (roster, webhook, subscriptions, decline/close/snooze reasons, bulk close,
follow-up plans: fields found by walking the models, tests.kit.string_fields) or in the path is a 422
naming the field, before anything reaches the database."""
from __future__ import annotations

import pytest

from tests.kit import (assert_refused_naming, bad_text_cases, body_routes, fill_path, role_finder, send_json,
                           string_fields)
from services.notifier.entrypoints.api import router

ROUTES = body_routes(router.routes)
CASES = bad_text_cases(ROUTES)


def test_the_api_has_bodies_and_every_string_field_is_guarded():
    assert {path for _, path, _ in ROUTES} >= {"/v1/dyads/{dyad_id}", "/v1/dyads/{dyad_id}/webhook",
                                                "/v1/alerts/{alert_id}/decline", "/v1/alerts/{alert_id}/close",
                                                "/v1/alerts/{alert_id}/snooze", "/v1/persons/{person_key}/followup-plan"}
    unguarded = [f for _, _, model in ROUTES for f in string_fields(model) if not (f.guarded or f.pattern)]
    assert not unguarded, f"champs sans Line/Text (dyade.contracts.text): {unguarded}"


@pytest.fixture(scope="module")
def headers_for(http, token):
    return role_finder(http, token, fill_path)


@pytest.mark.parametrize("method, path, field, kind, value", CASES)
def test_bad_text_in_any_field_is_a_422_naming_it(http, headers_for, method, path, field, kind, value):
    assert_refused_naming(send_json(http, method, fill_path(path), field.body(value), headers_for(method, path)),
                          field)


@pytest.mark.parametrize("method, path", [("PUT", "/v1/dyads/D%00X/webhook"), ("GET", "/v1/alerts/A%00X"),
                                          ("POST", "/v1/alerts/A%1bX/seen"), ("GET", "/v1/dyads?sector=S%00")])
def test_bad_text_in_the_path_or_query_is_a_422(http, supervisor, method, path):
    r = send_json(http, method, path, {"url": "https://example.org/hook"}, supervisor) if method != "GET" \
        else http.get(path, headers=supervisor)
    assert r.status_code == 422 and "interdit" in r.json()["detail"], r.text
