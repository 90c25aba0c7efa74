"""Pippin-style wallet RPC simulator: ``POST {url}/wallet/`` with ``{"action": ...}``.

Pippin mirrors the node's wallet RPC with UUID wallet ids and forwards other
actions to the node, so node actions work here too. It shares the Banano ledger
with the node simulator: a send through either moves the same balances, and
resetting either service reseeds that shared ledger.
"""

from __future__ import annotations

import uuid
from typing import Any

from integrations.kinds.banano.simulator import NodeRPC


class WalletSimulator(NodeRPC):
    """The operator's payout wallet (Pippin JSON-RPC)."""

    name = "wallet"
    prefix = "/wallet"
    base_path = "/"

    def valid_wallet_id(self, wallet_id: Any) -> bool:
        if not isinstance(wallet_id, str):
            return False
        try:
            return str(uuid.UUID(wallet_id)) == wallet_id.lower()
        except ValueError:
            return False

    def normalize_wallet_id(self, wallet_id: str) -> str:
        return wallet_id.lower()

    def new_wallet_id(self) -> str:
        return str(uuid.uuid4())
