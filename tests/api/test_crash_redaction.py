"""A crash of ours inside a workflow run is stored as ERROR without secrets."""

from __future__ import annotations

import pytest

import integrations.workflows
from sessions.models import TestResult

pytestmark = pytest.mark.django_db

SECRET = "sekrit-yunite-token-0123456789"


def test_an_internal_crash_is_an_error_result_with_the_credentials_redacted(
    tester_client, session, endpoint, monkeypatch
):
    def crash(**kwargs):
        # A bug that quotes the endpoint's credentials in its message.
        raise RuntimeError(f"cannot use {kwargs['endpoint'].get_credentials()}")

    # The crash is injected: run_workflow itself turns workflow failures into
    # ERROR outcomes, so only a bug of ours can reach this path.
    monkeypatch.setattr(integrations.workflows, "run_workflow", crash)
    response = tester_client.post(
        f"/testing/sessions/{session.pk}/results",
        {"test_name": "yunite_user_lookup", "endpoint_id": endpoint.pk},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "ERROR"
    assert "internal error: RuntimeError" in body["error_details"]
    assert SECRET not in body["error_details"]
    assert SECRET not in TestResult.objects.get().error_details
