"""Banano node RPC and the Pippin-style wallet, sharing one ledger."""

from __future__ import annotations

import re

import pytest

from integrations.simulators import fixtures as fx
from integrations.simulators.banano_codec import RAW_PER_BAN, format_ban, public_key_hex
from integrations.simulators.ledger import state_block_hash
from tests.integrations.simulators.conftest import set_faults

HASH = re.compile(r"^[0-9A-F]{64}$")


@pytest.fixture
def rpc(sim, http):
    def call(action: str, service: str = "banano", **params):
        reply = http.post(f"{sim.url}/{service}/", json={"action": action, **params})
        assert reply.status_code == 200, reply.text
        return reply.json()

    return call


def send_params(**overrides):
    return {
        "wallet": fx.BANANO_OPERATOR_WALLET_ID,
        "source": fx.BANANO_OPERATOR_ACCOUNT,
        "destination": fx.BANANO_RECIPIENT_ACCOUNT,
        "amount": str(5 * RAW_PER_BAN // 100),
        **overrides,
    }


def test_version_block_count_and_uptime(rpc) -> None:
    version = rpc("version")
    assert version["network"] == "live"
    assert version["rpc_version"] == "1"
    count = rpc("block_count")
    assert int(count["cemented"]) == int(count["count"])
    assert count["unchecked"].isdigit()
    assert rpc("uptime")["seconds"].isdigit()


def test_the_operator_starts_with_1000_ban_and_a_receivable_donation(rpc) -> None:
    balance = rpc("account_balance", account=fx.BANANO_OPERATOR_ACCOUNT)
    assert balance == {
        "balance": str(1000 * RAW_PER_BAN),
        "pending": str(fx.BANANO_OPERATOR_RECEIVABLE_RAW),
        "receivable": str(fx.BANANO_OPERATOR_RECEIVABLE_RAW),
    }


def test_an_unopened_account_has_zero_balance_but_no_account_info(rpc) -> None:
    assert rpc("account_balance", account=fx.BANANO_UNOPENED_ACCOUNT)["balance"] == "0"
    assert rpc("account_info", account=fx.BANANO_UNOPENED_ACCOUNT) == {
        "error": "Account not found"
    }
    history = rpc("account_history", account=fx.BANANO_UNOPENED_ACCOUNT, count="5")
    assert history == {"account": fx.BANANO_UNOPENED_ACCOUNT, "history": ""}


def test_errors_come_back_with_http_200_and_the_node_message(rpc, sim, http) -> None:
    assert rpc("account_balance", account=fx.BANANO_INVALID_CHECKSUM_ACCOUNT) == {
        "error": "Bad account number"
    }
    assert rpc("make_coffee") == {"error": "Unknown command"}
    reply = http.post(f"{sim.url}/banano/", data="{oops")
    assert reply.status_code == 200
    assert reply.json() == {"error": "Unable to parse JSON"}


def test_account_info_reports_the_chain_and_representative(rpc) -> None:
    info = rpc(
        "account_info", account=fx.BANANO_OPERATOR_ACCOUNT, representative="true"
    )
    assert info["balance"] == str(1000 * RAW_PER_BAN)
    assert info["representative"] == fx.BANANO_REPRESENTATIVE
    assert HASH.match(info["frontier"])
    assert info["block_count"] == "1"
    assert info["confirmation_height_frontier"] == info["frontier"]
    assert "representative" not in rpc(
        "account_info", account=fx.BANANO_OPERATOR_ACCOUNT
    )


def test_a_send_by_id_is_idempotent_and_moves_the_money_once(rpc) -> None:
    amount = 5 * RAW_PER_BAN // 100
    first = rpc("send", **send_params(id="payout-42"))
    assert HASH.match(first["block"])
    again = rpc("send", **send_params(id="payout-42"))
    assert again == first
    balance = rpc("account_balance", account=fx.BANANO_OPERATOR_ACCOUNT)["balance"]
    assert int(balance) == 1000 * RAW_PER_BAN - amount
    other = rpc("send", **send_params(id="payout-43"))
    assert other["block"] != first["block"]


def test_a_send_shows_in_history_and_in_the_recipients_receivable(rpc) -> None:
    amount = 5 * RAW_PER_BAN // 100
    block = rpc("send", **send_params(id="h-1"))["block"]
    history = rpc("account_history", account=fx.BANANO_OPERATOR_ACCOUNT, count="10")
    newest = history["history"][0]
    assert newest == {
        "type": "send",
        "account": fx.BANANO_RECIPIENT_ACCOUNT,
        "amount": str(amount),
        "amount_decimal": "0.05",
        "local_timestamp": newest["local_timestamp"],
        "height": "2",
        "hash": block,
        "confirmed": "true",
    }
    assert history["history"][1]["type"] == "receive"
    assert rpc("receivable", account=fx.BANANO_RECIPIENT_ACCOUNT, count="10") == {
        "blocks": [block]
    }
    with_threshold = rpc(
        "receivable", account=fx.BANANO_RECIPIENT_ACCOUNT, count="10", threshold="1"
    )
    assert with_threshold == {"blocks": {block: str(amount)}}
    with_source = rpc(
        "pending", account=fx.BANANO_RECIPIENT_ACCOUNT, count="10", source="true"
    )
    assert with_source == {
        "blocks": {block: {"amount": str(amount), "source": fx.BANANO_OPERATOR_ACCOUNT}}
    }


def test_history_pages_with_count_and_previous(rpc) -> None:
    for n in range(3):
        rpc("send", **send_params(id=f"p-{n}"))
    page = rpc("account_history", account=fx.BANANO_OPERATOR_ACCOUNT, count="2")
    assert len(page["history"]) == 2
    rest = rpc(
        "account_history",
        account=fx.BANANO_OPERATOR_ACCOUNT,
        count="10",
        head=page["previous"],
    )
    assert [e["height"] for e in rest["history"]] == ["2", "1"]
    raw = rpc(
        "account_history", account=fx.BANANO_OPERATOR_ACCOUNT, count="1", raw="true"
    )
    assert raw["history"][0]["subtype"] == "send"


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"wallet": "operator"}, "Bad wallet number"),
        ({"wallet": "A" * 64}, "Wallet not found"),
        ({"source": "ban_nope"}, "Bad source"),
        (
            {"destination": fx.BANANO_INVALID_CHECKSUM_ACCOUNT},
            "Bad destination account",
        ),
        ({"amount": "1.5"}, "Invalid amount number"),
        ({"amount": str(1001 * RAW_PER_BAN)}, "Insufficient balance"),
        ({"source": fx.BANANO_LOW_BALANCE_ACCOUNT}, "Account not found in wallet"),
        (
            {"wallet": fx.BANANO_LOCKED_WALLET_ID, "source": fx.BANANO_LOCKED_ACCOUNT},
            "Wallet is locked",
        ),
    ],
)
def test_send_errors_use_the_node_messages_and_move_nothing(
    rpc, overrides, error
) -> None:
    assert rpc("send", **send_params(**overrides)) == {"error": error}
    balance = rpc("account_balance", account=fx.BANANO_OPERATOR_ACCOUNT)["balance"]
    assert balance == str(1000 * RAW_PER_BAN)


