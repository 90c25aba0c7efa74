"""Authentication, roles, ownership and secrecy across the whole API.

The anonymous test walks the URL resolver, so a route added later under
/testing/ or /api/ is covered without anyone remembering to add it here.
"""

from __future__ import annotations

import re
import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from sessions.models import TestSession
from tests.api.conftest import assert_envelope, make_health, make_result

pytestmark = pytest.mark.django_db

API_PREFIXES = ("testing/", "api/")
# Routes that do not use user authentication, and what they do instead.
NOT_USER_AUTHENTICATED = {
    # GitHub signs its deliveries (HMAC); no user is involved.
    "testing/github/webhook": "hmac",
    # An HTML page: an anonymous visitor is sent to the login page.
    "testing/dashboard": "login_redirect",
}
SAMPLE = {"uuid": str(uuid.uuid4()), "int": "1", "str": "x", "slug": "x", "path": "x"}


def _walk(patterns, prefix: str = ""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.callback


def _methods(callback) -> list[str]:
    actions = getattr(callback, "actions", None)
    if actions:  # a DRF viewset bound with as_view({...})
        return sorted(actions)
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if cls is not None:
        return sorted(
            m
            for m in cls.http_method_names
            if m not in {"options", "head", "trace"} and hasattr(cls, m)
        )
    return ["get"]


def api_routes() -> list[tuple[str, str]]:
    routes = []
    for route, callback in _walk(get_resolver().url_patterns):
        route = route.lstrip("^").rstrip("$")
        if not route.startswith(API_PREFIXES):
            continue
        for method in _methods(callback):
            routes.append((route, method))
    return sorted(set(routes))


def concrete(route: str) -> str:
    def fill(match: re.Match) -> str:
        converter = match.group(1) or "str"
        return SAMPLE.get(converter, "x")

    return "/" + re.sub(r"<(?:(\w+):)?\w+>", fill, route)


ROUTES = api_routes()


def test_the_walk_finds_every_route_of_the_spec():
    found = {route for route, _ in ROUTES}
    for route in (
        "testing/sessions",
        "testing/sessions/<uuid:id>",
        "testing/sessions/<uuid:id>/cleanup",
        "testing/sessions/<uuid:id>/report",
        "testing/sessions/<uuid:id>/results",
        "testing/integrations",
        "testing/integrations/<int:id>",
        "testing/integrations/<int:id>/health",
        "testing/integrations/<int:id>/rate-limit-status",
        "api/schema/",
        "api/docs/",
    ):
        assert route in found, route


@pytest.mark.parametrize(("route", "method"), ROUTES, ids=lambda v: str(v))
def test_every_route_refuses_anonymous_requests(route, method):
    client = APIClient()
    response = getattr(client, method)(concrete(route), {}, format="json")
    kind = NOT_USER_AUTHENTICATED.get(route)
    if kind == "login_redirect":
        assert response.status_code == 302
        assert "/login" in response["Location"]
    elif kind == "hmac":
        assert response.status_code in (400, 401, 403)
        assert_envelope(response, response.status_code)
    else:
        assert_envelope(response, 401, "not_authenticated")
        assert response["WWW-Authenticate"] == "Token"


def test_a_bad_token_is_401_with_the_envelope(session):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert_envelope(client.get("/testing/sessions"), 401)


def test_token_authentication_works(tester, session):
    token = Token.objects.create(user=tester)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = client.get("/testing/sessions")
    assert response.status_code == 200
    assert [item["id"] for item in response.json()] == [str(session.pk)]


def test_session_cookie_authentication_works_and_writes_need_csrf(tester, session):
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username="tom-tester", password="pw-tester-1")
    assert client.get(f"/testing/sessions/{session.pk}").status_code == 200
    refused = client.patch(
        f"/testing/sessions/{session.pk}", {"status": "PAUSED"}, format="json"
    )
    body = assert_envelope(refused, 403, "permission_denied")
    assert "CSRF" in body["message"]
    session.refresh_from_db()
    assert session.status == "ACTIVE"


