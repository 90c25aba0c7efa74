"""The generic "http" probe classifies what a real status URL answers."""

from __future__ import annotations

import pytest

from integrations.http import get_client
from integrations.kinds.base import (
    DEGRADED,
    HEALTHY,
    TIMEOUT,
    UNHEALTHY,
    probe_class,
)
from tests.integrations.outbound_helpers import (
    Reply,
    isolated_outbound_settings,
    make_endpoint,
    running_server,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outbound_settings")]


@pytest.fixture
def server():
    yield from running_server()


@pytest.fixture
def outbound_settings(redis_client):
    yield from isolated_outbound_settings(redis_client)


def check(endpoint):
    return probe_class("http")(endpoint, get_client(endpoint)).check()


def _endpoint(server, **overrides):
    return make_endpoint(
        server.url, health_check_url=server.url + "/status", **overrides
    )


def test_a_2xx_is_healthy_with_its_latency_and_status_code(server):
    result = check(_endpoint(server))
    assert result.status == HEALTHY
    assert result.status_code == 200
    assert 0 <= result.response_time_ms < 1000
    assert server.hits("/status")


def test_the_base_url_is_checked_when_there_is_no_health_check_url(server):
    endpoint = make_endpoint(server.url + "/root")
    assert check(endpoint).status == HEALTHY
    assert [hit.path for hit in server.hits()] == ["/root"]


def test_a_slow_2xx_is_degraded(server):
    server.default("/status", Reply(delay=0.12))
    result = check(_endpoint(server, latency_threshold_ms=50))
    assert result.status == DEGRADED
    assert result.response_time_ms >= 100
    assert "over the 50 ms threshold" in result.error_message


def test_a_429_is_degraded_and_not_retried(server):
    server.default("/status", Reply(429, headers={"Retry-After": "7"}))
    result = check(_endpoint(server, retry_attempts=3))
    assert result.status == DEGRADED
    assert result.status_code == 429
    assert result.metadata == {"retry_after": 7.0}
    assert len(server.hits("/status")) == 1


@pytest.mark.parametrize("code", [401, 404, 500, 503])
def test_client_and_server_errors_are_unhealthy(server, code):
    server.default("/status", Reply(code))
    result = check(_endpoint(server))
    assert result.status == UNHEALTHY
    assert result.status_code == code
    assert result.error_message.startswith(f"HTTP {code}")


def test_a_refused_connection_is_unhealthy(server):
    endpoint = _endpoint(server)
    server.stop()
    result = check(endpoint)
    assert result.status == UNHEALTHY
    assert result.status_code is None
    assert "connection refused" in result.error_message


def test_no_answer_within_the_timeout_is_a_timeout(server):
    server.default("/status", Reply(delay=1.5))
    result = check(_endpoint(server, timeout_seconds=1))
    assert result.status == TIMEOUT
    assert result.status_code is None
    assert result.response_time_ms >= 900
    assert len(server.hits("/status")) == 1


# -- against the generic http simulator -----------------------------------------


@pytest.fixture
def simulator():
    from integrations.simulators.server import SimulatorServer

    sim = SimulatorServer(host="127.0.0.1", port=0).start()
    yield sim
    sim.stop()


def _faults(simulator, **faults):
    import requests

    response = requests.post(
        f"{simulator.url}/_control/http/faults", json=faults, timeout=5
    )
    response.raise_for_status()


def test_the_simulated_status_page_is_healthy(simulator):
    endpoint = make_endpoint(
        simulator.url + "/http", health_check_url=simulator.url + "/http/status"
    )
    assert check(endpoint).status == HEALTHY


def test_a_simulated_outage_rate_limit_and_hang_are_classified(simulator):
    endpoint = make_endpoint(
        simulator.url + "/http",
        health_check_url=simulator.url + "/http/status",
        timeout_seconds=1,
    )
    _faults(simulator, forced_status=503)
    assert check(endpoint).status == UNHEALTHY

    _faults(simulator, forced_status=None, rate_limited=True, retry_after=3)
    limited = check(endpoint)
    assert (limited.status, limited.status_code) == (DEGRADED, 429)
    assert limited.metadata["retry_after"] == 3.0

    endpoint.health_check_url = simulator.url + "/http/delay/2"
    _faults(simulator, rate_limited=False)
    assert check(endpoint).status == TIMEOUT
