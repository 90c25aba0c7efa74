"""Property-based tests of the whole API against its own OpenAPI schema.

schemathesis generates requests for every operation of the schema that
drf-spectacular generates (so feedback and history routes are covered as they
are added), in positive and negative mode, with a fixed seed and a bounded
number of examples. Every response must be a non-5xx that conforms to the
schema: a documented status code, a documented content type and a body that
validates against the documented schema (the error envelope included).

The requests go in-process through Django's WSGI handler as an operator (a
token), so they share the test's database transaction. Positive cases use
the ids of real objects, so they reach past the 404s; negative cases
generate their own ids. Outbound calls are only allowed to 127.0.0.1, so a
generated URL in an endpoint edit never makes the test call the internet.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from integrations.models import IntegrationEndpoint
from sessions.models import TestSession
from tests.api.conftest import make_health, make_result

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(240)]

SEED = 20251125
MAX_EXAMPLES = 12
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

WSGI_APP = get_wsgi_application()
OPENAPI = SchemaGenerator().get_schema(request=None, public=True)
SCHEMA = schemathesis.openapi.from_dict(OPENAPI)
SCHEMA.app = WSGI_APP
OPERATIONS = sorted(
    (path, method.upper())
    for path, item in OPENAPI["paths"].items()
    for method in item
    if method in {"get", "post", "put", "patch", "delete"}
)


def _loopback_only(host: str) -> bool:
    host = (host or "").lower()
    return bool(host) and host not in {"127.0.0.1", "localhost"}


@pytest.fixture
def keep_test_connection():
    """Django's WSGI handler closes the database connection when a request
    finishes; here that is the test's own connection inside its transaction.
    Django's test client disconnects the same receiver for the same reason."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_world(
    operator, tester, monkeypatch, redis_client, outbound_settings, keep_test_connection
):
    # Everything but the loopback counts as a production host: refused when an
    # endpoint is saved and again at call time.
    monkeypatch.setattr("integrations.validators.host_is_production", _loopback_only)
    monkeypatch.setattr("integrations.http.host_is_production", _loopback_only)
    IntegrationEndpoint.objects.create(
        name="fuzz-http", kind="http", base_url="http://127.0.0.1:9/", timeout_seconds=1
    )
    yunite = IntegrationEndpoint(
        name="fuzz-yunite",
        kind="yunite",
        base_url="http://127.0.0.1:9/yunite/api",
        timeout_seconds=1,
        retry_attempts=0,
    )
    yunite.set_credentials({"api_token": "fuzz-secret-token-123"})
    yunite.save()
    session = TestSession.objects.create(name="fuzz session", tester=operator)
    make_result(session, yunite)
    make_health(yunite, session=session)
    ids: dict[str, object] = {"session": session.pk, "endpoint": yunite.pk}
    try:
        from feedback.models import FeedbackReport

        report = FeedbackReport.objects.create(
            session=session,
            title="fuzz",
            description="fuzz",
            category="OTHER",
            reported_by=operator,
        )
        ids["feedback"] = report.pk
    except ImportError:  # pragma: no cover - the feedback app is always there
        pass
    token = Token.objects.create(user=operator)
    return {"ids": ids, "headers": {"Authorization": f"Token {token.key}"}}


def _path_parameters(path: str, ids: dict) -> dict:
    if path.startswith("/testing/sessions/"):
        return {"id": str(ids["session"])}
    if path.startswith("/testing/integrations/"):
        return {"id": ids["endpoint"]}
    if path.startswith("/testing/feedback/") and "feedback" in ids:
        return {"id": str(ids["feedback"])}
    return {}


def test_the_schema_served_at_api_schema_is_the_one_fuzzed(operator_client):
    response = operator_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    served = response.json()
    assert served["openapi"].startswith("3.")
    assert served["paths"].keys() == OPENAPI["paths"].keys()
    assert "ErrorEnvelope" in served["components"]["schemas"]
    for path in (
        "/testing/sessions",
        "/testing/sessions/{id}",
        "/testing/sessions/{id}/cleanup",
        "/testing/sessions/{id}/report",
        "/testing/sessions/{id}/results",
        "/testing/integrations",
        "/testing/integrations/{id}",
        "/testing/integrations/{id}/health",
        "/testing/integrations/{id}/rate-limit-status",
    ):
        assert path in served["paths"], path
    # Every operation documents the envelope for the errors every route can give.
    for item in served["paths"].values():
        for method, operation in item.items():
            for code in ("401", "403", "500"):
                assert code in operation["responses"], (method, code)


def test_the_interactive_docs_are_served(operator_client):
    response = operator_client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


@pytest.mark.parametrize(
    "mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value
)
@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=lambda v: str(v))
def test_every_operation_answers_as_its_schema_says(path, method, mode, fuzz_world):
    operation = SCHEMA[path][method]
    fixed = (
        _path_parameters(path, fuzz_world["ids"])
        if mode == GenerationMode.POSITIVE
        else {}
    )
    strategy = operation.as_strategy(
        generation_mode=mode, path_parameters=fixed or None
    )
    headers = fuzz_world["headers"]

    @seed(SEED)
    @settings(
        max_examples=MAX_EXAMPLES,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def exercise(case) -> None:
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    try:
        exercise()
    except Unsatisfiable:
        # An operation with nothing to negate (no parameters, no body schema)
        # has no negative cases at all; a positive one always has cases.
        if mode == GenerationMode.POSITIVE:
            raise
        pytest.skip(f"{method} {path} has no input that can be made invalid")
