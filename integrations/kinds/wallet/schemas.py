"""Response shapes of the wallet endpoint: Pippin RPC and Pay2Slay's link routes.

The Pippin RPC answers with the node's shapes, re-exported here from the banano
schemas. Pay2Slay's BAN values are JSON floats (or null); read them with
``client.json_with_decimals`` so that the check compares the digits Pay2Slay sent.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, StrictBool

from integrations.kinds.banano.schemas import (
    Account,
    AccountBalanceResponse,
    ErrorResponse,
    SendResponse,
    WalletBalance,
    WalletBalancesResponse,
)

__all__ = [
    "AccountBalanceResponse",
    "DonateInfoResponse",
    "ErrorResponse",
    "LinkWalletResponse",
    "MeStatusResponse",
    "P2SErrorResponse",
    "SendResponse",
    "WalletBalance",
    "WalletBalancesResponse",
]


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


def _ban_display(value: object) -> Decimal | None:
    # A string where Pay2Slay sends a number is reported, not coerced.
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float):
        raise ValueError(f"BAN value must be a JSON number or null, got {value!r}")
    # repr() of a float is the shortest decimal that reads back as it: the
    # digits that were on the wire.
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


# A BAN display value: a JSON number (read as Decimal) or null.
BanDisplay = Annotated[Decimal | None, BeforeValidator(_ban_display)]


class LinkWalletResponse(_Response):
    linked: Literal[True]
    address: str


class MeStatusResponse(_Response):
    discord_username: str | None = None
    linked: StrictBool
    wallet_address: str | None = None


class DonateInfoResponse(_Response):
    address: Account | None
    balance: BanDisplay
    pending: BanDisplay = None


class P2SErrorResponse(_Response):
    """FastAPI's error body: ``{"detail": "..."}``."""

    detail: str | list | dict
