"""POST /testing/sessions/{id}/results and DELETE .../cleanup against the
simulators: real workflows, real sockets, real Redis (locks, channel layer)."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest
import requests
from channels.layers import get_channel_layer
from django.db import connections
from pydantic import BaseModel

from integrations.kinds.base import Workflow, WorkflowContext, register_workflow
from integrations.models import AuditEvent, Compensation, IntegrationEndpoint
from integrations.simulators import fixtures as fx
from sessions.models import TestResult, TestSession
from testenv.realtime import DASHBOARD_GROUP
from tests.api.conftest import assert_envelope

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outbound_settings")]


# A workflow of the generic http kind that creates "fixtures" and registers
# their undo; both directions make real calls to the http simulator, and an
# undo of a fixture named "stuck" fails the way a real service failure does.
class _FixtureInput(BaseModel):
    fixtures: list[str] = ["alpha"]


@register_workflow
class _FixtureCreation(Workflow):
    name = "api_test_fixture_creation"
    kinds = ("http",)
    input_model = _FixtureInput

    def run(self, ctx: WorkflowContext, data: _FixtureInput) -> None:
        for fixture in data.fixtures:
            response = ctx.http.get(f"{ctx.endpoint.base_url}/status", label="create")
            ctx.check_equal(f"create {fixture}", 200, response.status_code)
            ctx.register_compensation(
                "remove_fixture", {"fixture": fixture}, f"remove {fixture}"
            )

    def compensate(self, endpoint, http, action: str, payload: dict) -> dict[str, Any]:
        code = 500 if payload["fixture"] == "stuck" else 200
        response = http.get(f"{endpoint.base_url}/status/{code}", label="remove")
        if response.status_code != 200:
            raise RuntimeError(f"removing answered HTTP {response.status_code}")
        return {"removed": payload["fixture"]}


def _yunite(sim: str) -> IntegrationEndpoint:
    endpoint = IntegrationEndpoint(
        name="yunite-sim",
        kind="yunite",
        base_url=f"{sim}/yunite/api",
        auth_type="API_KEY",
        timeout_seconds=5,
        retry_attempts=0,
        settings={"guild_id": fx.YUNITE_GUILD_ID},
    )
    endpoint.set_credentials({"api_token": fx.YUNITE_API_TOKEN})
    endpoint.save()
    return endpoint


def _http(sim: str) -> IntegrationEndpoint:
    return IntegrationEndpoint.objects.create(
        name="http-sim",
        kind="http",
        base_url=f"{sim}/http",
        timeout_seconds=5,
        retry_attempts=0,
    )


def _run(client, session, endpoint, test_name, test_data=None):
    return client.post(
        f"/testing/sessions/{session.pk}/results",
        {"endpoint_id": endpoint.pk, "test_name": test_name, "test_data": test_data},
        format="json",
    )


class _DashboardListener:
    """Receives dashboard events through the real Redis channel layer."""

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.loop = asyncio.new_event_loop()
        self.channel = self.loop.run_until_complete(self.layer.new_channel())
        self.loop.run_until_complete(
            self.layer.group_add(DASHBOARD_GROUP, self.channel)
        )

    def first(self, event_type: str, object_id: str, timeout: float = 5.0):
        """The first ``event_type`` event about ``object_id`` within ``timeout``
        (other test runs may share this Redis and broadcast too)."""

        async def wait() -> dict:
            while True:
                event = (await self.layer.receive(self.channel))["event"]
                if event["type"] == event_type and event["data"]["id"] == object_id:
                    return event

        try:
            return self.loop.run_until_complete(asyncio.wait_for(wait(), timeout))
        except TimeoutError:
            return None

    def close(self) -> None:
        self.loop.run_until_complete(
            self.layer.group_discard(DASHBOARD_GROUP, self.channel)
        )
        self.loop.close()


@pytest.fixture
def dashboard():
    listener = _DashboardListener()
    yield listener
    listener.close()


@pytest.mark.django_db(transaction=True)
def test_a_workflow_run_is_stored_returned_and_broadcast(
    tester_client, tester, session, sim, dashboard
):
    endpoint = _yunite(sim)
    response = _run(
        tester_client,
        session,
        endpoint,
        "yunite_user_lookup",
        {"discord_user_id": fx.YUNITE_LINKED_DISCORD_ID},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "PASSED", body
    assert body["session_id"] == str(session.pk)
    assert body["endpoint_id"] == endpoint.pk and body["endpoint_kind"] == "yunite"
    assert body["mode"] == "SIMULATED"
    assert body["assertions"] and all(a["passed"] for a in body["assertions"])
    assert body["request_data"]["exchanges"], "the request is recorded"
    assert fx.YUNITE_API_TOKEN not in response.content.decode()
    stored = TestResult.objects.get(pk=body["id"])
    assert stored.status == "PASSED" and stored.completed_at >= stored.started_at
    assert AuditEvent.objects.filter(
        action="session.workflow_run", actor=tester, target_id=body["id"]
    ).exists()
    event = dashboard.first("test_result", body["id"])
    assert event is not None, "no test_result event reached the dashboard group"
    assert event["data"]["id"] == body["id"]
    assert event["data"]["status"] == "PASSED"
    assert "request_data" not in event["data"]


def test_a_failing_service_gives_a_failed_or_error_result_not_a_5xx(
    tester_client, session, sim
):
    endpoint = _yunite(sim)
    requests.post(
        f"{sim}/_control/yunite/faults", json={"forced_status": 503}
    ).raise_for_status()
    response = _run(
        tester_client,
        session,
        endpoint,
        "yunite_user_lookup",
        {"discord_user_id": fx.YUNITE_LINKED_DISCORD_ID},
    )
    assert response.status_code == 201
    assert response.json()["status"] in ("FAILED", "ERROR")
    assert response.json()["error_details"]


def test_a_disabled_endpoint_is_409(tester_client, session, sim):
    endpoint = _http(sim)
    endpoint.enabled = False
    endpoint.save()
    assert_envelope(
        _run(tester_client, session, endpoint, "http_status_check"), 409, "conflict"
    )


def test_invalid_test_data_is_400_before_any_call(tester_client, session, sim):
    endpoint = _yunite(sim)
    body = assert_envelope(
        _run(
            tester_client,
            session,
            endpoint,
            "yunite_user_lookup",
            {"discord_user_id": "not-a-snowflake", "unexpected": 1},
        ),
        400,
    )
    assert body["details"]
    seen = requests.get(f"{sim}/_control/yunite/requests").json()["count"]
    assert seen == 0
    assert not TestResult.objects.exists()


def test_the_session_payment_cap_counts_earlier_payments(tester_client, session, sim):
    from tests.integrations.kinds.banano_wallet_helpers import banano_endpoint

    endpoint = banano_endpoint(sim)
    session.configuration = {"max_payment_ban": "0.1"}
    session.save()
    payment = {"recipient_address": fx.BANANO_RECIPIENT_ACCOUNT, "amount": "0.06"}
    first = _run(tester_client, session, endpoint, "banano_payment", payment)
    assert first.status_code == 201 and first.json()["status"] == "PASSED", (
        first.json()["error_details"]
    )
    sends_before = _sends(sim)
    second = _run(tester_client, session, endpoint, "banano_payment", payment)
    assert second.status_code == 201
    refused = second.json()
    assert refused["status"] == "FAILED"
    cap = next(a for a in refused["assertions"] if a["name"] == "session payment cap")
    assert cap["passed"] is False
    assert _sends(sim) == sends_before, "the node saw no second send"


def _sends(sim: str) -> int:
    log = requests.get(f"{sim}/_control/banano/requests").json()
    return sum(1 for r in log["requests"] if '"send"' in json.dumps(r))


@pytest.mark.django_db(transaction=True)
def test_concurrent_payments_of_one_session_cannot_both_pass_the_cap(
    tester, sim, redis_client
):
    """Two payments at once, each under the cap, together over it: the
    session's payment lock makes the second see the first."""
    from rest_framework.test import APIClient

    from tests.integrations.kinds.banano_wallet_helpers import banano_endpoint

    endpoint = banano_endpoint(sim)
    session = TestSession.objects.create(
        name="cap race", tester=tester, configuration={"max_payment_ban": "0.1"}
    )
    requests.post(
        f"{sim}/_control/banano/faults", json={"latency_ms": 150}
    ).raise_for_status()
    statuses: list[str] = []

    def pay() -> None:
        client = APIClient()
        client.force_authenticate(tester)
        try:
            response = _run(
                client,
                session,
                endpoint,
                "banano_payment",
                {"recipient_address": fx.BANANO_RECIPIENT_ACCOUNT, "amount": "0.06"},
            )
            statuses.append(response.json().get("status", response.status_code))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=pay) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(statuses) == ["FAILED", "PASSED"], statuses


