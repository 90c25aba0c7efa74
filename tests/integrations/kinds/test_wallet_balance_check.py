"""wallet_balance_check against the Pippin and Pay2Slay simulators."""

from __future__ import annotations

import pytest

from integrations.simulators import fixtures as fx
from integrations.simulators.banano_codec import RAW_PER_BAN
from integrations.simulators.server import SimulatorServer
from integrations.workflows import run_compensation, run_workflow
from tests.integrations.kinds.banano_wallet_helpers import (
    inject,
    logged_actions,
    me_status,
    p2s_session,
    request_count,
    wallet_endpoint,
)
from tests.integrations.outbound_helpers import (
    Reply,
    isolated_outbound_settings,
    running_server,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outbound_settings")]

OPERATOR = fx.BANANO_OPERATOR_ACCOUNT
LINK = fx.P2S_MEMBER_WALLET_ADDRESS


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


def check(endpoint, test_data=None):
    return run_workflow(
        endpoint=endpoint,
        name="wallet_balance_check",
        test_data=test_data,
        session_id=None,
        configuration={},
    )


def failed_names(outcome) -> list[str]:
    return [a["name"] for a in outcome.assertions if not a["passed"]]


def passed_names(outcome) -> list[str]:
    return [a["name"] for a in outcome.assertions if a["passed"]]


def test_one_click_checks_the_balance_pay2slay_and_links_the_fixture_address(sim):
    outcome = check(wallet_endpoint(sim))

    assert outcome.status == "PASSED", (outcome.error_details, outcome.assertions)
    names = passed_names(outcome)
    for expected in [
        "Pay2Slay /api/donate-info answers 200",
        "account_balance.balance is a raw integer string",
        "account_balance.receivable is a raw integer string",
        "wallet_balances agrees with account_balance",
        "Pay2Slay shows the operator account",
        "Pay2Slay's BAN balance equals raw / 10**29",
        "link wallet answers 200",
        "/me/status.wallet_address",
        "link refused: nano_ address",
        "link refused: address with whitespace",
        "link refused: no session cookie",
        "refused links left /me/status.wallet_address alone",
    ]:
        assert expected in names
    notes = outcome.response_data["notes"]
    # donate-info received the seeded 1.5 BAN donation before the balance read.
    assert notes["balance_raw"] == str(
        fx.BANANO_OPERATOR_BALANCE_RAW + fx.BANANO_OPERATOR_RECEIVABLE_RAW
    )
    assert notes["balance_ban"] == "1001.5"
    assert notes["refusals"] == {
        "nano_ address": "Invalid Banano address",
        "address with whitespace": "Invalid Banano address",
        "no session cookie": "Unauthorized",
    }
    assert "no address before" in notes["link_cleanup"]
    assert me_status(sim, p2s_session(sim))["wallet_address"] == LINK


def test_the_fixture_session_cookie_never_reaches_the_recorded_exchanges(sim):
    outcome = check(wallet_endpoint(sim))

    hook = [
        e
        for e in outcome.response_data["exchanges"]
        if e["label"] == "fixture.p2s_session"
    ]
    assert len(hook) == 1
    assert hook[0]["response_body"]["cookie_value"] == "[REDACTED]"
    assert outcome.response_data["notes"]["p2s_session"] == (
        f"fixture session of {fx.DISCORD_MEMBER_USERNAME}"
    )


def test_relinking_registers_a_compensation_that_restores_the_previous_address(sim):
    endpoint = wallet_endpoint(sim)
    assert check(endpoint).status == "PASSED"

    second = check(endpoint, {"link_address": fx.BANANO_RECIPIENT_ACCOUNT})

    assert second.status == "PASSED", second.error_details
    [compensation] = second.compensations
    assert compensation.action == "restore_wallet_link"
    assert compensation.payload["previous_address"] == LINK
    cookie = p2s_session(sim)
    assert me_status(sim, cookie)["wallet_address"] == fx.BANANO_RECIPIENT_ACCOUNT

    report = run_compensation(
        endpoint=endpoint,
        workflow_name="wallet_balance_check",
        action=compensation.action,
        payload=compensation.payload,
    )

    assert report["ok"], report["error"]
    assert me_status(sim, cookie)["wallet_address"] == LINK


def test_a_live_endpoint_uses_its_session_credential_to_link(sim):
    cookie = p2s_session(sim)
    endpoint = wallet_endpoint(sim, mode="LIVE", credentials={"p2s_session": cookie})

    outcome = check(endpoint, {"link_address": fx.BANANO_RECIPIENT_ACCOUNT})

    assert outcome.status == "PASSED", outcome.error_details
    assert outcome.response_data["notes"]["p2s_session"] == "credentials.p2s_session"
    assert me_status(sim, cookie)["wallet_address"] == fx.BANANO_RECIPIENT_ACCOUNT
    assert cookie not in str(outcome.request_data)


def test_a_live_endpoint_without_a_session_skips_linking(sim):
    endpoint = wallet_endpoint(sim, mode="LIVE")

    outcome = check(endpoint, {"link_address": LINK})

    assert outcome.status == "PASSED", outcome.error_details
    assert "skipped" in outcome.response_data["notes"]["link"]
    assert "link wallet answers 200" not in passed_names(outcome)


def test_a_fixture_account_balance_is_checked_without_comparing_pay2slay(sim):
    outcome = check(
        wallet_endpoint(sim, link_address=None),
        {"account": fx.BANANO_RECIPIENT_ACCOUNT, "link_address": None},
    )

    assert outcome.status == "PASSED", outcome.error_details
    notes = outcome.response_data["notes"]
    assert notes["balance_raw"] == str(fx.BANANO_RECIPIENT_BALANCE_RAW)
    assert "no BAN comparison" in notes["donate_info"]
    assert "not in wallet" in notes["wallet_balances"]


def test_without_pay2slay_only_the_wallet_rpc_is_called(sim):
    outcome = check(wallet_endpoint(sim, p2s_base_url=None))

    assert outcome.status == "PASSED", outcome.error_details
    assert logged_actions(sim, "wallet") == ["account_balance", "wallet_balances"]
    assert request_count(sim, "admin") == 0


@pytest.fixture
def scripted():
    yield from running_server()


def test_a_pay2slay_balance_that_disagrees_with_raw_fails(sim, scripted):
    scripted.default(
        "/api/donate-info",
        Reply(200, {"address": OPERATOR, "balance": 999.0, "pending": 0.0}),
    )

    outcome = check(wallet_endpoint(sim, p2s_base_url=scripted.url))

    assert outcome.status == "FAILED"
    assert failed_names(outcome) == ["Pay2Slay's BAN balance equals raw / 10**29"]
    [mismatch] = [a for a in outcome.assertions if not a["passed"]]
    assert mismatch["actual"] == "999.0"
    assert mismatch["expected"].startswith("1000 BAN (raw ")


def test_a_balance_sent_as_a_number_fails_the_raw_string_check(scripted):
    scripted.default("/", Reply(200, {"balance": 1000 * RAW_PER_BAN, "pending": "0"}))

    endpoint = wallet_endpoint(
        scripted.url, path="/", wallet_id=None, p2s_base_url=None
    )

    outcome = check(endpoint)

    assert outcome.status == "FAILED"
    assert "account_balance.balance is a raw integer string" in failed_names(outcome)


def test_control_disabled_fails_with_the_wallets_reason(sim):
    inject(sim, "wallet", control_disabled=True)

    outcome = check(wallet_endpoint(sim))

    assert outcome.status == "FAILED"
    assert failed_names(outcome) == ["wallet_balances: no node error"]
    assert "RPC control is disabled" in outcome.error_details


def test_a_forced_wallet_error_fails(sim):
    inject(sim, "wallet", forced_error="Wallet is locked")

    outcome = check(wallet_endpoint(sim))

    assert outcome.status == "FAILED"
    assert "Wallet is locked" in outcome.error_details


def test_pay2slay_down_fails_the_donate_info_step(sim):
    inject(sim, "admin", forced_status=503)

    outcome = check(wallet_endpoint(sim))

    assert outcome.status == "FAILED"
    assert failed_names(outcome) == ["Pay2Slay /api/donate-info answers 200"]


def test_a_wallet_outage_is_an_error(sim):
    inject(sim, "wallet", outage=True)

    outcome = check(wallet_endpoint(sim))

    assert outcome.status == "ERROR"
    assert "OutboundConnectionError" in outcome.error_details
