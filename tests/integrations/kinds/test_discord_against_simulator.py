"""The Discord probe and the discord_oauth_flow workflow, over real sockets
against the Discord simulator (faults injected through its control API)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests

from integrations.http import get_client
from integrations.kinds.base import DEGRADED, HEALTHY, TIMEOUT, UNHEALTHY
from integrations.kinds.discord.probe import DiscordProbe
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

REDIRECT_URI = fx.DISCORD_REDIRECT_URIS[0]


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


def control(sim: SimulatorServer, what: str, **values) -> None:
    reply = requests.post(f"{sim.url}/_control/discord/{what}", json=values, timeout=5)
    assert reply.status_code == 200, reply.text


def requests_seen(sim: SimulatorServer) -> list[dict]:
    return requests.get(f"{sim.url}/_control/discord/requests", timeout=5).json()[
        "requests"
    ]


def discord_endpoint(base_url: str, **overrides) -> IntegrationEndpoint:
    settings = {
        "guild_id": fx.DISCORD_GUILD_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": "identify guilds",
    }
    settings.update(overrides.pop("settings", {}))
    secret = overrides.pop("client_secret", fx.DISCORD_CLIENT_SECRET)
    fields = {
        "name": f"discord-{uuid.uuid4().hex[:8]}",
        "kind": "discord",
        "mode": IntegrationEndpoint.Mode.SIMULATED,
        "base_url": base_url,
        "rate_limit_per_minute": 6000,
        "timeout_seconds": 5,
        "retry_attempts": 1,
        "settings": settings,
        **overrides,
    }
    endpoint = IntegrationEndpoint(**fields)
    endpoint.set_credentials(
        {"client_id": fx.DISCORD_CLIENT_ID, "client_secret": secret}
    )
    endpoint.save()
    return endpoint


@pytest.fixture
def endpoint(sim):
    def make(**overrides) -> IntegrationEndpoint:
        return discord_endpoint(f"{sim.url}/discord/api", **overrides)

    return make


def probe(endpoint: IntegrationEndpoint):
    return DiscordProbe(endpoint, get_client(endpoint)).check()


def oauth_flow(endpoint: IntegrationEndpoint, test_data: dict | None = None):
    return run_workflow(
        endpoint=endpoint,
        name="discord_oauth_flow",
        test_data=test_data,
        session_id=None,
        configuration={},
    )


def assertions(outcome) -> dict[str, dict]:
    return {a["name"]: a for a in outcome.assertions}


# -- probe -------------------------------------------------------------------------


def test_the_probe_is_healthy_when_the_app_token_names_our_application(sim, endpoint):
    result = probe(endpoint())
    assert result.status == HEALTHY, result.error_message
    assert result.status_code == 200
    assert result.metadata["application_name"] == fx.DISCORD_APPLICATION_NAME
    assert result.metadata["application_matches_client_id"] is True
    assert "X-RateLimit-Remaining" in result.metadata["rate_limit"]
    grant = requests_seen(sim)[0]
    assert grant["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert grant["headers"]["Authorization"].startswith("Basic ")
    assert "grant_type=client_credentials" in grant["body"]
    assert fx.DISCORD_CLIENT_SECRET not in repr(result)
    assert fx.DISCORD_CLIENT_ID not in repr(result)


def test_the_probe_is_unhealthy_when_the_client_secret_is_refused(endpoint):
    result = probe(endpoint(client_secret="wrong-secret"))
    assert result.status == UNHEALTHY
    assert result.status_code == 401
    assert "invalid_client" in result.error_message


def test_the_probe_reports_a_429_as_degraded_after_a_single_attempt(sim, endpoint):
    control(sim, "faults", rate_limited=True, retry_after=3.5)
    result = probe(endpoint(retry_attempts=3))
    assert result.status == DEGRADED
    assert result.status_code == 429
    assert result.metadata["retry_after"] == 3.5
    assert result.metadata["rate_limit"]["X-RateLimit-Scope"] == "user"
    assert len(requests_seen(sim)) == 1


@pytest.mark.parametrize("status", [500, 502, 403])
def test_the_probe_is_unhealthy_on_server_errors_and_refusals(sim, endpoint, status):
    control(sim, "faults", forced_status=status)
    result = probe(endpoint())
    assert result.status == UNHEALTHY
    assert result.status_code == status
    assert f"HTTP {status}" in result.error_message


def test_the_probe_times_out_on_a_hanging_service(sim, endpoint):
    control(sim, "faults", hang=True)
    result = probe(endpoint(timeout_seconds=1))
    assert result.status == TIMEOUT
    assert 900 <= result.response_time_ms < 3000


def test_the_probe_is_degraded_when_slower_than_the_latency_threshold(sim, endpoint):
    control(sim, "faults", latency_ms=150)
    result = probe(endpoint(latency_threshold_ms=200))
    # Two calls of 150 ms each: the threshold applies to the whole check.
    assert result.status == DEGRADED
    assert result.response_time_ms >= 300
    assert "threshold 200 ms" in result.error_message


def test_the_probe_is_unhealthy_when_nothing_listens(db):
    result = probe(discord_endpoint(f"http://127.0.0.1:{free_port()}/api"))
    assert result.status == UNHEALTHY
    assert "connection refused" in result.error_message


def test_the_probe_is_unhealthy_when_the_token_is_not_bearer(db):
    stub = ScriptedServer().start()
    try:
        stub.default(
            "/api/oauth2/token",
            Reply(
                body={
                    "access_token": "abc",
                    "token_type": "bearer",
                    "expires_in": 604800,
                    "scope": "identify",
                }
            ),
        )
        result = probe(discord_endpoint(f"{stub.url}/api"))
    finally:
        stub.stop()
    assert result.status == UNHEALTHY
    assert result.error_message.startswith("response format of token:")
    assert result.error_message.endswith("at token_type")


def test_the_probe_is_unhealthy_when_the_token_belongs_to_another_application(db):
    stub = ScriptedServer().start()
    try:
        stub.default(
            "/api/oauth2/token",
            Reply(
                body={
                    "access_token": "abc",
                    "token_type": "Bearer",
                    "expires_in": 604800,
                    "scope": "identify",
                }
            ),
        )
        stub.default(
            "/api/oauth2/@me",
            Reply(
                body={
                    "application": {"id": "999999999999999999", "name": "Other"},
                    "scopes": ["identify"],
                    "expires": "2030-01-01T00:00:00+00:00",
                }
            ),
        )
        result = probe(discord_endpoint(f"{stub.url}/api"))
    finally:
        stub.stop()
    assert result.status == UNHEALTHY
    assert result.metadata["application_matches_client_id"] is False
    assert "999999999999999999" in result.error_message


# -- workflow ----------------------------------------------------------------------


def test_one_click_runs_the_whole_login_and_its_refusals_and_passes(sim, endpoint):
    outcome = oauth_flow(endpoint())
    assert outcome.status == PASSED, (outcome.error_details, outcome.assertions)
    checks = assertions(outcome)
    assert checks["authorize: state echoed"]["passed"]
    assert checks[f"member of guild {fx.DISCORD_GUILD_ID}"]["actual"] is True
    assert checks["replayed code refused with 400 invalid_grant"]["actual"] == (
        '400 invalid_grant: Invalid "code" in request.'
    )
    assert checks["JSON-encoded token request refused"]["actual"].startswith(
        "400 invalid_request"
    )
    assert checks["token request with a wrong redirect_uri refused"]["passed"]
    assert checks["token revoked"]["actual"] == 200
    assert outcome.response_data["notes"]["username"] == fx.DISCORD_MEMBER_USERNAME
    # The code was exchanged as a form, with Basic client authentication.
    token_calls = [r for r in requests_seen(sim) if r["path"].endswith("/oauth2/token")]
    first = token_calls[0]
    assert first["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert first["headers"]["Authorization"].startswith("Basic ")
    # Every user token issued during the run ends revoked.
    tokens = sim.service("discord").tokens.values()
    assert tokens and all(t.revoked for t in tokens)
    # No token or secret reaches the stored result.
    assert fx.DISCORD_CLIENT_SECRET not in repr(outcome)
    assert not any(t.access_token in repr(outcome) for t in tokens)


def test_a_user_outside_the_guild_fails_the_membership_assertion(sim, endpoint):
    control(sim, "settings", consent_user_id=fx.DISCORD_NON_MEMBER_USER_ID)
    outcome = oauth_flow(endpoint())
    assert outcome.status == FAILED
    assert failed_assertions(outcome) == [f"member of guild {fx.DISCORD_GUILD_ID}"]


def test_a_non_member_passes_when_membership_is_not_expected(sim, endpoint):
    control(sim, "settings", consent_user_id=fx.DISCORD_NON_MEMBER_USER_ID)
    outcome = oauth_flow(endpoint(), {"expect_member": False})
    assert outcome.status == PASSED, outcome.error_details


def test_a_scope_without_guilds_is_refused_before_any_call(sim, endpoint):
    outcome = oauth_flow(endpoint(), {"scope": "identify"})
    assert outcome.status == FAILED
    assert failed_assertions(outcome) == ["requested scope includes guilds"]
    assert requests_seen(sim) == []


def test_a_refused_client_secret_fails_the_token_exchange(endpoint):
    outcome = oauth_flow(endpoint(client_secret="wrong-secret"))
    assert outcome.status == FAILED
    assert outcome.error_details == "token exchange refused: 401 invalid_client"


def test_a_redirect_uri_the_app_did_not_register_fails_the_authorize_step(endpoint):
    outcome = oauth_flow(
        endpoint(settings={"redirect_uri": "https://elsewhere.example/cb"})
    )
    assert outcome.status == FAILED
    assert "authorize answered 400 Invalid Form Body" in outcome.error_details


def test_a_429_beyond_the_retries_fails_the_flow_with_the_reason(sim, endpoint):
    control(sim, "faults", rate_limited=True, retry_after=0)
    outcome = oauth_flow(endpoint(retry_attempts=2))
    assert outcome.status == FAILED
    assert outcome.error_details == (
        "authorize answered 429 You are being rate limited. instead of a redirect"
    )
    assert len(requests_seen(sim)) == 3


def test_a_server_error_fails_the_flow(sim, endpoint):
    control(sim, "faults", forced_status=503)
    outcome = oauth_flow(endpoint())
    assert outcome.status == FAILED
    assert outcome.error_details.startswith("authorize answered 503")


def test_a_hanging_service_is_an_error(sim, endpoint):
    control(sim, "faults", hang=True)
    outcome = oauth_flow(endpoint(timeout_seconds=1, retry_attempts=0))
    assert outcome.status == ERROR
    assert outcome.error_details.startswith("OutboundTimeout")


def test_a_redirect_that_does_not_echo_the_state_fails_the_flow(db):
    # A server that drops ``state`` defeats the CSRF protection it exists for.
    stub = ScriptedServer().start()
    try:
        stub.default(
            "/api/oauth2/authorize",
            Reply(status=302, headers={"Location": f"{REDIRECT_URI}?code=c1"}),
        )
        outcome = oauth_flow(discord_endpoint(f"{stub.url}/api"))
    finally:
        stub.stop()
    assert outcome.status == FAILED
    assert failed_assertions(outcome) == ["authorize: state echoed"]
    assert [r.path for r in stub.hits()] == ["/api/oauth2/authorize"]
