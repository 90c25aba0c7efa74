"""Shared by the banano and wallet tests: endpoints on the simulators, faults,
and reads of the simulators' own state (what really happened on the ledger)."""

from __future__ import annotations

import uuid
from typing import Any

import requests

from integrations.simulators import fixtures as fx
from integrations.simulators.banano_codec import RAW_PER_BAN
from tests.integrations.outbound_helpers import make_endpoint

BANANO_SETTINGS = {
    "operator_account": fx.BANANO_OPERATOR_ACCOUNT,
    "operator_wallet": fx.BANANO_OPERATOR_WALLET_ID,
    "min_balance_ban": fx.BANANO_MIN_OPERATOR_BALANCE_BAN,
    "expected_network": fx.BANANO_NETWORK,
    "recipient_account": fx.BANANO_RECIPIENT_ACCOUNT,
}


def banano_endpoint(
    sim_url: str, *, timeout: int = 5, path: str = "/banano/", **settings: Any
):
    return make_endpoint(
        f"{sim_url}{path}",
        name=f"banano-{uuid.uuid4().hex[:8]}",
        kind="banano",
        mode="SIMULATED",
        timeout_seconds=timeout,
        retry_attempts=0,
        settings={**BANANO_SETTINGS, **settings},
    )


def wallet_settings(sim_url: str, **settings: Any) -> dict[str, Any]:
    return {
        "wallet_id": fx.WALLET_OPERATOR_WALLET_ID,
        "operator_account": fx.BANANO_OPERATOR_ACCOUNT,
        "min_balance_ban": fx.BANANO_MIN_OPERATOR_BALANCE_BAN,
        "p2s_base_url": f"{sim_url}/p2s",
        **settings,
    }


def wallet_endpoint(
    sim_url: str,
    *,
    timeout: int = 5,
    path: str = "/wallet/",
    mode: str = "SIMULATED",
    credentials: dict | None = None,
    **settings: Any,
):
    return make_endpoint(
        f"{sim_url}{path}",
        name=f"wallet-{uuid.uuid4().hex[:8]}",
        kind="wallet",
        mode=mode,
        timeout_seconds=timeout,
        retry_attempts=0,
        credentials=credentials,
        settings=wallet_settings(sim_url, **settings),
    )


def inject(sim_url: str, service: str, **faults: Any) -> None:
    response = requests.post(f"{sim_url}/_control/{service}/faults", json=faults)
    assert response.status_code == 200, response.text


def request_count(sim_url: str, service: str) -> int:
    return requests.get(f"{sim_url}/_control/{service}/requests").json()["count"]


def logged_actions(sim_url: str, service: str) -> list[str]:
    import json

    entries = requests.get(f"{sim_url}/_control/{service}/requests").json()
    actions = []
    for entry in entries["requests"]:
        try:
            actions.append(json.loads(entry["body"]).get("action"))
        except ValueError:
            actions.append(None)
    return actions


def node_balance(sim_url: str, account: str) -> int:
    """The ledger's balance, read past any fault (the control API is never
    faulted and says what really happened)."""
    state = requests.get(f"{sim_url}/_control/banano").json()["state"]
    if account == fx.BANANO_OPERATOR_ACCOUNT:
        return int(state["operator_balance_raw"])
    reply = requests.post(
        f"{sim_url}/banano/", json={"action": "account_balance", "account": account}
    ).json()
    return int(reply["balance"])


def p2s_session(sim_url: str, username: str = fx.DISCORD_MEMBER_USERNAME) -> str:
    response = requests.post(
        f"{sim_url}/_control/admin/sessions", json={"discord_username": username}
    )
    assert response.status_code == 201, response.text
    return response.json()["cookie_value"]


def me_status(sim_url: str, cookie: str) -> dict[str, Any]:
    return requests.get(
        f"{sim_url}/p2s/me/status", cookies={fx.P2S_SESSION_COOKIE: cookie}
    ).json()


def ban(amount: str) -> int:
    from decimal import Decimal

    return int(Decimal(amount) * RAW_PER_BAN)
