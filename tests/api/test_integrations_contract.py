"""Contract of the integration routes (SPEC §2)."""

from __future__ import annotations

import json

import pytest

from integrations.models import AuditEvent, IntegrationEndpoint, IntegrationHealthStatus
from tests.api.conftest import assert_envelope, make_health

pytestmark = pytest.mark.django_db

ENDPOINT_FIELDS = {
    "id": int,
    "name": str,
    "kind": str,
    "mode": str,
    "base_url": str,
    "health_check_url": str,
    "auth_type": str,
    "rate_limit_per_minute": int,
    "timeout_seconds": int,
    "retry_attempts": int,
    "enabled": bool,
    "check_interval_seconds": int,
    "startup_grace_seconds": int,
    "latency_threshold_ms": (int, type(None)),
    "latency_baseline_ms": (float, int, type(None)),
    "failure_threshold": int,
    "recovery_threshold": int,
    "settings": dict,
    "has_credentials": bool,
    "status": (str, type(None)),
    "response_time_ms": (int, type(None)),
    "checked_at": (str, type(None)),
    "created_at": str,
    "updated_at": str,
}
HEALTH_FIELDS = {
    "id": int,
    "endpoint_id": int,
    "endpoint_name": str,
    "session_id": (str, type(None)),
    "status": str,
    "response_time_ms": int,
    "status_code": (int, type(None)),
    "error_message": str,
    "checked_at": str,
    "mode": str,
    "metadata": dict,
}
SECRET = "sekrit-yunite-token-0123456789"


def assert_fields(item: dict, fields: dict) -> None:
    assert set(item) == set(fields), set(item) ^ set(fields)
    for name, kind in fields.items():
        assert isinstance(item[name], kind), (name, item[name])


class ListIntegrationsTests:
    def test_it_lists_endpoints_with_their_latest_check_and_no_credentials(
        self, owner_client, endpoint, other_endpoint
    ):
        make_health(endpoint, "UNHEALTHY", seconds_ago=60, response_time_ms=900)
        latest = make_health(endpoint, "DEGRADED", seconds_ago=1, response_time_ms=321)
        response = owner_client.get("/testing/integrations")
        assert response.status_code == 200
        assert SECRET not in response.content.decode()
        body = response.json()
        assert [item["name"] for item in body] == ["http-sim", "yunite-sim"]
        for item in body:
            assert_fields(item, ENDPOINT_FIELDS)
            assert "credentials" not in item
            assert "credentials_encrypted" not in item
        unchecked, checked = body
        assert unchecked["status"] is None and unchecked["checked_at"] is None
        assert unchecked["has_credentials"] is False
        assert checked["status"] == "DEGRADED"
        assert checked["response_time_ms"] == 321
        assert checked["checked_at"].startswith(latest.checked_at.strftime("%Y-%m-%dT"))
        assert checked["mode"] == "SIMULATED"
        assert checked["has_credentials"] is True

    def test_secret_looking_settings_are_redacted(self, tester_client, endpoint):
        endpoint.settings = {"guild_id": "1", "client_secret": "leak-me-not-42"}
        endpoint.save()
        response = tester_client.get("/testing/integrations")
        assert "leak-me-not-42" not in response.content.decode()
        assert response.json()[0]["settings"]["guild_id"] == "1"

    def test_it_pages_with_limit(self, tester_client, endpoint, other_endpoint):
        page = tester_client.get("/testing/integrations?limit=1&offset=1").json()
        assert page["count"] == 2
        assert [item["name"] for item in page["results"]] == ["yunite-sim"]

    def test_it_shows_one_endpoint_and_404s_unknown_ones(self, tester_client, endpoint):
        body = tester_client.get(f"/testing/integrations/{endpoint.pk}").json()
        assert_fields(body, ENDPOINT_FIELDS)
        assert_envelope(tester_client.get("/testing/integrations/999999"), 404)
        assert_envelope(tester_client.get("/testing/integrations/abc"), 404)