def test_pay2slays_no_seed_send_always_fails(rpc) -> None:
    reply = rpc(
        "send",
        wallet="operator",
        destination=fx.BANANO_RECIPIENT_ACCOUNT,
        amount="5000000000000000000000000000",
    )
    assert reply == {"error": "Bad wallet number"}


def test_wallet_actions_fail_when_rpc_control_is_disabled(sim, rpc) -> None:
    set_faults(sim, "banano", control_disabled=True)
    assert rpc("send", **send_params()) == {"error": "RPC control is disabled"}
    assert rpc("wallet_balances", wallet=fx.BANANO_OPERATOR_WALLET_ID) == {
        "error": "RPC control is disabled"
    }
    assert "balance" in rpc("account_balance", account=fx.BANANO_OPERATOR_ACCOUNT)


def test_out_of_sync_mode_lowers_the_cemented_ratio(sim, rpc) -> None:
    set_faults(sim, "banano", out_of_sync=True)
    count = rpc("block_count")
    assert int(count["cemented"]) / int(count["count"]) < 0.99
    assert int(count["unchecked"]) > 1000


def test_a_forced_error_answers_every_action_with_it(sim, rpc) -> None:
    set_faults(
        sim,
        "banano",
        forced_error="Block work is insufficient",
        forced_error_actions=["send"],
    )
    assert rpc("send", **send_params()) == {"error": "Block work is insufficient"}
    assert rpc("version")["network"] == "live"


def test_a_proxy_rate_limit_is_a_plain_429(sim, http) -> None:
    set_faults(sim, "banano", rate_limited=True, retry_after=3)
    reply = http.post(f"{sim.url}/banano/", json={"action": "version"})
    assert reply.status_code == 429
    assert reply.headers["Retry-After"] == "3"
    assert reply.headers["Content-Type"].startswith("text/plain")


