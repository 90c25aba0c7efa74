"""banano_payment against the node simulator: money moves exactly once, the
session cap is enforced before any call, and every fault ends in a clear status."""

from __future__ import annotations

import json
import re

import pytest
import requests

from integrations.http import get_client
from integrations.kinds.banano.client import BananoClient
from integrations.kinds.base import WorkflowInputError
from integrations.simulators import fixtures as fx
from integrations.simulators.server import SimulatorServer
from integrations.workflows import run_workflow
from tests.integrations.kinds.banano_wallet_helpers import (
    ban,
    banano_endpoint,
    inject,
    logged_actions,
    node_balance,
    request_count,
)
from tests.integrations.outbound_helpers import (
    Reply,
    isolated_outbound_settings,
    running_server,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outbound_settings")]

OPERATOR = fx.BANANO_OPERATOR_ACCOUNT
RECIPIENT = fx.BANANO_RECIPIENT_ACCOUNT


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


def pay(endpoint, test_data=None, *, configuration=None, spent_raw=0):
    return run_workflow(
        endpoint=endpoint,
        name="banano_payment",
        test_data=test_data,
        session_id=None,
        configuration=configuration or {},
        session_spent_raw=spent_raw,
    )


def failed_names(outcome) -> list[str]:
    return [a["name"] for a in outcome.assertions if not a["passed"]]


def test_a_payment_on_a_healthy_node_passes_and_moves_exactly_the_amount_once(sim):
    outcome = pay(
        banano_endpoint(sim),
        {"recipient_address": RECIPIENT, "amount": "0.05", "memo": "thanks"},
    )

    assert outcome.status == "PASSED", (outcome.error_details, outcome.assertions)
    names = [a["name"] for a in outcome.assertions]
    assert names == [
        "session payment cap",
        "operator balance covers the amount",
        "send returned a 64-hex block hash",
        "operator balance dropped by exactly the amount",
        "account_history shows the send",
        "recipient's receivable holds the block",
        "re-send with the same id returns the same block",
        "re-send with the same id moves no money",
    ]
    notes = outcome.response_data["notes"]
    assert re.fullmatch(r"[0-9a-f]{32}", notes["send_id"])
    assert notes["amount_raw"] == str(5 * 10**27)
    assert notes["payment_outcome"] == "sent"
    assert re.fullmatch(r"[0-9A-F]{64}", notes["block_hash"])
    assert notes["memo"] == "thanks"
    assert "cannot be undone" in notes["compensation"]
    assert outcome.compensations == []
    # The ledger itself: paid once although send went out twice.
    assert node_balance(sim, OPERATOR) == fx.BANANO_OPERATOR_BALANCE_RAW - ban("0.05")
    assert logged_actions(sim, "banano").count("send") == 2


def test_the_memo_stays_in_our_notes_and_never_reaches_the_node(sim):
    pay(
        banano_endpoint(sim),
        {"recipient_address": RECIPIENT, "amount": "0.01", "memo": "memo-7f3a"},
    )

    bodies = [
        entry["body"]
        for entry in requests.get(f"{sim}/_control/banano/requests").json()["requests"]
    ]
    assert bodies
    assert not any("memo-7f3a" in body for body in bodies)


def test_the_same_send_id_twice_moves_money_once(sim):
    endpoint = banano_endpoint(sim)
    client = BananoClient(get_client(endpoint))

    first = client.send(fx.BANANO_OPERATOR_WALLET_ID, OPERATOR, RECIPIENT, 7, "id-1")
    second = client.send(fx.BANANO_OPERATOR_WALLET_ID, OPERATOR, RECIPIENT, 7, "id-1")

    assert first == second
    assert node_balance(sim, OPERATOR) == fx.BANANO_OPERATOR_BALANCE_RAW - 7


def test_one_click_uses_the_endpoint_settings_as_defaults(sim):
    outcome = pay(banano_endpoint(sim, test_amount_ban="0.02"))

    assert outcome.status == "PASSED", outcome.error_details
    assert outcome.request_data["test_data"]["recipient_address"] == RECIPIENT
    assert outcome.response_data["notes"]["amount_raw"] == str(ban("0.02"))


def test_a_payment_above_the_session_cap_is_refused_before_any_call(sim):
    before = request_count(sim, "banano")

    outcome = pay(banano_endpoint(sim), {"recipient_address": RECIPIENT, "amount": "2"})

    assert outcome.status == "FAILED"
    assert "session payment cap" in outcome.error_details
    assert failed_names(outcome) == ["session payment cap"]
    assert outcome.request_data["exchanges"] == []
    assert outcome.response_data["notes"]["amount_raw"] == "0"
    assert outcome.response_data["notes"]["payment_outcome"] == "refused_by_cap"
    assert request_count(sim, "banano") == before
    assert node_balance(sim, OPERATOR) == fx.BANANO_OPERATOR_BALANCE_RAW


def test_what_the_session_already_paid_counts_towards_the_cap(sim):
    endpoint = banano_endpoint(sim)
    before = request_count(sim, "banano")

    refused = pay(
        endpoint,
        {"recipient_address": RECIPIENT, "amount": "0.5"},
        spent_raw=ban("0.6"),
    )

    assert refused.status == "FAILED"
    assert request_count(sim, "banano") == before
    [cap] = refused.assertions
    assert "0.6 BAN already paid + 0.5 BAN requested = 1.1 BAN" in cap["actual"]

    allowed = pay(
        endpoint,
        {"recipient_address": RECIPIENT, "amount": "0.4"},
        spent_raw=ban("0.6"),
    )
    assert allowed.status == "PASSED", allowed.error_details


def test_the_session_configuration_can_raise_the_cap(sim):
    outcome = pay(
        banano_endpoint(sim),
        {"recipient_address": RECIPIENT, "amount": 2},
        configuration={"max_payment_ban": "5"},
    )

    assert outcome.status == "PASSED", outcome.error_details
    assert node_balance(sim, OPERATOR) == fx.BANANO_OPERATOR_BALANCE_RAW - ban("2")


def test_an_invalid_recipient_is_refused_as_input_before_any_call(sim):
    before = request_count(sim, "banano")

    with pytest.raises(WorkflowInputError) as caught:
        pay(
            banano_endpoint(sim),
            {"recipient_address": fx.BANANO_INVALID_CHECKSUM_ACCOUNT, "amount": "0.1"},
        )

    assert "checksum" in json.dumps(caught.value.details)
    assert request_count(sim, "banano") == before


def test_insufficient_balance_fails_with_the_nodes_reason_and_pays_nothing(sim):
    endpoint = banano_endpoint(
        sim,
        operator_account=fx.BANANO_LOW_BALANCE_ACCOUNT,
        operator_wallet=fx.BANANO_LOW_BALANCE_WALLET_ID,
    )

    outcome = pay(
        endpoint,
        {"recipient_address": RECIPIENT, "amount": "20"},
        configuration={"max_payment_ban": 100},
    )

    assert outcome.status == "FAILED"
    assert "Insufficient balance" in outcome.error_details
    assert "operator balance covers the amount" in failed_names(outcome)
    assert outcome.response_data["notes"]["amount_raw"] == "0"
    assert outcome.response_data["notes"]["payment_outcome"] == "refused_by_node"
    assert node_balance(sim, fx.BANANO_LOW_BALANCE_ACCOUNT) == fx.BANANO_LOW_BALANCE_RAW


def test_a_locked_wallet_fails_with_the_nodes_reason(sim):
    endpoint = banano_endpoint(
        sim,
        operator_account=fx.BANANO_LOCKED_ACCOUNT,
        operator_wallet=fx.BANANO_LOCKED_WALLET_ID,
    )

    outcome = pay(endpoint, {"recipient_address": RECIPIENT, "amount": "0.1"})

    assert outcome.status == "FAILED"
    assert "Wallet is locked" in outcome.error_details
    assert failed_names(outcome) == ["send accepted by the node"]


def test_rpc_control_disabled_fails_with_the_nodes_reason(sim):
    inject(sim, "banano", control_disabled=True)

    outcome = pay(
        banano_endpoint(sim), {"recipient_address": RECIPIENT, "amount": "0.1"}
    )

    assert outcome.status == "FAILED"
    assert "RPC control is disabled" in outcome.error_details
    assert node_balance(sim, OPERATOR) == fx.BANANO_OPERATOR_BALANCE_RAW


def test_a_forced_node_error_fails_at_the_first_call(sim):
    inject(sim, "banano", forced_error="Internal server error")

    outcome = pay(
        banano_endpoint(sim), {"recipient_address": RECIPIENT, "amount": "0.1"}
    )

    assert outcome.status == "FAILED"
    assert failed_names(outcome) == ["operator balance before: no node error"]
    assert "Internal server error" in outcome.error_details
    assert "send" not in logged_actions(sim, "banano")


def test_an_outage_is_an_error_not_a_failure(sim):
    inject(sim, "banano", outage=True)

    outcome = pay(
        banano_endpoint(sim), {"recipient_address": RECIPIENT, "amount": "0.1"}
    )

    assert outcome.status == "ERROR"
    assert "OutboundConnectionError" in outcome.error_details


def test_a_500_is_an_error(sim):
    inject(sim, "banano", forced_status=500)

    outcome = pay(
        banano_endpoint(sim), {"recipient_address": RECIPIENT, "amount": "0.1"}
    )

    assert outcome.status == "ERROR"
    assert "HTTP 500" in outcome.error_details


@pytest.fixture
def scripted():
    yield from running_server()


def test_a_send_that_times_out_counts_as_possibly_paid(scripted):
    # A node that answers the balance but not the send in time: the scripted
    # server, because a simulator fault would slow every action alike.
    scripted.script(
        "/",
        Reply(200, {"balance": str(ban("1000")), "pending": "0", "receivable": "0"}),
        Reply(200, {"block": "A" * 64}, delay=2.0),
    )
    endpoint = banano_endpoint(scripted.url, path="/", timeout=1)

    outcome = pay(endpoint, {"recipient_address": RECIPIENT, "amount": "0.1"})

    assert outcome.status == "ERROR"
    assert "OutboundTimeout" in outcome.error_details
    notes = outcome.response_data["notes"]
    assert notes["payment_outcome"] == "unknown"
    assert notes["amount_raw"] == str(ban("0.1"))
    assert notes["send_id"] in notes["unknown_outcome"]


def test_an_endpoint_without_an_operator_wallet_is_an_error_that_says_so(sim):
    before = request_count(sim, "banano")

    outcome = pay(
        banano_endpoint(sim, operator_wallet=""),
        {"recipient_address": RECIPIENT, "amount": "0.1"},
    )

    assert outcome.status == "ERROR"
    assert "settings.operator_wallet" in outcome.error_details
    assert request_count(sim, "banano") == before


def test_a_payment_that_fails_a_check_after_the_send_still_counts_as_paid(scripted):
    # A node that accepts the send but never shows it in the balance: FAILED,
    # yet the money may have moved, so the notes keep the amount for the cap.
    balance = {"balance": str(ban("1000")), "pending": "0", "receivable": "0"}
    block = {"block": "B" * 64}
    scripted.script(
        "/",
        Reply(200, balance),
        Reply(200, block),
        Reply(200, balance),
        Reply(200, {"account": fx.BANANO_OPERATOR_ACCOUNT, "history": ""}),
        Reply(200, {"blocks": ""}),
        Reply(200, block),
        Reply(200, balance),
    )
    endpoint = banano_endpoint(scripted.url, path="/", confirmation_wait_seconds=0)

    outcome = pay(endpoint, {"recipient_address": RECIPIENT, "amount": "0.1"})

    assert outcome.status == "FAILED"
    assert failed_names(outcome) == [
        "operator balance dropped by exactly the amount",
        "account_history shows the send",
        "recipient's receivable holds the block",
    ]
    notes = outcome.response_data["notes"]
    assert notes["payment_outcome"] == "sent"
    assert notes["amount_raw"] == str(ban("0.1"))
