"""Fixtures of the feedback tests: the GitHub simulator over a real socket,
settings pointing at it, a session with failing results, and helpers to read
the simulated repository."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import requests
from django.core.cache import caches
from django.test import override_settings
from django.utils import timezone

from integrations.models import IntegrationEndpoint, IntegrationHealthStatus
from integrations.simulators import fixtures as fx
from integrations.simulators.server import SimulatorServer
from sessions.models import TestResult, TestSession

WEBHOOK_SECRET = "feedback-tests-webhook-secret"


@pytest.fixture(scope="session")
def simulator_server():
    server = SimulatorServer(host="127.0.0.1", port=0).start()
    yield server
    server.stop()


class GitHubSim:
    """The simulated GitHub of one test: faults, and what the repo holds."""

    def __init__(self, server: SimulatorServer) -> None:
        self.server = server
        self.url = server.url
        self.api_url = f"{server.url}/github"

    def faults(self, **faults) -> None:
        response = requests.post(
            f"{self.url}/_control/github/faults", json=faults, timeout=5
        )
        response.raise_for_status()

    def clear_faults(self) -> None:
        requests.delete(f"{self.url}/_control/github/faults", timeout=5)

    def issues(self) -> list[dict]:
        response = requests.get(
            f"{self.api_url}/repos/{fx.GITHUB_REPO}/issues",
            params={"state": "all", "per_page": 100},
            headers={"Authorization": f"Bearer {fx.GITHUB_TOKEN}"},
            timeout=5,
        )
        response.raise_for_status()
        return response.json()

    def issues_with_marker(self, report) -> list[dict]:
        marker = f"<!-- testenv-feedback:{report.pk} -->"
        return [i for i in self.issues() if marker in (i.get("body") or "")]

    def issue(self, number: int) -> dict:
        response = requests.get(
            f"{self.api_url}/repos/{fx.GITHUB_REPO}/issues/{number}",
            headers={"Authorization": f"Bearer {fx.GITHUB_TOKEN}"},
            timeout=5,
        )
        response.raise_for_status()
        return response.json()

    def labels(self) -> set[str]:
        response = requests.get(
            f"{self.api_url}/repos/{fx.GITHUB_REPO}/labels",
            headers={"Authorization": f"Bearer {fx.GITHUB_TOKEN}"},
            timeout=5,
        )
        return {label["name"] for label in response.json()}

    def requests_seen(self) -> list[dict]:
        response = requests.get(f"{self.url}/_control/github/requests", timeout=5)
        data = response.json()
        return data["requests"] if isinstance(data, dict) else data

    def close(self, number: int, state_reason: str = "completed") -> dict:
        response = requests.post(
            f"{self.url}/_control/github/issues/{number}/close",
            json={"state_reason": state_reason},
            timeout=15,
        )
        response.raise_for_status()
        return response.json()

    def reopen(self, number: int) -> dict:
        response = requests.post(
            f"{self.url}/_control/github/issues/{number}/reopen", json={}, timeout=15
        )
        response.raise_for_status()
        return response.json()

    def add_webhook(self, url: str, secret: str = WEBHOOK_SECRET) -> None:
        response = requests.post(
            f"{self.url}/_control/github/webhook",
            json={"url": url, "secret": secret, "events": ["issues"], "ping": False},
            timeout=5,
        )
        response.raise_for_status()


@pytest.fixture
def github_sim(simulator_server) -> GitHubSim:
    simulator_server.reset()
    requests.delete(f"{simulator_server.url}/_control/github/webhook", timeout=5)
    yield GitHubSim(simulator_server)
    simulator_server.service("github").clear_faults()
    requests.delete(f"{simulator_server.url}/_control/github/webhook", timeout=5)


@pytest.fixture
def sync_queue(redis_client):
    """A Celery queue of this test's own: the tasks it queues never reach a
    worker of another test run sharing the Redis server, and are removed."""
    name = f"test-feedback-{uuid.uuid4().hex[:8]}"
    yield name
    redis_client.delete(name)


@pytest.fixture
def github_settings(github_sim, sync_queue, tmp_path):
    """Settings pointing the sync at the simulator, with quick retries."""
    with override_settings(
        GITHUB_API_URL=github_sim.api_url,
        GITHUB_TOKEN=fx.GITHUB_TOKEN,
        GITHUB_REPO=fx.GITHUB_REPO,
        GITHUB_WEBHOOK_SECRET=WEBHOOK_SECRET,
        FEEDBACK_GITHUB_SECONDS_BETWEEN_REQUESTS=0,
        FEEDBACK_GITHUB_SECONDS_BETWEEN_WRITES=0,
        FEEDBACK_GITHUB_TIMEOUT_SECONDS=3,
        FEEDBACK_SYNC_BACKOFF_SECONDS=0.01,
        FEEDBACK_SYNC_MAX_ATTEMPTS=4,
        FEEDBACK_SYNC_QUEUE=sync_queue,
        FEEDBACK_PUBLIC_BASE_URL="https://testenv.example.org",
        MEDIA_ROOT=str(tmp_path / "media"),
    ):
        yield github_sim


@pytest.fixture
def no_github(tmp_path):
    with override_settings(
        GITHUB_TOKEN="", GITHUB_REPO="", MEDIA_ROOT=str(tmp_path / "media")
    ):
        yield


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The personas' passwords are hashed once per test; PBKDF2 takes ~0.3 s.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    caches["default"].clear()
    yield
    caches["default"].clear()


@pytest.fixture
def endpoints(db) -> dict[str, IntegrationEndpoint]:
    yunite = IntegrationEndpoint.objects.create(
        name="yunite-live",
        kind="yunite",
        mode=IntegrationEndpoint.Mode.LIVE,
        base_url="http://127.0.0.1:9/yunite/api",
    )
    banano = IntegrationEndpoint.objects.create(
        name="banano-sim",
        kind="banano",
        mode=IntegrationEndpoint.Mode.SIMULATED,
        base_url="http://127.0.0.1:9/banano/",
    )
    return {"yunite": yunite, "banano": banano}


@pytest.fixture
def failing_session(db, tester, endpoints) -> TestSession:
    """The tester's ACTIVE session with one failed, one errored and one passed
    result, and health rows before and after now."""
    now = timezone.now()
    session = TestSession.objects.create(
        name="payout run",
        tester=tester,
        started_at=now - timedelta(minutes=10),
        configuration={"max_payment_ban": 1, "api_token": "cfg-secret-value-123"},
    )
    TestResult.objects.create(
        session=session,
        endpoint=endpoints["banano"],
        test_name="banano_payment",
        status=TestResult.Status.FAILED,
        started_at=now - timedelta(minutes=5),
        completed_at=now - timedelta(minutes=5) + timedelta(seconds=1),
        request_data={
            "action": "send",
            "amount": "100000000000000000000000000000",
            "password": "wallet-password-should-not-leak",
        },
        response_data={"error": "Insufficient balance"},
        assertions=[
            {
                "name": "block hash returned",
                "expected": "64 hex",
                "actual": None,
                "passed": False,
            },
            {"name": "balance read", "expected": True, "actual": True, "passed": True},
        ],  # fmt: skip
        mode="SIMULATED",
        duration_ms=812,
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
    )
    TestResult.objects.create(
        session=session,
        endpoint=endpoints["yunite"],
        test_name="yunite_user_lookup",
        status=TestResult.Status.ERROR,
        started_at=now - timedelta(minutes=4),
        completed_at=now - timedelta(minutes=4) + timedelta(seconds=2),
        error_details="ConnectionError: refused",
        mode="LIVE",
        duration_ms=2000,
        trace_id="00f067aa0ba902b7a3ce929d0e0e4736",
    )
    TestResult.objects.create(
        session=session,
        endpoint=endpoints["yunite"],
        test_name="passing_check",
        status=TestResult.Status.PASSED,
        started_at=now - timedelta(minutes=3),
        completed_at=now - timedelta(minutes=3),
        mode="LIVE",
    )
    IntegrationHealthStatus.objects.create(
        endpoint=endpoints["banano"],
        status="DEGRADED",
        response_time_ms=950,
        status_code=200,
        error_message="operator balance low",
        checked_at=now - timedelta(minutes=1),
    )
    IntegrationHealthStatus.objects.create(
        endpoint=endpoints["yunite"],
        status="UNHEALTHY",
        response_time_ms=5,
        error_message="connection refused",
        checked_at=now - timedelta(minutes=1),
    )
    return session
