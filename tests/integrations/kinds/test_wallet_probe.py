"""The payout wallet health check against the Pippin and Pay2Slay simulators."""

from __future__ import annotations

import time

import pytest

from integrations.http import get_client
from integrations.kinds.wallet.probe import WalletProbe
from integrations.simulators import fixtures as fx
from integrations.simulators.server import SimulatorServer
from tests.integrations.kinds.banano_wallet_helpers import (
    inject,
    logged_actions,
    request_count,
    wallet_endpoint,
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
    return WalletProbe(endpoint, get_client(endpoint)).check()


def test_a_funded_operator_wallet_with_pay2slay_showing_it_is_healthy(sim):
    result = check(wallet_endpoint(sim))

    assert result.status == "HEALTHY", result.error_message
    assert result.metadata["balance_raw"] == str(fx.BANANO_OPERATOR_BALANCE_RAW)
    assert result.metadata["p2s_operator_address"] == fx.BANANO_OPERATOR_ACCOUNT
    assert logged_actions(sim, "wallet") == ["wallet_balances"]
    assert request_count(sim, "admin") == 1


def test_without_a_wallet_id_the_operator_account_balance_is_read(sim):
    result = check(wallet_endpoint(sim, wallet_id=None, p2s_base_url=None))

    assert result.status == "HEALTHY", result.error_message
    assert logged_actions(sim, "wallet") == ["account_balance"]
    assert request_count(sim, "admin") == 0


def test_a_balance_below_the_minimum_is_degraded(sim):
    result = check(wallet_endpoint(sim, min_balance_ban="1000.5"))

    assert result.status == "DEGRADED"
    assert "1000 BAN is below 1000.5 BAN" in result.error_message


def test_a_429_is_degraded(sim):
    inject(sim, "wallet", rate_limited=True)

    result = check(wallet_endpoint(sim))

    assert result.status == "DEGRADED"
    assert result.status_code == 429


def test_an_rpc_error_is_unhealthy(sim):
    inject(sim, "wallet", forced_error="Wallet not found")

    result = check(wallet_endpoint(sim))

    assert result.status == "UNHEALTHY"
    assert "node error 'Wallet not found'" in result.error_message


def test_an_unknown_wallet_id_is_unhealthy(sim):
    endpoint = wallet_endpoint(sim, wallet_id="00000000-0000-4000-8000-000000000000")

    result = check(endpoint)

    assert result.status == "UNHEALTHY"
    assert "Wallet not found" in result.error_message


def test_control_disabled_is_unhealthy_for_wallet_balances(sim):
    inject(sim, "wallet", control_disabled=True)

    result = check(wallet_endpoint(sim))

    assert result.status == "UNHEALTHY"
    assert "RPC control is disabled" in result.error_message


def test_an_operator_account_missing_from_the_wallet_is_unhealthy(sim):
    result = check(wallet_endpoint(sim, operator_account=fx.BANANO_RECIPIENT_ACCOUNT))

    assert result.status == "UNHEALTHY"
    assert "is not in the wallet" in result.error_message


def test_a_500_and_an_outage_are_unhealthy(sim):
    inject(sim, "wallet", forced_status=500)
    assert check(wallet_endpoint(sim)).status == "UNHEALTHY"

    inject(sim, "wallet", forced_status=None, outage=True)
    result = check(wallet_endpoint(sim))
    assert result.status == "UNHEALTHY"
    assert result.status_code is None


def test_pay2slay_failing_its_donate_info_makes_the_wallet_unhealthy(sim):
    inject(sim, "admin", forced_status=503)

    result = check(wallet_endpoint(sim))

    assert result.status == "UNHEALTHY"
    assert "donate_info: HTTP 503" in result.error_message


def test_a_hanging_wallet_times_out(sim):
    inject(sim, "wallet", hang=True)

    started = time.monotonic()
    result = check(wallet_endpoint(sim, timeout=1))

    assert result.status == "TIMEOUT"
    assert time.monotonic() - started < 3


def test_settings_without_wallet_or_account_are_unhealthy_before_any_call(sim):
    result = check(wallet_endpoint(sim, wallet_id=None, operator_account=None))

    assert result.status == "UNHEALTHY"
    assert "wallet_id or operator_account" in result.error_message
    assert request_count(sim, "wallet") == 0


@pytest.fixture
def scripted():
    yield from running_server()


def test_pay2slay_without_an_operator_seed_makes_the_wallet_unhealthy(sim, scripted):
    # The simulator's donate-info always shows the seeded operator; a Pay2Slay
    # without a seed answers nulls, scripted here.
    scripted.default(
        "/api/donate-info",
        Reply(200, {"address": None, "balance": None, "pending": None}),
    )

    result = check(wallet_endpoint(sim, p2s_base_url=scripted.url))

    assert result.status == "UNHEALTHY"
    assert "no operator seed" in result.error_message
