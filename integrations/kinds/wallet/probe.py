"""Payout wallet health check (PROTOCOLS.md §4 "Health check").

1. The operator's balance through the Pippin RPC: ``wallet_balances`` of
   ``settings.wallet_id`` (the ``operator_account`` entry, or the wallet's total
   when no operator account is set), else ``account_balance`` of
   ``operator_account``.
2. When ``settings.p2s_base_url`` is set (and ``probe_donate_info`` is not
   false): Pay2Slay's ``GET /api/donate-info`` must answer 2xx with a non-null
   ``address`` and ``balance``; null means Pay2Slay has no operator seed and
   cannot pay anyone. (The route receives pending blocks first, which is what
   every visitor of the public page triggers too.)

HEALTHY   no ``error`` and a balance at or above ``min_balance_ban`` (50 BAN).
DEGRADED  the balance is below the minimum, or a 429.
UNHEALTHY an RPC ``{"error"}`` (locked wallet, unknown wallet...), 5xx, refused
          connection, schema mismatch (with the path), the operator account
          missing from the wallet, no seed in Pay2Slay, or unusable settings.
TIMEOUT   no answer in time.
"""

from __future__ import annotations

from typing import Any

from integrations.kinds.banano.probe import (
    ProbeRun,
    SettingError,
    min_balance_raw,
    operator_account_setting,
    parse_shape,
)
from integrations.kinds.base import (
    DEGRADED,
    HEALTHY,
    UNHEALTHY,
    Probe,
    ProbeResult,
    register_probe,
)
from integrations.kinds.wallet.client import WalletClient, json_with_decimals
from integrations.kinds.wallet.schemas import (
    AccountBalanceResponse,
    DonateInfoResponse,
    WalletBalancesResponse,
)
from integrations.simulators.banano_codec import format_ban


@register_probe
class WalletProbe(Probe):
    kind = "wallet"

    def check(self) -> ProbeResult:
        settings = self.endpoint.settings or {}
        client = WalletClient(self.http, settings.get("p2s_base_url"), retry=False)
        run = ProbeRun(self.endpoint, client)
        try:
            return self._check(run, client, settings)
        except Exception as exc:  # classified, or re-raised when it is our bug
            return run.failure(exc)

    def _check(
        self, run: ProbeRun, client: WalletClient, settings: dict[str, Any]
    ) -> ProbeResult:
        meta = run.metadata
        wallet_id = settings.get("wallet_id") or None
        operator = operator_account_setting(settings)
        minimum = min_balance_raw(settings)
        if not wallet_id and not operator:
            raise SettingError("settings need wallet_id or operator_account")

        if wallet_id:
            reply = parse_shape(
                "wallet_balances",
                WalletBalancesResponse,
                run.call("wallet_balances", lambda: client.wallet_balances(wallet_id)),
            )
            meta["wallet_accounts"] = len(reply.balances)
            if operator:
                entry = reply.balances.get(operator)
                if entry is None:
                    return run.result(
                        UNHEALTHY,
                        f"wallet_balances: operator account {operator} is not in "
                        "the wallet",
                    )
                balance = entry.balance
            else:
                balance = sum(entry.balance for entry in reply.balances.values())
        else:
            reply = parse_shape(
                "account_balance",
                AccountBalanceResponse,
                run.call("account_balance", lambda: client.account_balance(operator)),
            )
            balance = reply.balance
        meta.update(
            operator_account=operator,
            balance_raw=str(balance),
            balance_ban=format_ban(balance),
            min_balance_ban=format_ban(minimum),
        )

        if settings.get("p2s_base_url") and settings.get("probe_donate_info", True):
            verdict = self._donate_info(run, client)
            if verdict is not None:
                return run.result(*verdict)

        run.step = "done"
        if balance < minimum:
            meta["low_balance"] = True
            return run.result(
                DEGRADED,
                f"operator balance {format_ban(balance)} BAN is below "
                f"{format_ban(minimum)} BAN",
            )
        return run.result(HEALTHY)

    def _donate_info(
        self, run: ProbeRun, client: WalletClient
    ) -> tuple[str, str] | None:
        """A (status, message) when Pay2Slay's view of the wallet is not fine."""
        run.step = "donate_info"
        response = client.donate_info()
        run.steps_answered += 1
        status = response.status_code
        run.metadata["donate_info_status"] = status
        if status == 429:
            return DEGRADED, "donate_info: Pay2Slay rate limited the call (429)"
        if not 200 <= status < 300:
            return UNHEALTHY, f"donate_info: HTTP {status} from Pay2Slay"
        try:
            body = json_with_decimals(response)
        except ValueError:
            return UNHEALTHY, "donate_info: response format: body is not JSON"
        info = parse_shape("donate_info", DonateInfoResponse, body)
        if info.address is None or info.balance is None:
            return UNHEALTHY, (
                "donate_info: Pay2Slay shows no operator address/balance "
                "(no operator seed configured)"
            )
        run.metadata["p2s_operator_address"] = info.address
        return None
