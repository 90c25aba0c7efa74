"""The Yunite probe and the yunite_user_lookup workflow, over real sockets
against the Yunite simulator (faults injected through its control API)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests

from integrations.http import get_client
from integrations.kinds.base import (
    DEGRADED,
    HEALTHY,
    TIMEOUT,
    UNHEALTHY,
    WorkflowInputError,
)
from integrations.kinds.yunite.probe import YuniteProbe
from integrations.models import IntegrationEndpoint
from integrations.simulators import fixtures as fx
from integrations.simulators.server import SimulatorServer
from integrations.workflows import ERROR, FAILED, PASSED, run_workflow
from tests.helpers import failed_assertions, free_port
from tests.integrations.outbound_helpers import (
    Reply,
    ScriptedServer,
    isolated_outbound_settings,
)

pytestmark = pytest.mark.django_db


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
    reply = requests.post(f"{sim.url}/_control/yunite/faults", json=values, timeout=5)
    assert reply.status_code == 200, reply.text


def sim_settings(sim: SimulatorServer, **values) -> None:
    reply = requests.post(f"{sim.url}/_control/yunite/settings", json=values, timeout=5)
    assert reply.status_code == 200, reply.text


def requests_seen(sim: SimulatorServer) -> int:
    return requests.get(f"{sim.url}/_control/yunite/requests", timeout=5).json()[
        "count"
    ]


def yunite_endpoint(base_url: str, **overrides) -> IntegrationEndpoint:
    settings = {
        "guild_id": fx.YUNITE_GUILD_ID,
        "test_users": {
            "linked": fx.YUNITE_LINKED_DISCORD_ID,
            "not_linked": fx.YUNITE_NOT_LINKED_DISCORD_ID,
            "not_found": fx.YUNITE_NOT_FOUND_DISCORD_ID,
            "expected_epic_id": fx.YUNITE_LINKED_EPIC_ID,
        },
    }
    settings.update(overrides.pop("settings", {}))
    token = overrides.pop("api_token", fx.YUNITE_API_TOKEN)
    fields = {
        "name": f"yunite-{uuid.uuid4().hex[:8]}",
        "kind": "yunite",
        "mode": IntegrationEndpoint.Mode.SIMULATED,
        "base_url": base_url,
        "rate_limit_per_minute": 6000,
        "timeout_seconds": 5,
        "retry_attempts": 1,
        "settings": settings,
        **overrides,
    }
    endpoint = IntegrationEndpoint(**fields)
    endpoint.set_credentials({"api_token": token})
    endpoint.save()
    return endpoint


@pytest.fixture
def endpoint(sim):
    def make(**overrides) -> IntegrationEndpoint:
        return yunite_endpoint(f"{sim.url}/yunite/api", **overrides)

    return make


def probe(endpoint: IntegrationEndpoint):
    return YuniteProbe(endpoint, get_client(endpoint)).check()


def lookup(endpoint: IntegrationEndpoint, test_data: dict | None = None):
    return run_workflow(
        endpoint=endpoint,
        name="yunite_user_lookup",
        test_data=test_data,
        session_id=None,
        configuration={},
    )


# -- probe -------------------------------------------------------------------------


def test_the_probe_is_healthy_when_our_guild_granted_read_registration(endpoint):
    result = probe(endpoint())
    assert result.status == HEALTHY, result.error_message
    assert result.status_code == 200
    assert result.response_time_ms >= 0
    assert result.metadata["app_id"] == fx.YUNITE_APP_ID
    assert "READ_REGISTRATION" in result.metadata["permissions"]
    assert set(result.metadata["rate_limit"]) == {
        "Y-RateLimit-Bucket",
        "Y-RateLimit-Permits",
        "Y-RateLimit-ResetIn",
    }
    assert fx.YUNITE_API_TOKEN not in repr(result)


def test_the_probe_is_degraded_when_our_guild_never_authorized_the_app(endpoint):
    guild = fx.YUNITE_UNAUTHORIZED_GUILD_ID
    result = probe(endpoint(settings={"guild_id": guild}))
    assert result.status == DEGRADED
    assert result.error_message == f"guild {guild} has not authorized the app"


def test_the_probe_turns_degraded_when_our_guild_withdraws_the_app(sim, endpoint):
    target = endpoint()
    assert probe(target).status == HEALTHY
    sim_settings(sim, revoked_guild_ids=[fx.YUNITE_GUILD_ID])
    result = probe(target)
    assert result.status == DEGRADED
    assert result.status_code == 200
    assert "has not authorized the app" in result.error_message


def test_the_probe_is_degraded_when_our_guild_lacks_read_registration(endpoint):
    result = probe(endpoint(settings={"guild_id": fx.YUNITE_NO_PERMISSION_GUILD_ID}))
    assert result.status == DEGRADED
    assert "READ_REGISTRATION" in result.error_message


def test_the_probe_reports_a_429_as_degraded_after_a_single_attempt(sim, endpoint):
    faults(sim, rate_limited=True, retry_after=7)
    result = probe(endpoint(retry_attempts=3))
    assert result.status == DEGRADED
    assert result.status_code == 429
    assert "rate limited" in result.error_message
    assert result.metadata["rate_limit"]["Y-RateLimit-ResetIn"] == "7"
    assert requests_seen(sim) == 1


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (401, "API token was refused"),
        (402, "no active Yunite Premium"),
        (403, "not authorized"),
        (500, "HTTP 500"),
        (503, "HTTP 503"),
    ],
)
def test_the_probe_is_unhealthy_on_auth_errors_and_server_errors(
    sim, endpoint, status, reason
):
    faults(sim, forced_status=status)
    result = probe(endpoint())
    assert result.status == UNHEALTHY
    assert result.status_code == status
    assert reason in result.error_message


def test_the_probe_is_unhealthy_when_the_token_is_refused(endpoint):
    result = probe(endpoint(api_token="not-the-token"))
    assert result.status == UNHEALTHY
    assert result.status_code == 401
    assert "Invalid or missing Y-Api-Token" in result.error_message


def test_the_probe_is_unhealthy_when_nothing_listens(db):
    result = probe(yunite_endpoint(f"http://127.0.0.1:{free_port()}/yunite/api"))
    assert result.status == UNHEALTHY
    assert result.status_code is None
    assert "connection refused" in result.error_message


def test_the_probe_times_out_on_a_hanging_service_within_the_endpoint_timeout(
    sim, endpoint
):
    faults(sim, hang=True)
    result = probe(endpoint(timeout_seconds=1))
    assert result.status == TIMEOUT
    assert 900 <= result.response_time_ms < 3000


def test_the_probe_is_degraded_when_slower_than_the_latency_threshold(sim, endpoint):
    faults(sim, latency_ms=300)
    result = probe(endpoint(latency_threshold_ms=100))
    assert result.status == DEGRADED
    assert result.response_time_ms >= 300
    assert "threshold 100 ms" in result.error_message


def test_the_probe_is_unhealthy_on_a_body_of_the_wrong_shape_naming_the_path(db):
    stub = ScriptedServer().start()
    try:
        stub.default(
            "/api/v3/app",
            Reply(
                body={
                    "app": {"id": "a1", "name": "x"},
                    "authorizedGuilds": [
                        {"guildId": "pay2slay", "permissions": ["READ_REGISTRATION"]}
                    ],
                }
            ),
        )
        result = probe(yunite_endpoint(f"{stub.url}/api"))
    finally:
        stub.stop()
    assert result.status == UNHEALTHY
    assert result.error_message.startswith("response format:")
    assert result.error_message.endswith("at authorizedGuilds.0.guildId")


def test_the_probe_is_unhealthy_without_a_configured_guild(endpoint):
    result = probe(endpoint(settings={"guild_id": ""}))
    assert result.status == UNHEALTHY
    assert result.error_message == "settings.guild_id is not set"


# -- workflow ----------------------------------------------------------------------


def test_one_click_looks_up_the_configured_linked_user_and_passes(endpoint):
    outcome = lookup(endpoint())
    assert outcome.status == PASSED, outcome.error_details
    assert outcome.request_data["test_data"]["discord_user_id"] == (
        fx.YUNITE_LINKED_DISCORD_ID
    )
    by_name = {a["name"]: a for a in outcome.assertions}
    assert by_name["outcome"]["actual"] == "linked"
    assert by_name["epicID"]["actual"] == fx.YUNITE_LINKED_EPIC_ID
    assert by_name["epicID is 32 lowercase hex"]["passed"] is True
    notes = outcome.response_data["notes"]
    assert notes["latency_ms"] >= 0
    assert "Y-RateLimit-Permits" in notes["rate_limit"]
    # The token never reaches the stored result.
    assert fx.YUNITE_API_TOKEN not in repr(outcome)


@pytest.mark.parametrize(
    ("user_id", "expected"),
    [
        (fx.YUNITE_NOT_LINKED_DISCORD_ID, "notLinked"),
        (fx.YUNITE_NOT_FOUND_DISCORD_ID, "notFound"),
    ],
)
def test_configured_test_users_are_expected_in_their_own_list(
    endpoint, user_id, expected
):
    outcome = lookup(endpoint(), {"discord_user_id": user_id})
    assert outcome.status == PASSED, outcome.error_details
    assert outcome.response_data["notes"]["outcome"] == expected


def test_a_wrong_expected_epic_id_fails_the_lookup(endpoint):
    outcome = lookup(endpoint(), {"expected_epic_id": "0" * 32})
    assert outcome.status == FAILED
    assert failed_assertions(outcome) == ["epicID"]


def test_an_unexpected_outcome_fails_the_lookup(endpoint):
    outcome = lookup(
        endpoint(),
        {
            "discord_user_id": fx.YUNITE_NOT_FOUND_DISCORD_ID,
            "expected_outcome": "linked",
        },
    )
    assert outcome.status == FAILED
    assert failed_assertions(outcome) == ["outcome"]


def test_an_unknown_user_without_expectation_records_the_outcome_only(endpoint):
    outcome = lookup(endpoint(), {"discord_user_id": "123456789012345678"})
    assert outcome.status == PASSED
    assert outcome.response_data["notes"]["outcome"] == "notFound"
    assert "expectation" in outcome.response_data["notes"]


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"api_token": "wrong-token"}, "Yunite: the API token was refused (401)"),
        (
            {"settings": {"guild_id": fx.YUNITE_NO_PREMIUM_GUILD_ID}},
            "Yunite: the guild has no active Yunite Premium (402)",
        ),
        (
            {"settings": {"guild_id": fx.YUNITE_NO_PERMISSION_GUILD_ID}},
            "Yunite: the token is not authorized for this guild or resource (403)",
        ),
    ],
)
def test_auth_and_premium_refusals_fail_with_the_reason(endpoint, overrides, reason):
    outcome = lookup(endpoint(**overrides))
    assert outcome.status == FAILED
    assert outcome.error_details.startswith(reason)
    assert failed_assertions(outcome) == ["HTTP status"]


def test_a_guild_that_withdrew_the_app_fails_the_lookup_with_403(sim, endpoint):
    sim_settings(sim, revoked_guild_ids=[fx.YUNITE_GUILD_ID])
    outcome = lookup(endpoint())
    assert outcome.status == FAILED
    assert outcome.error_details == (
        "Yunite: the token is not authorized for this guild or resource (403) "
        "(The app is not authorized for this guild)"
    )


def test_a_429_beyond_the_retries_fails_the_lookup(sim, endpoint):
    faults(sim, rate_limited=True, retry_after=0)
    outcome = lookup(endpoint(retry_attempts=2))
    assert outcome.status == FAILED
    assert "rate limited (429), retries exhausted" in outcome.error_details
    assert requests_seen(sim) == 3  # the first attempt and two retries


def test_a_server_error_fails_the_lookup_without_resending_the_post(sim, endpoint):
    faults(sim, forced_status=503)
    outcome = lookup(endpoint(retry_attempts=3))
    assert outcome.status == FAILED
    assert outcome.error_details.startswith("Yunite: HTTP 503")
    assert requests_seen(sim) == 1


def test_a_hanging_service_is_an_error_after_the_endpoint_timeout(sim, endpoint):
    faults(sim, hang=True)
    outcome = lookup(endpoint(timeout_seconds=1))
    assert outcome.status == ERROR
    assert outcome.error_details.startswith("OutboundTimeout")


def test_a_links_body_of_the_wrong_shape_fails_a_response_format_assertion(db):
    stub = ScriptedServer().start()
    try:
        path = f"/api/v3/guild/{fx.YUNITE_GUILD_ID}/registration/links"
        stub.default(path, Reply(body={"users": [], "notLinked": []}))
        outcome = lookup(yunite_endpoint(f"{stub.url}/api"))
    finally:
        stub.stop()
    assert outcome.status == FAILED
    assert failed_assertions(outcome) == ["response format: registration links"]
    assert outcome.error_details.endswith("at notFound")


def test_a_discord_id_that_is_not_a_snowflake_is_refused_before_any_call(sim, endpoint):
    with pytest.raises(WorkflowInputError) as refused:
        lookup(endpoint(), {"discord_user_id": "slayer#0001"})
    assert "discord_user_id" in refused.value.details
    assert requests_seen(sim) == 0
