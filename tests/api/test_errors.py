"""The error envelope for every kind of error, never an HTML page."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from sessions import selectors
from testenv.errors import ApiErrorEnvelopeMiddleware
from tests.api.conftest import assert_envelope

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/testing/nothing-here",
        "/testing/sessions/",  # no trailing slashes on /testing/ routes
        "/testing/integrations/1/nope",
        "/api/nothing-here",
    ],
)
def test_unknown_urls_under_the_api_get_the_404_envelope(tester_client, path):
    assert_envelope(tester_client.get(path), 404, "not_found")


def test_unknown_urls_get_the_envelope_with_debug_on_too(tester_client, settings):
    settings.DEBUG = True
    assert_envelope(tester_client.get("/testing/nothing-here"), 404, "not_found")


def test_pages_outside_the_api_keep_html_errors(tester_client):
    response = tester_client.get("/no-such-page")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


def test_a_method_not_allowed_is_405_with_allow(tester_client, session):
    response = tester_client.put(f"/testing/sessions/{session.pk}", {}, format="json")
    assert_envelope(response, 405, "method_not_allowed")
    assert "PATCH" in response["Allow"]
    assert_envelope(tester_client.delete("/testing/sessions"), 405)


def test_an_unsupported_content_type_is_415(tester_client, tester):
    response = tester_client.post(
        "/testing/sessions", "name=x", content_type="text/plain"
    )
    assert_envelope(response, 415, "unsupported_media_type")


def test_malformed_json_is_400(tester_client):
    response = tester_client.post(
        "/testing/sessions", '{"name": ', content_type="application/json"
    )
    body = assert_envelope(response, 400)
    assert "JSON" in body["message"]


def test_a_body_over_the_limit_is_413_before_it_is_read(
    tester_client, tester, settings
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 200
    response = tester_client.post(
        "/testing/sessions",
        {"name": "x" * 500, "tester_id": tester.pk},
        format="json",
    )
    assert_envelope(response, 413, "payload_too_large")


def test_an_unsupported_accept_header_is_406(tester_client):
    response = tester_client.get("/testing/sessions", HTTP_ACCEPT="text/csv")
    assert_envelope(response, 406, "not_acceptable")


def test_an_unhandled_exception_is_a_500_envelope(tester_client, monkeypatch):
    def explode(**_):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(selectors, "session_list", explode)
    response = tester_client.get("/testing/sessions")
    body = assert_envelope(response, 500, "server_error")
    assert "fire" not in body["message"], "internal details stay in the log"


def test_the_middleware_envelopes_errors_of_plain_django_views():
    factory = RequestFactory()

    def crash(request):
        raise RuntimeError("boom")

    middleware = ApiErrorEnvelopeMiddleware(crash)
    request = factory.get("/testing/some-plain-view")
    response = middleware.process_exception(request, RuntimeError("boom"))
    assert_envelope(response, 500, "server_error")

    def html_error(request):
        from django.http import HttpResponseForbidden

        return HttpResponseForbidden("<h1>CSRF verification failed</h1>")

    wrapped = ApiErrorEnvelopeMiddleware(html_error)(request)
    assert_envelope(wrapped, 403, "permission_denied")
    outside = ApiErrorEnvelopeMiddleware(html_error)(factory.get("/admin/"))
    assert outside["Content-Type"].startswith("text/html")


def test_a_stray_format_parameter_does_not_turn_a_list_into_a_404(tester_client):
    assert tester_client.get("/testing/integrations?format=csv").status_code == 200
    assert tester_client.get("/testing/sessions?format=xml").status_code == 200
