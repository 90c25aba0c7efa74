"""Client of the operator's payout wallet (PROTOCOLS.md §4).

Two services sit behind one "wallet" endpoint:

- a Pippin-style wallet RPC at the endpoint's base URL. It mirrors the node's
  wallet RPC (same JSON-RPC rules, same ``{"error"}`` replies), so it reuses
  the node transport;
- Pay2Slay's wallet-link routes at ``settings["p2s_base_url"]``: ``POST
  /link/wallet`` and ``GET /me/status`` (cookie ``p2s_session``) and the public
  ``GET /api/donate-info``. These are plain HTTP with FastAPI-style
  ``{"detail": ...}`` errors; their methods return the response so that callers
  can assert the status codes of the negative cases.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from integrations.kinds.banano.client import NodeRPC

if TYPE_CHECKING:
    import requests

    from integrations.http import OutboundClient

SESSION_COOKIE = "p2s_session"


def json_with_decimals(response: requests.Response) -> Any:
    """The body parsed with JSON fractions as ``Decimal`` (Pay2Slay sends BAN as
    floats; reading them as Decimal keeps the digits it actually sent)."""
    return json.loads(response.text, parse_float=Decimal)


class WalletClient(NodeRPC):
    """Pippin wallet RPC plus Pay2Slay's wallet-link endpoints."""

    service = "wallet"

    def __init__(
        self,
        http: OutboundClient,
        p2s_base_url: str | None = None,
        path: str = "",
        *,
        retry: bool = True,
    ) -> None:
        super().__init__(http, path, retry=retry)
        self.p2s_base_url = (p2s_base_url or "").rstrip("/")

    # -- wallet RPC ---------------------------------------------------------------

    def wallet_balances(self, wallet: str) -> dict[str, Any]:
        return self.call("wallet_balances", wallet=wallet)

    def account_balance(self, account: str) -> dict[str, Any]:
        return self.call("account_balance", account=account)

    def send(
        self,
        wallet: str,
        source: str,
        destination: str,
        amount_raw: int,
        id: str,  # the RPC's own field name
    ) -> dict[str, Any]:
        """Pippin ``send``; idempotent by ``id`` like the node's."""
        if isinstance(amount_raw, bool) or not isinstance(amount_raw, int):
            raise TypeError("amount_raw must be an int (raw), never a float")
        return self.call(
            "send",
            wallet=wallet,
            source=source,
            destination=destination,
            amount=str(amount_raw),
            id=id,
        )

    # -- Pay2Slay -----------------------------------------------------------------

    def _p2s(self, path: str) -> str:
        if not self.p2s_base_url:
            raise ValueError("the endpoint has no p2s_base_url setting")
        return f"{self.p2s_base_url}{path}"

    @staticmethod
    def _cookies(cookie: str | None) -> dict[str, str] | None:
        return {SESSION_COOKIE: cookie} if cookie else None

    def link_wallet(self, cookie: str | None, address: Any) -> requests.Response:
        """``POST /link/wallet {"banano_address": address}``: 200 ``{linked,
        address}``, 400 invalid address, 401 without a session."""
        return self.http.request(
            "POST",
            self._p2s("/link/wallet"),
            json={"banano_address": address},
            cookies=self._cookies(cookie),
            label="p2s.link_wallet",
            # Linking the same address twice is an upsert on Pay2Slay's side.
            idempotent=True,
            retry=self.retry,
        )

    def me_status(self, cookie: str | None) -> requests.Response:
        return self.http.request(
            "GET",
            self._p2s("/me/status"),
            cookies=self._cookies(cookie),
            label="p2s.me_status",
            retry=self.retry,
        )

    def donate_info(self) -> requests.Response:
        """``GET /api/donate-info``. Side effect on Pay2Slay: it first receives
        the operator's pending blocks, so the balance can grow between calls."""
        return self.http.request(
            "GET",
            self._p2s("/api/donate-info"),
            label="p2s.donate_info",
            retry=self.retry,
        )
