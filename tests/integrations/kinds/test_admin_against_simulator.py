"""The Pay2Slay admin probe and the admin_user_creation workflow (with its
compensation), over real sockets against the Pay2Slay simulator."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests

from integrations.http import get_client
from integrations.kinds.admin.client import fixture_hook_url
from integrations.kinds.admin.probe import AdminProbe
from integrations.kinds.base import DEGRADED, HEALTHY, TIMEOUT, UNHEALTHY
from integrations.models import IntegrationEndpoint
from integrations.simulators import fixtures as fx
from integrations.simulators.server import SimulatorServer
from integrations.workflows import (
    ERROR,
    FAILED,
    PASSED,
    SKIPPED,
    run_compensation,
    run_workflow,
)
from tests.helpers import failed_assertions, free_port
from tests.integrations.outbound_helpers import (
    Reply,
    ScriptedServer,
    isolated_outbound_settings,
)

pytestmark = pytest.mark.django_db

NO_CREDENTIALS = object()


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    server = SimulatorServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def outbound(redis_client) -> Iterator[str]:
    # Own Redis keys per test (endpoint ids repeat across tests) and quick
    # backoff, so "429 beyond retries" takes milliseconds.
    yield from isolated_outbound_settings(redis_client)


def faults(sim: SimulatorServer, **values) -> None:
    reply = requests.post(f"{sim.url}/_control/admin/faults", json=values, timeout=5)
    assert reply.status_code == 200, reply.text


def admin_rows(sim: SimulatorServer) -> dict[str, bool]:
    reply = requests.get(f"{sim.url}/_control/admin/admin_users", timeout=5)
    return {row["email"]: row["is_active"] for row in reply.json()["admin_users"]}


def requests_seen(sim: SimulatorServer) -> list[dict]:
    return requests.get(f"{sim.url}/_control/admin/requests", timeout=5).json()[
        "requests"
    ]


def admin_endpoint(base_url: str, **overrides) -> IntegrationEndpoint:
    email = overrides.pop("admin_email", fx.P2S_ADMIN_EMAIL)
    fields = {
        "name": f"admin-{uuid.uuid4().hex[:8]}",
        "kind": "admin",
        "mode": IntegrationEndpoint.Mode.SIMULATED,
        "base_url": base_url,
        "rate_limit_per_minute": 6000,
        "timeout_seconds": 5,
        "retry_attempts": 1,
        **overrides,
    }
    endpoint = IntegrationEndpoint(**fields)
    if email is not NO_CREDENTIALS:
        endpoint.set_credentials({"admin_email": email})
    endpoint.save()
    return endpoint


@pytest.fixture
def endpoint(sim):
    def make(**overrides) -> IntegrationEndpoint:
        return admin_endpoint(f"{sim.url}/p2s", **overrides)

    return make


def probe(endpoint: IntegrationEndpoint):
    return AdminProbe(endpoint, get_client(endpoint)).check()


def create_admin(endpoint: IntegrationEndpoint, test_data: dict | None = None):
    return run_workflow(
        endpoint=endpoint,
        name="admin_user_creation",
        test_data=test_data,
        session_id=None,
        configuration={},
    )


# -- fixture hook ------------------------------------------------------------------


def test_the_fixture_hook_of_a_simulated_endpoint_is_the_simulator_control_api(
    sim, endpoint
):
    assert fixture_hook_url(endpoint()) == f"{sim.url}/_control/admin/admin_users"


def test_a_configured_fixture_hook_wins_and_a_live_endpoint_has_none_by_default(
    endpoint,
):
    configured = endpoint(settings={"fixture_hook_url": "http://hooks.test/admins/"})
    assert fixture_hook_url(configured) == "http://hooks.test/admins"
    assert fixture_hook_url(endpoint(mode=IntegrationEndpoint.Mode.LIVE)) is None


# -- probe -------------------------------------------------------------------------


def test_the_probe_is_healthy_when_the_fixture_admin_reaches_extended_health(
    sim, endpoint
):
    result = probe(endpoint())
    assert result.status == HEALTHY, result.error_message
    assert result.status_code == 200
    assert result.metadata == {
        "healthz": "ok",
        "admin_login": "ok",
        "health_extended": "ok",
    }
    paths = [r["path"] for r in requests_seen(sim)]
    assert paths == ["/p2s/healthz", "/p2s/admin/login", "/p2s/admin/health/extended"]


def test_without_an_admin_email_the_probe_checks_healthz_only(sim, endpoint):
    result = probe(endpoint(admin_email=NO_CREDENTIALS))
    assert result.status == HEALTHY
    assert result.metadata["admin_login"] == "not configured"
    assert len(requests_seen(sim)) == 1


def test_the_probe_is_unhealthy_when_the_fixture_admin_is_refused(endpoint):
    result = probe(endpoint(admin_email=fx.P2S_INACTIVE_ADMIN_EMAIL))
    assert result.status == UNHEALTHY
    assert result.status_code == 401
    assert "refused (401)" in result.error_message
    # The admin email is a credential: it is not repeated in the result.
    assert fx.P2S_INACTIVE_ADMIN_EMAIL not in repr(result)


def test_the_probe_reports_a_429_as_degraded_after_a_single_attempt(sim, endpoint):
    faults(sim, rate_limited=True, retry_after=4)
    result = probe(endpoint(retry_attempts=3))
    assert result.status == DEGRADED
    assert result.status_code == 429
    assert result.metadata["retry_after"] == "4"
    assert len(requests_seen(sim)) == 1


@pytest.mark.parametrize("status", [500, 503])
def test_the_probe_is_unhealthy_on_server_errors(sim, endpoint, status):
    faults(sim, forced_status=status)
    result = probe(endpoint())
    assert result.status == UNHEALTHY
    assert result.error_message.startswith(f"/healthz: HTTP {status}")


def test_the_probe_times_out_on_a_hanging_app(sim, endpoint):
    faults(sim, hang=True)
    result = probe(endpoint(timeout_seconds=1))
    assert result.status == TIMEOUT
    assert 900 <= result.response_time_ms < 3000


def test_the_probe_is_degraded_when_slower_than_the_latency_threshold(sim, endpoint):
    faults(sim, latency_ms=100)
    result = probe(endpoint(latency_threshold_ms=250))
    assert result.status == DEGRADED  # three calls of 100 ms
    assert result.response_time_ms >= 300


def test_the_probe_is_unhealthy_when_nothing_listens(db):
    result = probe(admin_endpoint(f"http://127.0.0.1:{free_port()}/p2s"))
    assert result.status == UNHEALTHY
    assert "connection refused" in result.error_message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"status": "starting"}, "/healthz says status 'starting'"),
        ({"ok": True}, "response format of /healthz: Field required at status"),
    ],
)
def test_the_probe_is_unhealthy_when_healthz_is_not_ok(db, body, message):
    stub = ScriptedServer().start()
    try:
        stub.default("/p2s/healthz", Reply(body=body))
        result = probe(admin_endpoint(f"{stub.url}/p2s"))
    finally:
        stub.stop()
    assert result.status == UNHEALTHY
    assert result.error_message == message


# -- workflow and compensation -----------------------------------------------------


def test_one_click_creates_an_admin_logs_in_audits_and_is_refused_once_deactivated(
    sim, endpoint
):
    target = endpoint()
    outcome = create_admin(target)
    assert outcome.status == PASSED, (outcome.error_details, outcome.assertions)
    email = outcome.request_data["test_data"]["email"]
    names = [a["name"] for a in outcome.assertions]
    assert names == [
        "admin fixture inserted",
        "admin login status",
        "login answers with the admin's email",
        "p2s_admin cookie issued",
        "audit log readable",
        "audit log lists the admin_login of this admin",
        "admin fixture deactivated",
        "login of the deactivated admin refused",
        "no p2s_admin cookie for the deactivated admin",
    ]
    [compensation] = outcome.compensations
    assert compensation.action == "remove_admin_fixture"
    assert compensation.payload == {"email": email}
    # The fixture is still there, deactivated, until session cleanup.
    assert admin_rows(sim)[email] is False

    result = run_compensation(
        endpoint=target,
        workflow_name="admin_user_creation",
        action=compensation.action,
        payload=compensation.payload,
    )
    assert result["ok"] is True, result["error"]
    assert result["result"] == {"email": email, "removed": True}
    assert email not in admin_rows(sim)


def test_running_the_compensation_twice_reports_the_fixture_already_gone(sim, endpoint):
    target = endpoint()
    outcome = create_admin(target, {"email": "twice@example.org"})
    assert outcome.status == PASSED
    payload = outcome.compensations[0].payload
    for expected in (True, False):
        result = run_compensation(
            endpoint=target,
            workflow_name="admin_user_creation",
            action="remove_admin_fixture",
            payload=payload,
        )
        assert result["ok"] is True
        assert result["result"]["removed"] is expected


def test_a_refused_login_fails_and_still_leaves_a_compensation(sim, endpoint):
    faults(sim, forced_status=401)
    outcome = create_admin(endpoint(), {"email": "refused@example.org"})
    assert outcome.status == FAILED
    assert outcome.error_details == "admin login refused: HTTP 401 (Unauthorized)"
    assert failed_assertions(outcome) == ["admin login status"]
    assert [c.action for c in outcome.compensations] == ["remove_admin_fixture"]
    assert admin_rows(sim)["refused@example.org"] is True


def test_a_429_beyond_the_retries_fails_the_workflow(sim, endpoint):
    faults(sim, rate_limited=True, retry_after=0)
    outcome = create_admin(endpoint(retry_attempts=2))
    assert outcome.status == FAILED
    assert outcome.error_details == "admin login refused: HTTP 429 (rate_limited)"
    logins = [r for r in requests_seen(sim) if r["path"] == "/p2s/admin/login"]
    assert len(logins) == 3


def test_a_server_error_fails_the_workflow(sim, endpoint):
    faults(sim, forced_status=500)
    outcome = create_admin(endpoint())
    assert outcome.status == FAILED
    assert outcome.error_details.startswith("admin login refused: HTTP 500")


def test_a_hanging_app_is_an_error(sim, endpoint):
    faults(sim, hang=True)
    outcome = create_admin(endpoint(timeout_seconds=1))
    assert outcome.status == ERROR
    assert outcome.error_details.startswith("OutboundTimeout")


def test_a_live_endpoint_without_a_fixture_hook_is_skipped(endpoint):
    outcome = create_admin(endpoint(mode=IntegrationEndpoint.Mode.LIVE))
    assert outcome.status == SKIPPED
    assert "fixture_hook_url" in outcome.error_details
    assert outcome.compensations == []


def test_a_login_body_of_the_wrong_shape_fails_a_response_format_assertion(db):
    stub = ScriptedServer().start()
    try:
        stub.default("/hook", Reply(status=201, body={}))
        stub.default(
            "/p2s/admin/login",
            Reply(body={"user": "x"}, headers={"Set-Cookie": "p2s_admin=abc"}),
        )
        target = admin_endpoint(
            f"{stub.url}/p2s", settings={"fixture_hook_url": f"{stub.url}/hook"}
        )
        outcome = create_admin(target)
    finally:
        stub.stop()
    assert outcome.status == FAILED
    assert failed_assertions(outcome) == ["response format: admin login"]
    assert outcome.error_details.endswith("at email")
