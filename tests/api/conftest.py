"""Fixtures of the API tests: endpoints, sessions, results, health rows."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.cache import caches
from django.utils import timezone

from integrations.models import IntegrationEndpoint, IntegrationHealthStatus
from sessions.models import TestResult, TestSession

ENVELOPE_KEYS = {"error", "message", "details"}


def assert_envelope(response, status: int, error: str | None = None) -> dict:
    """The response is ``status`` with the error envelope (and ``error`` code)."""
    assert response.status_code == status, (response.status_code, response.content)
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert set(body) == ENVELOPE_KEYS, body
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], dict)
    if error is not None:
        assert body["error"] == error, body
    return body


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    # Throttle counters live in the cache; user ids repeat across tests.
    caches["default"].clear()
    yield
    caches["default"].clear()


@pytest.fixture
def endpoint(db) -> IntegrationEndpoint:
    endpoint = IntegrationEndpoint.objects.create(
        name="yunite-sim",
        kind="yunite",
        base_url="http://127.0.0.1:9/yunite/api",
        auth_type=IntegrationEndpoint.AuthType.API_KEY,
        timeout_seconds=5,
        retry_attempts=0,
        settings={"guild_id": "123"},
    )
    endpoint.set_credentials({"api_token": "sekrit-yunite-token-0123456789"})
    endpoint.save()
    return endpoint


@pytest.fixture
def other_endpoint(db) -> IntegrationEndpoint:
    return IntegrationEndpoint.objects.create(
        name="http-sim", kind="http", base_url="http://127.0.0.1:9/http"
    )


@pytest.fixture
def session(tester) -> TestSession:
    return TestSession.objects.create(
        name="Friday exploratory run",
        tester=tester,
        description="Smoke run",
        configuration={"max_payment_ban": "0.5"},
    )


@pytest.fixture
def other_session(second_tester) -> TestSession:
    return TestSession.objects.create(name="Tina's run", tester=second_tester)


def make_result(
    session: TestSession,
    endpoint: IntegrationEndpoint,
    status: str = TestResult.Status.PASSED,
    *,
    test_name: str = "yunite_user_lookup",
    minutes_ago: int = 0,
    error_details: str = "",
    **extra,
) -> TestResult:
    started = timezone.now() - timedelta(minutes=minutes_ago, seconds=2)
    return TestResult.objects.create(
        session=session,
        endpoint=endpoint,
        test_name=test_name,
        status=status,
        started_at=started,
        completed_at=started + timedelta(seconds=1),
        duration_ms=1000,
        error_details=error_details,
        assertions=[
            {
                "name": "status",
                "expected": 200,
                "actual": 200,
                "passed": status == "PASSED",
            }
        ],
        mode=endpoint.mode,
        **extra,
    )


def make_health(
    endpoint: IntegrationEndpoint,
    status: str = "HEALTHY",
    *,
    session: TestSession | None = None,
    seconds_ago: int = 0,
    response_time_ms: int = 12,
) -> IntegrationHealthStatus:
    return IntegrationHealthStatus.objects.create(
        endpoint=endpoint,
        session=session,
        status=status,
        response_time_ms=response_time_ms,
        status_code=200,
        checked_at=timezone.now() - timedelta(seconds=seconds_ago),
    )


@pytest.fixture(scope="session")
def simulator():
    from integrations.simulators.server import SimulatorServer

    server = SimulatorServer(host="127.0.0.1", port=0).start()
    yield server
    server.stop()


@pytest.fixture
def sim(simulator) -> str:
    simulator.reset()
    return simulator.url


@pytest.fixture
def outbound_settings(redis_client):
    from tests.integrations.outbound_helpers import isolated_outbound_settings

    yield from isolated_outbound_settings(redis_client)