def test_wallet_views_show_the_operator_and_the_low_balance_account(rpc) -> None:
    balances = rpc("wallet_balances", wallet=fx.BANANO_OPERATOR_WALLET_ID)["balances"]
    assert balances[fx.BANANO_OPERATOR_ACCOUNT]["balance"] == str(1000 * RAW_PER_BAN)
    low = rpc("wallet_balances", wallet=fx.BANANO_LOW_BALANCE_WALLET_ID)["balances"]
    assert int(low[fx.BANANO_LOW_BALANCE_ACCOUNT]["balance"]) < 50 * RAW_PER_BAN
    assert rpc("account_list", wallet=fx.BANANO_OPERATOR_WALLET_ID) == {
        "accounts": [fx.BANANO_OPERATOR_ACCOUNT]
    }
    info = rpc("wallet_info", wallet=fx.BANANO_OPERATOR_WALLET_ID)
    assert info["balance"] == str(1000 * RAW_PER_BAN)
    assert info["accounts_count"] == "1"


def test_process_applies_a_locally_built_send_block_with_the_same_hash(rpc) -> None:
    info = rpc(
        "account_info", account=fx.BANANO_OPERATOR_ACCOUNT, representative="true"
    )
    amount = 2 * RAW_PER_BAN
    block = {
        "type": "state",
        "account": fx.BANANO_OPERATOR_ACCOUNT,
        "previous": info["frontier"],
        "representative": info["representative"],
        "balance": str(int(info["balance"]) - amount),
        "link": public_key_hex(fx.BANANO_RECIPIENT_ACCOUNT),
        "link_as_account": fx.BANANO_RECIPIENT_ACCOUNT,
        "signature": "0" * 128,
    }
    without_work = rpc("process", json_block="true", subtype="send", block=block)
    assert without_work == {"error": "Block work is insufficient"}
    result = rpc(
        "process", json_block="true", subtype="send", block=block, do_work=True
    )
    expected = state_block_hash(
        block["account"],
        block["previous"],
        block["representative"],
        int(block["balance"]),
        block["link"],
    )
    assert result == {"hash": expected}
    assert rpc("account_balance", account=fx.BANANO_OPERATOR_ACCOUNT)["balance"] == str(
        1000 * RAW_PER_BAN - amount
    )
    assert rpc("process", json_block="true", block=block, do_work=True) == {
        "error": "Old block"
    }
    stale = {**block, "balance": str(int(info["balance"]) - 1)}
    assert rpc("process", json_block="true", block=stale, do_work=True) == {
        "error": "Fork"
    }
    gap = {**block, "previous": "F" * 64}
    assert rpc("process", json_block="true", block=gap, do_work=True) == {
        "error": "Gap previous block"
    }


def test_receive_all_style_flow_uses_receivable_block_info_and_process(rpc) -> None:
    pending = rpc(
        "receivable", account=fx.BANANO_OPERATOR_ACCOUNT, count="100", source="true"
    )
    ((block_hash, entry),) = pending["blocks"].items()
    info = rpc("block_info", hash=block_hash, json_block="true")
    assert info["block_account"] == fx.BANANO_DONOR_ACCOUNT
    assert info["amount"] == entry["amount"]
    assert info["subtype"] == "send"
    assert info["contents"]["link_as_account"] == fx.BANANO_OPERATOR_ACCOUNT
    account = rpc(
        "account_info", account=fx.BANANO_OPERATOR_ACCOUNT, representative="true"
    )
    receive = {
        "type": "state",
        "account": fx.BANANO_OPERATOR_ACCOUNT,
        "previous": account["frontier"],
        "representative": account["representative"],
        "balance": str(int(account["balance"]) + int(entry["amount"]) + 1),
        "link": block_hash,
    }
    assert rpc(
        "process", json_block="true", subtype="receive", block=receive, do_work=True
    ) == {"error": "Balance and amount delta do not match"}
    receive["balance"] = str(int(account["balance"]) + int(entry["amount"]))
    result = rpc(
        "process", json_block="true", subtype="receive", block=receive, do_work=True
    )
    assert HASH.match(result["hash"])
    assert rpc("receivable", account=fx.BANANO_OPERATOR_ACCOUNT, count="100") == {
        "blocks": ""
    }
    assert rpc("block_info", hash="0" * 64) == {"error": "Block not found"}


