"""Banano response schemas and payment input parsing, without a network."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from integrations.kinds.banano.probe import sync_problem
from integrations.kinds.banano.schemas import (
    AccountBalanceResponse,
    AccountHistoryResponse,
    AccountInfoResponse,
    BlockCountResponse,
    BlockInfoResponse,
    ErrorResponse,
    ReceivableResponse,
    ReceivableWithSourceResponse,
    SendResponse,
    VersionResponse,
    WalletBalancesResponse,
    validation_path,
)
from integrations.kinds.banano.workflows import PaymentInput, ban_decimal, cap_raw
from integrations.simulators import fixtures as fx
from integrations.simulators.banano_codec import MAX_RAW, RAW_PER_BAN

OPERATOR = fx.BANANO_OPERATOR_ACCOUNT
RECIPIENT = fx.BANANO_RECIPIENT_ACCOUNT
HASH = "9A3D5C7E1B2F4A6C8E0D1F3A5B7C9E1D3F5A7B9C1E3D5F7A9B1C3E5D7F9A1B3C"


def path_of(schema, data) -> str:
    with pytest.raises(ValidationError) as caught:
        schema.model_validate(data)
    return validation_path(caught.value)


def test_raw_amounts_are_read_from_decimal_strings_as_exact_ints():
    reply = AccountBalanceResponse.model_validate(
        {"balance": "100000000000000000000000000000123", "pending": "0"}
    )
    assert reply.balance == 10**32 + 123
    assert isinstance(reply.balance, int)
    assert reply.receivable_raw == 0


@pytest.mark.parametrize(
    "balance", [1000, 1.5, "1.5", "-1", "1e30", " 1", "", str(MAX_RAW + 1), None]
)
def test_a_raw_amount_that_is_not_an_integer_decimal_string_is_refused(balance):
    assert path_of(AccountBalanceResponse, {"balance": balance}) == "balance"


def test_receivable_falls_back_to_the_deprecated_pending_field():
    reply = AccountBalanceResponse.model_validate(
        {"balance": "1", "pending": "7", "receivable": "9"}
    )
    assert reply.receivable_raw == 9
    assert (
        AccountBalanceResponse.model_validate(
            {"balance": "1", "pending": "7"}
        ).receivable_raw
        == 7
    )


def test_block_hashes_must_be_64_hex_and_are_normalised_to_upper_case():
    assert SendResponse.model_validate({"block": HASH.lower()}).block == HASH
    assert path_of(SendResponse, {"block": HASH[:-1]}) == "block"
    assert path_of(SendResponse, {"block": HASH[:-1] + "G"}) == "block"
    assert path_of(SendResponse, {}) == "block"


def test_an_account_with_a_bad_checksum_is_refused_with_its_path():
    data = {
        "account": OPERATOR,
        "history": [
            {"type": "send", "account": RECIPIENT, "amount": "1", "hash": HASH},
            {
                "type": "send",
                "account": fx.BANANO_INVALID_CHECKSUM_ACCOUNT,
                "amount": "1",
                "hash": HASH,
            },
        ],
    }
    assert path_of(AccountHistoryResponse, data) == "history.1.account"
    assert path_of(AccountHistoryResponse, {**data, "account": "nano_x"}) == "account"


def test_an_empty_history_written_as_an_empty_string_reads_as_no_entries():
    reply = AccountHistoryResponse.model_validate({"account": OPERATOR, "history": ""})
    assert reply.history == []


def test_history_entries_keep_the_proxy_amount_decimal_and_the_confirmed_flag():
    reply = AccountHistoryResponse.model_validate(
        {
            "account": OPERATOR,
            "history": [
                {
                    "type": "send",
                    "account": RECIPIENT,
                    "amount": str(5 * RAW_PER_BAN // 100),
                    "amount_decimal": "0.05",
                    "local_timestamp": "1704067200",
                    "height": "3",
                    "hash": HASH,
                    "confirmed": "true",
                }
            ],
            "previous": HASH,
        }
    )
    [entry] = reply.history
    assert entry.amount == 5 * 10**27
    assert entry.confirmed is True
    assert entry.amount_decimal == "0.05"


def test_receivable_reads_all_three_variants_and_the_empty_string():
    plain = ReceivableResponse.model_validate({"blocks": [HASH]}).entries()
    assert plain[HASH].amount is None
    amounts = ReceivableResponse.model_validate({"blocks": {HASH: "42"}}).entries()
    assert amounts[HASH].amount == 42
    sources = ReceivableResponse.model_validate(
        {"blocks": {HASH: {"amount": "42", "source": OPERATOR}}}
    ).entries()
    assert (sources[HASH].amount, sources[HASH].source) == (42, OPERATOR)
    assert ReceivableResponse.model_validate({"blocks": ""}).entries() == {}
    assert ReceivableWithSourceResponse.model_validate({"blocks": ""}).blocks == {}


def test_receivable_with_source_requires_a_valid_source_account():
    data = {"blocks": {HASH: {"amount": "42", "source": "ban_1"}}}
    assert path_of(ReceivableWithSourceResponse, data) == f"blocks.{HASH}.source"


def test_version_block_count_and_account_info_shapes():
    version = VersionResponse.model_validate(
        {
            "rpc_version": "1",
            "store_version": "21",
            "protocol_version": "19",
            "node_vendor": "Banano V28.1",
            "network": "live",
            "extra_field": "kept",
        }
    )
    assert version.network == "live"
    counts = BlockCountResponse.model_validate(
        {"count": "100", "unchecked": "0", "cemented": "99"}
    )
    assert (counts.count, counts.unchecked, counts.cemented) == (100, 0, 99)
    assert path_of(BlockCountResponse, {"count": 100, "unchecked": "0"}) == "count"
    info = AccountInfoResponse.model_validate(
        {
            "frontier": HASH,
            "open_block": HASH,
            "representative_block": HASH,
            "balance": "5",
            "modified_timestamp": "1704067200",
            "block_count": "3",
            "representative": fx.BANANO_REPRESENTATIVE,
        }
    )
    assert info.balance == 5


def test_block_info_and_wallet_balances_shapes():
    block = BlockInfoResponse.model_validate(
        {
            "block_account": OPERATOR,
            "amount": "5",
            "balance": "10",
            "height": "4",
            "local_timestamp": "1",
            "confirmed": "true",
            "contents": {"type": "state"},
            "subtype": "send",
        }
    )
    assert block.confirmed is True
    balances = WalletBalancesResponse.model_validate(
        {"balances": {OPERATOR: {"balance": "1", "pending": "0", "receivable": "0"}}}
    )
    assert balances.balances[OPERATOR].balance == 1
    assert WalletBalancesResponse.model_validate({"balances": ""}).balances == {}
    bad = {"balances": {OPERATOR: {"balance": 1}}}
    assert path_of(WalletBalancesResponse, bad) == f"balances.{OPERATOR}.balance"


def test_an_error_reply_needs_a_non_empty_message():
    assert ErrorResponse.model_validate({"error": "Wallet is locked"}).error
    assert path_of(ErrorResponse, {"error": ""}) == "error"


@pytest.mark.parametrize(
    ("amount", "raw"),
    [
        ("0.05", 5 * 10**27),
        (0.05, 5 * 10**27),  # a JSON number: read through its shortest repr
        (1, RAW_PER_BAN),
        ("1", RAW_PER_BAN),
        (Decimal("0.1"), 10**28),
        ("0.1234567890123456789012345678919", 12345678901234567890123456789),
        (" 2.5 ", 25 * 10**28),
    ],
)
def test_payment_amounts_convert_to_raw_with_integer_math_truncating(amount, raw):
    data = PaymentInput.model_validate(
        {"recipient_address": RECIPIENT, "amount": amount}
    )
    assert data.amount_raw == raw


@pytest.mark.parametrize(
    "amount", [True, "abc", "-1", 0, "0", "1e-30", "NaN", "Infinity", None, [1]]
)
def test_payment_amounts_that_are_not_positive_decimals_are_refused(amount):
    assert (
        path_of(PaymentInput, {"recipient_address": RECIPIENT, "amount": amount})
        == "amount"
    )


@pytest.mark.parametrize(
    "address",
    [
        fx.BANANO_INVALID_CHECKSUM_ACCOUNT,
        fx.NANO_EXAMPLE_ACCOUNT,
        RECIPIENT + " ",
        RECIPIENT.upper(),
        "",
        None,
    ],
)
def test_payment_recipients_must_be_ban_addresses_with_a_valid_checksum(address):
    assert (
        path_of(PaymentInput, {"recipient_address": address, "amount": "1"})
        == "recipient_address"
    )


def test_the_session_cap_defaults_to_one_ban_and_reads_numbers_exactly():
    assert cap_raw({}) == RAW_PER_BAN
    assert cap_raw({"max_payment_ban": None}) == RAW_PER_BAN
    assert cap_raw({"max_payment_ban": 0.1}) == 10**28
    assert cap_raw({"max_payment_ban": "2.5"}) == 25 * 10**28
    assert cap_raw({"max_payment_ban": 0}) == 0
    with pytest.raises(ValueError):
        cap_raw({"max_payment_ban": "lots"})
    with pytest.raises(ValueError):
        cap_raw({"max_payment_ban": -1})


def test_ban_decimal_never_takes_the_binary_expansion_of_a_float():
    assert ban_decimal(0.1) == Decimal("0.1")
    assert ban_decimal(1e-05) == Decimal("0.00001")


def test_the_node_is_out_of_sync_when_few_blocks_are_cemented_or_many_unchecked():
    synced = BlockCountResponse.model_validate(
        {"count": "1000", "unchecked": "3", "cemented": "995"}
    )
    assert sync_problem(synced, {}) == ""
    behind = BlockCountResponse.model_validate(
        {"count": "1000", "unchecked": "3", "cemented": "950"}
    )
    assert "cemented/count 0.9500" in sync_problem(behind, {})
    piled = BlockCountResponse.model_validate(
        {"count": "1000", "unchecked": "250000", "cemented": "1000"}
    )
    assert "250000 unchecked" in sync_problem(piled, {})
    assert sync_problem(piled, {"max_unchecked": 300_000}) == ""