def test_cleanup_runs_the_compensations_and_reports_what_it_undid(
    tester_client, session, sim
):
    endpoint = _http(sim)
    ran = _run(
        tester_client,
        session,
        endpoint,
        "api_test_fixture_creation",
        {"fixtures": ["alpha", "beta"]},
    )
    assert ran.status_code == 201 and ran.json()["status"] == "PASSED"
    assert list(
        Compensation.objects.filter(session=session)
        .order_by("id")
        .values_list("action", "payload", "state")
    ) == [
        ("remove_fixture", {"fixture": "alpha"}, "PENDING"),
        ("remove_fixture", {"fixture": "beta"}, "PENDING"),
    ]
    calls_before = len(requests.get(f"{sim}/_control/http/requests").json()["requests"])

    response = tester_client.delete(f"/testing/sessions/{session.pk}/cleanup")
    assert response.status_code == 200
    report = response.json()
    assert (report["undone"], report["failed"], report["already_done"]) == (2, 0, 0)
    assert [c["state"] for c in report["compensations"]] == ["DONE", "DONE"]
    assert {c["result"]["result"]["removed"] for c in report["compensations"]} == {
        "alpha",
        "beta",
    }
    log = requests.get(f"{sim}/_control/http/requests").json()["requests"]
    assert len(log) - calls_before == 2, "each undo called the service once"

    again = tester_client.delete(f"/testing/sessions/{session.pk}/cleanup").json()
    assert (again["undone"], again["failed"], again["already_done"]) == (0, 0, 2)