# ----------------------------------------------------------- roles and owners


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _attempt(client, method, path, data=None):
    return getattr(client, method)(path, data or {}, format="json")


READS = [
    "/testing/sessions",
    "/testing/sessions/{session}",
    "/testing/sessions/{session}/results",
    "/testing/sessions/{session}/report",
    "/testing/integrations",
    "/testing/integrations/{endpoint}",
    "/testing/integrations/{endpoint}/health",
    "/testing/integrations/{endpoint}/rate-limit-status",
    "/api/schema/",
]


@pytest.fixture
def world(session, endpoint, redis_client):
    make_health(endpoint, session=session)
    make_result(session, endpoint)
    return {"session": session.pk, "endpoint": endpoint.pk}


@pytest.mark.usefixtures("outbound_settings")
@pytest.mark.parametrize("persona", ["tester", "second_tester", "product_owner"])
def test_every_role_reads_everything(request, persona, world):
    client = _client(request.getfixturevalue(persona))
    for path in READS:
        response = client.get(path.format(**world))
        assert response.status_code == 200, (path, response.content[:300])


def test_a_user_without_a_role_reads_nothing(outsider, world):
    client = _client(outsider)
    for path in READS[:-1]:
        assert_envelope(client.get(path.format(**world)), 403, "permission_denied")


@pytest.mark.parametrize(
    "method, path, data",
    [
        ("patch", "/testing/sessions/{session}", {"status": "PAUSED"}),
        ("patch", "/testing/sessions/{session}", {"configuration": {}}),
        ("delete", "/testing/sessions/{session}/cleanup", None),
        (
            "post",
            "/testing/sessions/{session}/results",
            {"endpoint_id": "{endpoint}", "test_name": "yunite_user_lookup"},
        ),
    ],
)
@pytest.mark.parametrize("persona", ["second_tester", "product_owner", "outsider"])
def test_only_the_owner_or_an_operator_changes_a_session(
    request, persona, method, path, data, world, session
):
    client = _client(request.getfixturevalue(persona))
    if data and data.get("endpoint_id") == "{endpoint}":
        data = {**data, "endpoint_id": world["endpoint"]}
    response = _attempt(client, method, path.format(**world), data)
    assert_envelope(response, 403, "permission_denied")
    session.refresh_from_db()
    assert session.status == "ACTIVE" and session.configuration == {
        "max_payment_ban": "0.5"
    }
    assert session.test_results.count() == 1


def test_an_operator_changes_any_session(operator, world, session):
    client = _client(operator)
    response = client.patch(
        f"/testing/sessions/{session.pk}", {"status": "PAUSED"}, format="json"
    )
    assert response.status_code == 200
    assert client.delete(f"/testing/sessions/{session.pk}/cleanup").status_code == 200


@pytest.mark.parametrize("persona", ["product_owner", "outsider"])
def test_only_testers_and_operators_create_sessions(request, persona):
    user = request.getfixturevalue(persona)
    response = _client(user).post(
        "/testing/sessions", {"name": "mine", "tester_id": user.pk}, format="json"
    )
    assert response.status_code in (400, 403)
    assert_envelope(response, response.status_code)
    assert not TestSession.objects.exists()


# ------------------------------------------------------------------- secrecy


def test_credentials_never_appear_in_any_response(
    operator, world, endpoint, session, outbound_settings
):
    secret = endpoint.get_credentials()["api_token"]
    client = _client(operator)
    paths = [p.format(**world) for p in READS] + [
        f"/testing/sessions/{session.pk}/report?format={fmt}"
        for fmt in ("csv", "junit", "md")
    ]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        assert secret not in response.content.decode(), path
        assert endpoint.credentials_encrypted not in response.content.decode(), path
    patched = client.patch(
        f"/testing/integrations/{endpoint.pk}",
        {"credentials": {"api_token": "another-secret-value-123"}},
        format="json",
    )
    assert "another-secret-value-123" not in patched.content.decode()
