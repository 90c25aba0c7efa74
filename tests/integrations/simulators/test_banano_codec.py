from __future__ import annotations

from decimal import Decimal

import pytest

from integrations.simulators import banano_codec as codec
from integrations.simulators import fixtures as fx

NANO_GENESIS_KEY = "E89208DD038FBB269987689621D52292AE9C35941A7484756ECCED92A65093BA"
NANO_GENESIS = "xrb_3t6k35gi95xu6tergt6p69ck76ogmitsa8mnijtpxm9fkcm736xtoncuohr3"


def test_it_encodes_the_nano_genesis_key_to_its_published_address() -> None:
    assert (
        codec.account_from_public_key(NANO_GENESIS_KEY, prefix="xrb_") == NANO_GENESIS
    )


def test_it_decodes_an_address_back_to_its_public_key() -> None:
    key = codec.public_key_from_account(NANO_GENESIS, prefix="xrb_")
    assert key.hex().upper() == NANO_GENESIS_KEY


def test_it_accepts_the_banano_burn_address() -> None:
    assert codec.is_valid_account(fx.BANANO_BURN_ACCOUNT)


@pytest.mark.parametrize(
    "account",
    [
        fx.BANANO_INVALID_CHECKSUM_ACCOUNT,
        fx.NANO_EXAMPLE_ACCOUNT,
        fx.BANANO_RECIPIENT_ACCOUNT[:-1],
        fx.BANANO_RECIPIENT_ACCOUNT.replace("ban_1", "ban_2", 1),
        fx.BANANO_RECIPIENT_ACCOUNT.replace("c", "0", 1),
        fx.BANANO_RECIPIENT_ACCOUNT.upper(),
        "",
        None,
    ],
)
def test_it_rejects_malformed_accounts(account: object) -> None:
    assert not codec.is_valid_account(account)


def test_every_seeded_account_has_a_valid_checksum() -> None:
    accounts = {
        name: value
        for name, value in vars(fx).items()
        if isinstance(value, str) and value.startswith("ban_")
    }
    invalid = {n for n, v in accounts.items() if not codec.is_valid_account(v)}
    assert invalid == {"BANANO_INVALID_CHECKSUM_ACCOUNT"}
    assert (
        codec.public_key_hex(fx.BANANO_OPERATOR_ACCOUNT)
        == fx.BANANO_OPERATOR_PUBLIC_KEY
    )


def test_ban_to_raw_uses_integer_math_and_truncates_toward_zero() -> None:
    assert codec.ban_to_raw("0.05") == 5_000_000_000_000_000_000_000_000_000
    assert codec.ban_to_raw("1000") == 1000 * 10**29
    assert codec.ban_to_raw(3) == 3 * 10**29
    assert codec.ban_to_raw(Decimal("0.1")) == 10**28
    # 30 decimal places: the 30th is below one raw and is cut off, not rounded.
    assert codec.ban_to_raw("0.000000000000000000000000000019") == 1
    assert codec.ban_to_raw("1.999999999999999999999999999999") == 2 * 10**29 - 1


@pytest.mark.parametrize("value", [0.05, True, None])
def test_ban_to_raw_refuses_floats_and_non_numbers(value: object) -> None:
    with pytest.raises(TypeError):
        codec.ban_to_raw(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["-1", "abc", "NaN", "Infinity", str(2**128)])
def test_ban_to_raw_refuses_negative_non_finite_or_oversized_amounts(
    value: str,
) -> None:
    with pytest.raises(codec.InvalidAmountError):
        codec.ban_to_raw(value)


def test_raw_formats_back_to_exact_ban() -> None:
    assert codec.format_ban(5 * 10**27) == "0.05"
    assert codec.format_ban("100000000000000000000000000000") == "1"
    assert codec.format_ban(1) == "0.00000000000000000000000000001"
    assert codec.raw_to_ban(15 * 10**28) == Decimal("1.5")
    with pytest.raises(codec.InvalidAmountError):
        codec.parse_raw("1.5")