def test_a_failed_undo_is_reported_and_retried_by_the_next_cleanup(
    tester_client, session, sim
):
    endpoint = _http(sim)
    _run(
        tester_client,
        session,
        endpoint,
        "api_test_fixture_creation",
        {"fixtures": ["alpha", "stuck"]},
    )
    report = tester_client.delete(f"/testing/sessions/{session.pk}/cleanup").json()
    assert (report["undone"], report["failed"]) == (1, 1)
    stuck = next(
        c for c in report["compensations"] if c["description"] == "remove stuck"
    )
    assert stuck["state"] == "FAILED"
    assert "500" in stuck["result"]["error"]
    assert stuck["done_at"] is None
    retry = tester_client.delete(f"/testing/sessions/{session.pk}/cleanup").json()
    assert (retry["undone"], retry["failed"], retry["already_done"]) == (0, 1, 1)


def test_workflow_runs_are_throttled_per_user(tester_client, session, sim, settings):
    rest = dict(settings.REST_FRAMEWORK)
    rest["DEFAULT_THROTTLE_RATES"] = {
        **rest["DEFAULT_THROTTLE_RATES"],
        "workflow": "2/min",
    }
    settings.REST_FRAMEWORK = rest
    endpoint = _http(sim)
    for _ in range(2):
        ran = _run(tester_client, session, endpoint, "http_status_check")
        assert ran.status_code == 201
    throttled = _run(tester_client, session, endpoint, "http_status_check")
    body = assert_envelope(throttled, 429, "throttled")
    assert body["details"]["retry_after_seconds"] > 0
    assert int(throttled["Retry-After"]) > 0
    # Reads are not throttled.
    assert (
        tester_client.get(f"/testing/sessions/{session.pk}/results").status_code == 200
    )


def test_cleanup_removes_the_admin_fixture_a_session_created(
    tester_client, session, sim
):
    """The real admin_user_creation workflow end to end: the fixture exists on
    the Pay2Slay simulator after the run and is gone after the cleanup."""
    endpoint = IntegrationEndpoint(
        name="p2s-admin",
        kind="admin",
        base_url=f"{sim}/p2s",
        timeout_seconds=5,
        retry_attempts=0,
    )
    endpoint.set_credentials({"admin_email": fx.P2S_ADMIN_EMAIL})
    endpoint.save()

    def admin_emails() -> set[str]:
        rows = requests.get(f"{sim}/_control/admin/admin_users").json()
        return {row["email"] for row in rows["admin_users"]}

    ran = _run(
        tester_client,
        session,
        endpoint,
        "admin_user_creation",
        {"email": "api-fixture@example.org"},
    )
    assert ran.status_code == 201
    assert ran.json()["status"] == "PASSED", ran.json()["error_details"]
    assert "api-fixture@example.org" in admin_emails()

    report = tester_client.delete(f"/testing/sessions/{session.pk}/cleanup").json()
    assert (report["undone"], report["failed"]) == (1, 0)
    [undo] = report["compensations"]
    assert undo["workflow"] == "admin_user_creation"
    assert undo["result"]["result"] == {
        "email": "api-fixture@example.org",
        "removed": True,
    }
    assert "api-fixture@example.org" not in admin_emails()
