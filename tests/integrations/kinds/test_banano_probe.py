"""The Banano health check against the node simulator, over real sockets."""

from __future__ import annotations

import time

import pytest
import requests

from integrations.http import get_client
from integrations.kinds.banano.probe import BananoProbe
from integrations.simulators import fixtures as fx
from integrations.simulators.server import SimulatorServer
from tests.integrations.kinds.banano_wallet_helpers import (
    banano_endpoint,
    inject,
    request_count,
)
from tests.integrations.outbound_helpers import (
    Reply,
    isolated_outbound_settings,
    running_server,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outbound_settings")]


@pytest.fixture(scope="module")
def simulator():
    server = SimulatorServer(port=0).start()
    yield server
    server.stop()


@pytest.fixture
def sim(simulator) -> str:
    simulator.reset()
    return simulator.url


@pytest.fixture
def outbound_settings(redis_client):
    yield from isolated_outbound_settings(redis_client)


def check(endpoint):
    return BananoProbe(endpoint, get_client(endpoint)).check()


def test_a_synced_node_on_the_expected_network_with_a_funded_operator_is_healthy(sim):
    result = check(banano_endpoint(sim))

    assert result.status == "HEALTHY", result.error_message
    assert result.status_code == 200
    assert result.metadata["network"] == "live"
    assert result.metadata["operator_balance_raw"] == str(
        fx.BANANO_OPERATOR_BALANCE_RAW
    )
    assert result.metadata["operator_balance_ban"] == "1000"
    assert result.response_time_ms >= 0


def test_an_operator_below_the_minimum_balance_is_degraded(sim):
    endpoint = banano_endpoint(sim, operator_account=fx.BANANO_LOW_BALANCE_ACCOUNT)

    result = check(endpoint)

    assert result.status == "DEGRADED"
    assert "12.5 BAN is below 50 BAN" in result.error_message
    assert result.metadata["low_balance"] is True


def test_a_node_out_of_sync_is_degraded(sim):
    inject(sim, "banano", out_of_sync=True)

    result = check(banano_endpoint(sim))

    assert result.status == "DEGRADED"
    assert "out of sync" in result.error_message
    assert "cemented/count 0.95" in result.error_message
    assert result.metadata["out_of_sync"] is True


def test_a_429_from_a_proxy_is_degraded_and_not_waited_out(sim):
    inject(sim, "banano", rate_limited=True, retry_after=30)

    started = time.monotonic()
    result = check(banano_endpoint(sim))

    assert result.status == "DEGRADED"
    assert result.status_code == 429
    assert result.metadata["retry_after"] == "30"
    assert time.monotonic() - started < 5


def test_a_node_error_reply_with_http_200_is_unhealthy(sim):
    inject(sim, "banano", forced_error="Unable to parse JSON")

    result = check(banano_endpoint(sim))

    assert result.status == "UNHEALTHY"
    assert result.status_code == 200
    assert "node error 'Unable to parse JSON'" in result.error_message
    assert result.metadata["step"] == "version"


def test_an_error_on_the_operator_balance_alone_is_unhealthy_and_names_the_step(sim):
    inject(
        sim,
        "banano",
        forced_error="Bad account number",
        forced_error_actions=["account_balance"],
    )

    result = check(banano_endpoint(sim))

    assert result.status == "UNHEALTHY"
    assert result.metadata["step"] == "account_balance"
    assert "Bad account number" in result.error_message


def test_a_500_is_unhealthy(sim):
    inject(sim, "banano", forced_status=500)

    result = check(banano_endpoint(sim))

    assert result.status == "UNHEALTHY"
    assert result.status_code == 500
    assert "HTTP 500" in result.error_message


def test_an_outage_that_drops_connections_is_unhealthy(sim):
    inject(sim, "banano", outage=True)

    result = check(banano_endpoint(sim))

    assert result.status == "UNHEALTHY"
    assert result.status_code is None
    assert "closed the connection" in result.error_message


def test_a_refused_connection_is_unhealthy():
    endpoint = banano_endpoint("http://127.0.0.1:9")  # discard port: nobody listens

    result = check(endpoint)

    assert result.status == "UNHEALTHY"
    assert "connection refused" in result.error_message


def test_a_node_on_another_network_is_unhealthy(sim):
    result = check(banano_endpoint(sim, expected_network="beta"))

    assert result.status == "UNHEALTHY"
    assert "network 'live', expected 'beta'" in result.error_message


def test_a_hanging_node_times_out_within_the_endpoint_timeout(sim):
    inject(sim, "banano", hang=True)

    started = time.monotonic()
    result = check(banano_endpoint(sim, timeout=1))

    assert result.status == "TIMEOUT"
    assert time.monotonic() - started < 3
    assert result.metadata["step"] == "version"


def test_a_cold_restarting_node_times_out_and_is_flagged_as_a_suspected_cold_start(
    sim,
):
    response = requests.post(f"{sim}/_control/banano/cold_restart", json={"seconds": 5})
    assert response.status_code == 200
    endpoint = banano_endpoint(sim, timeout=1)
    endpoint.startup_grace_seconds = 60

    result = check(endpoint)

    assert result.status == "TIMEOUT"
    assert result.metadata["cold_start_suspected"] is True
    assert result.metadata["within_startup_grace"] is True


def test_an_invalid_operator_account_setting_is_unhealthy_before_any_call(sim):
    before = request_count(sim, "banano")

    result = check(
        banano_endpoint(sim, operator_account=fx.BANANO_INVALID_CHECKSUM_ACCOUNT)
    )

    assert result.status == "UNHEALTHY"
    assert "settings.operator_account" in result.error_message
    assert request_count(sim, "banano") == before


@pytest.fixture
def scripted():
    yield from running_server()


def test_a_reply_that_breaks_the_schema_is_unhealthy_and_names_the_path(scripted):
    scripted.default(
        "/",
        Reply(
            200,
            {
                "rpc_version": "1",
                "store_version": "21",
                "protocol_version": "19",
                "node_vendor": "Banano V28.1",
                "network": "live",
            },
        ),
    )
    scripted.script("/", Reply(200, {"rpc_version": "1"}))
    endpoint = banano_endpoint(scripted.url, path="/")

    result = check(endpoint)

    assert result.status == "UNHEALTHY"
    assert result.metadata["invalid_path"] == "store_version"
    assert "response format of version" in result.error_message


def test_a_balance_sent_as_a_json_number_is_unhealthy(scripted):
    version = {
        "rpc_version": "1",
        "store_version": "21",
        "protocol_version": "19",
        "node_vendor": "Banano V28.1",
        "network": "live",
    }
    scripted.script(
        "/",
        Reply(200, version),
        Reply(200, {"count": "10", "unchecked": "0", "cemented": "10"}),
        Reply(200, {"balance": 1000, "pending": "0"}),
    )
    endpoint = banano_endpoint(scripted.url, path="/")

    result = check(endpoint)

    assert result.status == "UNHEALTHY"
    assert result.metadata["invalid_path"] == "balance"
    assert "decimal string" in result.error_message
