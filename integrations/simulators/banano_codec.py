"""Banano account addresses and unit conversion, with integer math only.

An address is ``ban_`` + 52 base32 characters of the 256-bit public key (padded to
260 bits with four leading zero bits) + 8 base32 characters of a 40-bit blake2b
checksum of the public key, byte-reversed. The alphabet leaves out 0, 2, l and v.

Units: 1 BAN = 10**29 raw. Conversions truncate toward zero and refuse floats,
because a float cannot hold 29 decimal places.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal, InvalidOperation, localcontext

ALPHABET = "13456789abcdefghijkmnopqrstuwxyz"
_DECODE = {char: index for index, char in enumerate(ALPHABET)}

ACCOUNT_PREFIX = "ban_"
RAW_PER_BAN = 10**29
RAW_PER_BANOSHI = 10**27
MAX_RAW = 2**128 - 1

# 29 fractional digits plus 39 integer digits of a 128-bit amount fit in 80.
_PRECISION = 80


class InvalidAccountError(ValueError):
    """The string is not a well-formed account with a matching checksum."""


class InvalidAmountError(ValueError):
    """The amount is not a finite, non-negative decimal in range."""


def _b32encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(ALPHABET[value & 0x1F])
        value >>= 5
    return "".join(reversed(chars))


def _b32decode(text: str) -> int:
    value = 0
    for char in text:
        if char not in _DECODE:
            raise InvalidAccountError(f"invalid character {char!r}")
        value = (value << 5) | _DECODE[char]
    return value


def checksum(public_key: bytes) -> bytes:
    """The 5-byte address checksum: blake2b-40 of the key, byte-reversed."""
    return hashlib.blake2b(public_key, digest_size=5).digest()[::-1]


def account_from_public_key(
    public_key: bytes | str, prefix: str = ACCOUNT_PREFIX
) -> str:
    """Encode a 32-byte public key (bytes or 64 hex chars) as an account."""
    if isinstance(public_key, str):
        try:
            public_key = bytes.fromhex(public_key)
        except ValueError as exc:
            raise InvalidAccountError("public key is not hex") from exc
    if len(public_key) != 32:
        raise InvalidAccountError("public key must be 32 bytes")
    key_part = _b32encode(int.from_bytes(public_key, "big"), 52)
    check_part = _b32encode(int.from_bytes(checksum(public_key), "big"), 8)
    return f"{prefix}{key_part}{check_part}"


def public_key_from_account(account: str, prefix: str = ACCOUNT_PREFIX) -> bytes:
    """Decode an account to its 32-byte public key, verifying the checksum."""
    if not isinstance(account, str) or not account.startswith(prefix):
        raise InvalidAccountError(f"account must start with {prefix!r}")
    body = account[len(prefix) :]
    if len(body) != 60:
        raise InvalidAccountError("account must have 60 characters after the prefix")
    if body[0] not in "13":
        # The first character carries the 4 padding bits, which must be zero.
        raise InvalidAccountError("account must start with 1 or 3 after the prefix")
    key = _b32decode(body[:52]).to_bytes(33, "big")[1:]
    expected = _b32decode(body[52:]).to_bytes(5, "big")
    if checksum(key) != expected:
        raise InvalidAccountError("checksum mismatch")
    return key


def is_valid_account(account: object, prefix: str = ACCOUNT_PREFIX) -> bool:
    """True when ``account`` is a well-formed account with a valid checksum."""
    if not isinstance(account, str):
        return False
    try:
        public_key_from_account(account, prefix)
    except InvalidAccountError:
        return False
    return True


def public_key_hex(account: str, prefix: str = ACCOUNT_PREFIX) -> str:
    """The public key as 64 uppercase hex characters (a state block's ``link``)."""
    return public_key_from_account(account, prefix).hex().upper()


def _to_decimal(value: str | int | Decimal) -> Decimal:
    if isinstance(value, bool | float):
        raise TypeError("amounts must be str, int or Decimal, never float")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation as exc:
            raise InvalidAmountError(f"not a decimal: {value!r}") from exc
    else:
        raise TypeError(f"unsupported amount type {type(value).__name__}")
    if not result.is_finite():
        raise InvalidAmountError("amount must be finite")
    return result


def ban_to_raw(value: str | int | Decimal) -> int:
    """Convert BAN to raw, truncating toward zero (``"0.05"`` → 5 * 10**27)."""
    amount = _to_decimal(value)
    if amount < 0:
        raise InvalidAmountError("amount must not be negative")
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        raw = int(amount * RAW_PER_BAN)  # int() truncates toward zero
    if raw > MAX_RAW:
        raise InvalidAmountError("amount exceeds 2**128 - 1 raw")
    return raw


def raw_to_ban(raw: int | str) -> Decimal:
    """Convert raw (int or decimal string) to an exact BAN ``Decimal``."""
    raw_int = parse_raw(raw)
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return Decimal(raw_int) / RAW_PER_BAN


def format_ban(raw: int | str) -> str:
    """Raw as a plain BAN decimal string without exponent or trailing zeros."""
    raw_int = parse_raw(raw)
    whole, fraction = divmod(raw_int, RAW_PER_BAN)
    if not fraction:
        return str(whole)
    digits = f"{fraction:029d}".rstrip("0")
    return f"{whole}.{digits}"


def parse_raw(raw: int | str) -> int:
    """Parse a raw amount given as an int or a decimal string of digits."""
    if isinstance(raw, bool):
        raise TypeError("raw amount must be int or str")
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str):
        if not raw.isdigit() or not raw.isascii():
            raise InvalidAmountError(f"raw amount must be decimal digits: {raw!r}")
        value = int(raw)
    else:
        raise TypeError("raw amount must be int or str")
    if value < 0 or value > MAX_RAW:
        raise InvalidAmountError("raw amount out of range")
    return value