def test_node_wallet_receive_and_receive_all(rpc) -> None:
    amount = str(RAW_PER_BAN)
    rpc("send", **send_params(amount=amount, destination=fx.BANANO_LOW_BALANCE_ACCOUNT))
    before = int(
        rpc("account_balance", account=fx.BANANO_LOW_BALANCE_ACCOUNT)["balance"]
    )
    assert rpc("receive_all", wallet=fx.BANANO_LOW_BALANCE_WALLET_ID) == {
        "received": "1"
    }
    after = int(
        rpc("account_balance", account=fx.BANANO_LOW_BALANCE_ACCOUNT)["balance"]
    )
    assert after - before == RAW_PER_BAN


# -- Pippin-style wallet -------------------------------------------------------


def test_a_send_through_the_wallet_moves_the_node_balance(rpc) -> None:
    amount = str(3 * RAW_PER_BAN)
    params = send_params(wallet=fx.WALLET_OPERATOR_WALLET_ID, amount=amount, id="w-1")
    first = rpc("send", service="wallet", **params)
    assert HASH.match(first["block"])
    assert rpc("send", service="wallet", **params) == first
    node_balance = rpc("account_balance", account=fx.BANANO_OPERATOR_ACCOUNT)["balance"]
    assert int(node_balance) == 997 * RAW_PER_BAN
    assert format_ban(int(node_balance)) == "997"


def test_the_wallet_uses_uuid_ids(rpc) -> None:
    assert rpc(
        "wallet_balances", service="wallet", wallet=fx.BANANO_OPERATOR_WALLET_ID
    ) == {"error": "Bad wallet number"}
    balances = rpc(
        "wallet_balances", service="wallet", wallet=fx.WALLET_OPERATOR_WALLET_ID
    )
    assert fx.BANANO_OPERATOR_ACCOUNT in balances["balances"]
    unknown = rpc(
        "wallet_info", service="wallet", wallet="00000000-0000-4000-8000-000000000000"
    )
    assert unknown == {"error": "Wallet not found"}


def test_a_locked_wallet_refuses_until_the_password_is_entered(rpc) -> None:
    params = send_params(
        wallet=fx.WALLET_LOCKED_WALLET_ID, source=fx.BANANO_LOCKED_ACCOUNT, amount="1"
    )
    assert rpc("send", service="wallet", **params) == {"error": "Wallet is locked"}
    assert rpc(
        "wallet_locked", service="wallet", wallet=fx.WALLET_LOCKED_WALLET_ID
    ) == {"locked": "1"}
    wrong = rpc(
        "password_enter",
        service="wallet",
        wallet=fx.WALLET_LOCKED_WALLET_ID,
        password="x",
    )
    assert wrong == {"valid": "0"}
    right = rpc(
        "password_enter",
        service="wallet",
        wallet=fx.WALLET_LOCKED_WALLET_ID,
        password=fx.WALLET_LOCKED_WALLET_PASSWORD,
    )
    assert right == {"valid": "1"}
    assert HASH.match(rpc("send", service="wallet", **params)["block"])


def test_the_wallet_creates_wallets_and_accounts_and_receives(rpc) -> None:
    created = rpc("wallet_create", service="wallet")
    wallet = created["wallet"]
    assert re.fullmatch(r"[0-9a-f-]{36}", wallet)
    account = rpc("account_create", service="wallet", wallet=wallet)["account"]
    assert account.startswith("ban_")
    rpc("send", **send_params(destination=account, amount=str(RAW_PER_BAN), id="fund"))
    pending = rpc("wallet_pending", service="wallet", wallet=wallet, count="10")
    assert list(pending["blocks"]) == [account]
    assert rpc("receive_all", service="wallet", wallet=wallet) == {"received": "1"}
    assert rpc("account_balance", service="wallet", account=account)["balance"] == str(
        RAW_PER_BAN
    )
    changed = rpc("password_change", service="wallet", wallet=wallet, password="pw")
    assert changed == {"changed": "1"}


def test_a_fund_control_call_creates_a_receivable_block(sim, http, rpc) -> None:
    reply = http.post(
        f"{sim.url}/_control/banano/fund",
        json={
            "destination": fx.BANANO_RECIPIENT_ACCOUNT,
            "amount_raw": str(RAW_PER_BAN),
        },
    )
    assert reply.status_code == 201
    blocks = rpc("receivable", account=fx.BANANO_RECIPIENT_ACCOUNT, count="5")["blocks"]
    assert blocks == [reply.json()["block"]]