class PatchIntegrationTests:
    def test_an_operator_edits_timeouts_and_enabled(
        self, operator_client, operator, endpoint
    ):
        response = operator_client.patch(
            f"/testing/integrations/{endpoint.pk}",
            {"timeout_seconds": 12, "enabled": False, "retry_attempts": 5},
            format="json",
        )
        assert response.status_code == 200
        body = response.json()
        assert_fields(body, ENDPOINT_FIELDS)
        assert (body["timeout_seconds"], body["enabled"], body["retry_attempts"]) == (
            12,
            False,
            5,
        )
        endpoint.refresh_from_db()
        assert endpoint.timeout_seconds == 12 and endpoint.enabled is False
        event = AuditEvent.objects.get(action="endpoint.update")
        assert event.actor == operator
        assert event.changes["timeout_seconds"] == [5, 12]

    def test_credentials_are_write_only_encrypted_and_audited_redacted(
        self, operator_client, other_endpoint
    ):
        new_secret = "brand-new-secret-value-987"
        response = operator_client.patch(
            f"/testing/integrations/{other_endpoint.pk}",
            {"credentials": {"api_token": new_secret}},
            format="json",
        )
        assert response.status_code == 200
        assert new_secret not in response.content.decode()
        assert response.json()["has_credentials"] is True
        other_endpoint.refresh_from_db()
        assert other_endpoint.get_credentials() == {"api_token": new_secret}
        assert new_secret not in other_endpoint.credentials_encrypted
        event = AuditEvent.objects.get(action="endpoint.update")
        assert new_secret not in json.dumps(event.changes)
        cleared = operator_client.patch(
            f"/testing/integrations/{other_endpoint.pk}",
            {"credentials": None},
            format="json",
        ).json()
        assert cleared["has_credentials"] is False

    @pytest.mark.parametrize(
        "payload, field",
        [
            ({"timeout_seconds": 0}, "timeout_seconds"),
            ({"timeout_seconds": 301}, "timeout_seconds"),
            ({"retry_attempts": 11}, "retry_attempts"),
            ({"rate_limit_per_minute": 0}, "rate_limit_per_minute"),
            ({"base_url": "ftp://example.org"}, "base_url"),
            ({"base_url": "https://pay2slay.example.com/api"}, "base_url"),
            ({"settings": [1]}, "settings"),
            ({"credentials": "plain"}, "credentials"),
            ({"mode": "SOMETIMES"}, "mode"),
            ({"name": "http-sim"}, "name"),
        ],
    )
    def test_bad_values_are_400_with_field_details(
        self, operator_client, endpoint, other_endpoint, settings, payload, field
    ):
        settings.PRODUCTION_HOSTS = ["*.example.com"]
        body = assert_envelope(
            operator_client.patch(
                f"/testing/integrations/{endpoint.pk}", payload, format="json"
            ),
            400,
            "validation_error",
        )
        assert field in body["details"]
        endpoint.refresh_from_db()
        assert endpoint.timeout_seconds == 5

    @pytest.mark.parametrize("client_name", ["tester_client", "owner_client"])
    def test_only_operators_edit_endpoints(self, request, client_name, endpoint):
        client = request.getfixturevalue(client_name)
        assert_envelope(
            client.patch(
                f"/testing/integrations/{endpoint.pk}",
                {"enabled": False},
                format="json",
            ),
            403,
            "permission_denied",
        )
        endpoint.refresh_from_db()
        assert endpoint.enabled is True


class HealthRouteTests:
    def test_latest_health_is_404_before_the_first_check(self, tester_client, endpoint):
        body = assert_envelope(
            tester_client.get(f"/testing/integrations/{endpoint.pk}/health"),
            404,
            "not_found",
        )
        assert "not been checked" in body["message"]

    def test_latest_health_is_the_newest_row(self, owner_client, endpoint, session):
        make_health(endpoint, "HEALTHY", seconds_ago=30)
        newest = make_health(endpoint, "TIMEOUT", session=session, seconds_ago=2)
        response = owner_client.get(f"/testing/integrations/{endpoint.pk}/health")
        assert response.status_code == 200
        body = response.json()
        assert_fields(body, HEALTH_FIELDS)
        assert body["id"] == newest.pk and body["status"] == "TIMEOUT"
        assert body["session_id"] == str(session.pk)

    @pytest.mark.usefixtures("outbound_settings")
    def test_post_runs_a_check_now_against_the_service(
        self, tester_client, tester, sim
    ):
        endpoint = IntegrationEndpoint.objects.create(
            name="http-target",
            kind="http",
            base_url=f"{sim}/http",
            health_check_url=f"{sim}/http/status",
            timeout_seconds=5,
            retry_attempts=0,
        )
        response = tester_client.post(f"/testing/integrations/{endpoint.pk}/health")
        assert response.status_code == 200, response.content
        body = response.json()
        assert_fields(body, HEALTH_FIELDS)
        assert body["status"] == "HEALTHY" and body["status_code"] == 200
        stored = IntegrationHealthStatus.objects.get(endpoint=endpoint)
        assert stored.pk == body["id"]
        latest = tester_client.get(f"/testing/integrations/{endpoint.pk}/health")
        assert latest.json()["id"] == body["id"]
        event = AuditEvent.objects.get(action="endpoint.check")
        assert event.actor == tester and event.changes["status"] == "HEALTHY"

    @pytest.mark.usefixtures("outbound_settings")
    def test_post_on_a_dead_service_returns_the_failed_check(self, tester_client):
        endpoint = IntegrationEndpoint.objects.create(
            name="nobody-home",
            kind="http",
            base_url="http://127.0.0.1:9/",
            timeout_seconds=2,
            retry_attempts=0,
        )
        response = tester_client.post(f"/testing/integrations/{endpoint.pk}/health")
        assert response.status_code == 200
        assert response.json()["status"] in {"UNHEALTHY", "TIMEOUT"}

    def test_product_owners_and_outsiders_cannot_run_checks(
        self, owner_client, outsider, endpoint
    ):
        from rest_framework.test import APIClient

        assert_envelope(
            owner_client.post(f"/testing/integrations/{endpoint.pk}/health"), 403
        )
        client = APIClient()
        client.force_authenticate(outsider)
        assert_envelope(client.post(f"/testing/integrations/{endpoint.pk}/health"), 403)
        assert not IntegrationHealthStatus.objects.exists()


class RateLimitStatusTests:
    @pytest.mark.usefixtures("outbound_settings")
    def test_it_reports_the_budget_of_the_endpoint(self, tester_client, endpoint):
        response = tester_client.get(
            f"/testing/integrations/{endpoint.pk}/rate-limit-status"
        )
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {
            "endpoint_id",
            "limit_per_minute",
            "window_seconds",
            "remaining",
            "next_slot_at",
            "last_retry_after",
            "last_rate_limited_at",
        }
        assert body["endpoint_id"] == endpoint.pk
        assert body["limit_per_minute"] == endpoint.rate_limit_per_minute
        assert body["remaining"] == endpoint.rate_limit_per_minute
        assert body["next_slot_at"] is None and body["last_retry_after"] is None

    def test_an_unknown_endpoint_is_404(self, tester_client):
        assert_envelope(
            tester_client.get("/testing/integrations/424242/rate-limit-status"), 404
        )
