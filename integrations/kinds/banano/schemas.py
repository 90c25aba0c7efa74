"""Response shapes of the Banano node RPC (PROTOCOLS.md §3), with integrity rules.

The node sends every number as a decimal string; a JSON number where a string
belongs is a protocol violation, not something to coerce, because a float cannot
hold a 29-digit raw amount. Raw amounts come out of these models as ``int``.
Block hashes are 64 hex characters (normalised to upper case, the node's own
spelling); accounts must be ``ban_`` addresses whose checksum verifies.

Models allow extra keys: nodes and proxies add fields (``amount_decimal`` from
Kalium-style proxies, ``receivable`` next to the deprecated ``pending``), and a
health check must not fail on an addition.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from integrations.simulators.banano_codec import MAX_RAW, is_valid_account

_HEX64 = re.compile(r"[0-9A-Fa-f]{64}")


def _digits(value: object, what: str) -> int:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a decimal string, got {type(value).__name__}")
    if not (value.isascii() and value.isdigit()):
        raise ValueError(f"{what} must be an integer decimal string, got {value!r}")
    return int(value)


def _raw_amount(value: object) -> int:
    raw = _digits(value, "raw amount")
    if raw > MAX_RAW:
        raise ValueError("raw amount exceeds 2**128 - 1")
    return raw


def _counter(value: object) -> int:
    return _digits(value, "counter")


def _block_hash(value: object) -> str:
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise ValueError(f"block hash must be 64 hex characters, got {value!r}")
    return value.upper()


def _account(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"account must be a string, got {type(value).__name__}")
    if not is_valid_account(value):
        raise ValueError(f"not a valid ban_ address (prefix/checksum): {value!r}")
    return value


def _empty_as(empty: Any):
    """nano-node answers an empty list or map as ``""``; read it as ``empty``."""

    def convert(value: object) -> object:
        return empty() if value == "" else value

    return convert


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ValueError(f'flag must be "true" or "false", got {value!r}')


RawAmount = Annotated[int, BeforeValidator(_raw_amount)]
Counter = Annotated[int, BeforeValidator(_counter)]
BlockHash = Annotated[str, BeforeValidator(_block_hash)]
Account = Annotated[str, BeforeValidator(_account)]
Flag = Annotated[bool, BeforeValidator(_flag)]


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class ErrorResponse(_Response):
    """``{"error": "<message>"}``, usually with HTTP 200."""

    error: str = Field(min_length=1)


class VersionResponse(_Response):
    rpc_version: str
    store_version: str
    protocol_version: str
    node_vendor: str
    network: str
    store_vendor: str | None = None
    network_identifier: BlockHash | None = None
    build_info: str | None = None


class BlockCountResponse(_Response):
    count: Counter
    unchecked: Counter
    # Older nodes did not report it; the probe then skips the ratio check.
    cemented: Counter | None = None


class AccountBalanceResponse(_Response):
    balance: RawAmount
    pending: RawAmount | None = None
    receivable: RawAmount | None = None

    @property
    def receivable_raw(self) -> int:
        """Receivable raw, read from ``receivable`` or its deprecated alias."""
        if self.receivable is not None:
            return self.receivable
        return self.pending or 0


class AccountInfoResponse(_Response):
    frontier: BlockHash
    open_block: BlockHash
    representative_block: BlockHash
    balance: RawAmount
    modified_timestamp: Counter
    block_count: Counter
    account_version: Counter | None = None
    confirmation_height: Counter | None = None
    confirmation_height_frontier: BlockHash | None = None
    representative: Account | None = None


class HistoryEntry(_Response):
    type: str
    account: Account
    amount: RawAmount
    hash: BlockHash
    local_timestamp: Counter | None = None
    height: Counter | None = None
    confirmed: Flag | None = None
    # Added by public proxies (Kalium), not by the node; Pay2Slay reads it.
    amount_decimal: str | None = None


class AccountHistoryResponse(_Response):
    account: Account
    history: Annotated[list[HistoryEntry], BeforeValidator(_empty_as(list))]
    previous: BlockHash | None = None
    next: BlockHash | None = None


class ReceivableSource(_Response):
    amount: RawAmount
    source: Account


class ReceivableEntry(BaseModel):
    """One receivable block whatever the variant said about it."""

    hash: str
    amount: int | None = None
    source: str | None = None


class ReceivableResponse(_Response):
    """``receivable`` in any of its three variants.

    Plain: ``blocks: [hash]``; with a threshold: ``{hash: amount}``; with
    ``source: "true"``: ``{hash: {amount, source}}``. Pay2Slay accepts the
    first two shapes as well, so the parser does too.
    """

    blocks: Annotated[
        list[BlockHash]
        | dict[BlockHash, ReceivableSource]
        | dict[BlockHash, RawAmount],
        BeforeValidator(_empty_as(list)),
    ]

    def entries(self) -> dict[str, ReceivableEntry]:
        if isinstance(self.blocks, list):
            return {h: ReceivableEntry(hash=h) for h in self.blocks}
        result = {}
        for block, value in self.blocks.items():
            if isinstance(value, ReceivableSource):
                result[block] = ReceivableEntry(
                    hash=block, amount=value.amount, source=value.source
                )
            else:
                result[block] = ReceivableEntry(hash=block, amount=value)
        return result


class ReceivableWithSourceResponse(_Response):
    """``receivable`` asked with ``source: "true"``: every block names its sender."""

    blocks: Annotated[
        dict[BlockHash, ReceivableSource], BeforeValidator(_empty_as(dict))
    ]


class SendResponse(_Response):
    block: BlockHash


class BlockInfoResponse(_Response):
    block_account: Account
    amount: RawAmount
    balance: RawAmount
    height: Counter
    local_timestamp: Counter
    confirmed: Flag | None = None
    contents: dict[str, Any] | str
    subtype: Literal["send", "receive", "open", "change", "epoch"] | None = None


class WalletBalance(_Response):
    balance: RawAmount
    pending: RawAmount | None = None
    receivable: RawAmount | None = None


class WalletBalancesResponse(_Response):
    balances: Annotated[dict[Account, WalletBalance], BeforeValidator(_empty_as(dict))]


def validation_path(error: Exception) -> str:
    """The dotted path of the first problem in a pydantic ``ValidationError``."""
    errors = getattr(error, "errors", None)
    if not callable(errors):
        return "$"
    first = errors()[0]
    return ".".join(str(part) for part in first["loc"]) or "$"


def validation_message(error: Exception) -> str:
    errors = getattr(error, "errors", None)
    if not callable(errors):
        return str(error)
    first = errors()[0]
    return f"{first['msg']} (at {validation_path(error)})"
