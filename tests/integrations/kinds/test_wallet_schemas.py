"""Pay2Slay wallet-link shapes and the BAN display comparison, without a network."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import requests
from pydantic import ValidationError

from integrations.kinds.wallet.client import json_with_decimals
from integrations.kinds.wallet.schemas import (
    DonateInfoResponse,
    LinkWalletResponse,
    MeStatusResponse,
)
from integrations.kinds.wallet.workflows import (
    BalanceCheckInput,
    display_matches,
    is_raw_string,
)
from integrations.simulators import fixtures as fx
from integrations.simulators.banano_codec import RAW_PER_BAN


def response_with(text: str) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response._content = text.encode()
    return response


def test_donate_info_fractions_are_read_as_the_decimals_pay2slay_sent():
    body = json_with_decimals(
        response_with(
            json.dumps(
                {"address": fx.BANANO_OPERATOR_ACCOUNT, "balance": 1001.5, "pending": 0}
            )
        )
    )
    info = DonateInfoResponse.model_validate(body)
    assert info.balance == Decimal("1001.5")
    assert info.pending == Decimal(0)


def test_donate_info_allows_nulls_but_not_strings_or_a_bad_address():
    empty = DonateInfoResponse.model_validate(
        {"address": None, "balance": None, "pending": None}
    )
    assert empty.address is None
    with pytest.raises(ValidationError):
        DonateInfoResponse.model_validate({"address": None, "balance": "1.5"})
    with pytest.raises(ValidationError):
        DonateInfoResponse.model_validate(
            {"address": fx.BANANO_INVALID_CHECKSUM_ACCOUNT, "balance": 1}
        )


def test_link_and_status_shapes():
    assert LinkWalletResponse.model_validate(
        {"linked": True, "address": fx.P2S_MEMBER_WALLET_ADDRESS}
    ).linked
    with pytest.raises(ValidationError):
        LinkWalletResponse.model_validate({"linked": False, "address": "x"})
    with pytest.raises(ValidationError):
        MeStatusResponse.model_validate({"linked": "yes"})
    status = MeStatusResponse.model_validate(
        {"discord_username": "slayer_one", "linked": False, "wallet_address": None}
    )
    assert status.wallet_address is None


@pytest.mark.parametrize(
    ("raw", "shown", "matches"),
    [
        (1000 * RAW_PER_BAN, Decimal("1000"), True),
        (1000 * RAW_PER_BAN, Decimal("1000.0"), True),
        (15 * RAW_PER_BAN // 10, Decimal("1.5"), True),
        # What float(raw_to_ban(raw)) looks like for a 29-digit amount.
        (123456789012345678901234567890123, Decimal(repr(1234.5678901234568)), True),
        (1000 * RAW_PER_BAN, Decimal("1000.01"), False),
        (1000 * RAW_PER_BAN, Decimal("999.99999"), False),
        (0, Decimal("0"), True),
        (0, Decimal("0.000001"), False),
        (1000 * RAW_PER_BAN, None, False),
    ],
)
def test_pay2slays_ban_float_matches_raw_within_float_precision(raw, shown, matches):
    assert display_matches(raw, shown) is matches


def test_raw_strings_are_digits_in_strings_only():
    assert is_raw_string("100")
    assert not is_raw_string(100)
    assert not is_raw_string("1.0")
    assert not is_raw_string("")


def test_balance_check_input_validates_both_addresses():
    data = BalanceCheckInput.model_validate(
        {"account": fx.BANANO_OPERATOR_ACCOUNT, "link_address": ""}
    )
    assert data.link_address is None
    with pytest.raises(ValidationError):
        BalanceCheckInput.model_validate(
            {"account": fx.BANANO_INVALID_CHECKSUM_ACCOUNT}
        )
    with pytest.raises(ValidationError):
        BalanceCheckInput.model_validate({"link_address": fx.NANO_EXAMPLE_ACCOUNT})
    with pytest.raises(ValidationError):
        BalanceCheckInput.model_validate({"unknown": 1})
