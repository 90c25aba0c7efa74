"""Wallet workflows: ``wallet_balance_check`` (PROTOCOLS.md §4 "Workflow").

Reads a balance through the Pippin RPC, checks that it travels as raw integer
strings and that Pay2Slay shows the same amount in BAN, then (optionally) links
a fixture payout address through Pay2Slay and checks ``/me/status`` and the
refusals (``nano_`` address, whitespace, no session).
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, field_validator

from integrations.kinds.banano.probe import SettingError
from integrations.kinds.banano.workflows import account_problem, rpc_step
from integrations.kinds.base import Workflow, WorkflowContext, register_workflow
from integrations.kinds.wallet.client import WalletClient, json_with_decimals
from integrations.kinds.wallet.schemas import (
    AccountBalanceResponse,
    DonateInfoResponse,
    LinkWalletResponse,
    MeStatusResponse,
    P2SErrorResponse,
    WalletBalancesResponse,
)
from integrations.simulators import fixtures as fx
from integrations.simulators.banano_codec import format_ban, raw_to_ban

if TYPE_CHECKING:
    import requests

    from integrations.http import OutboundClient
    from integrations.models import IntegrationEndpoint

logger = logging.getLogger(__name__)

SIMULATED = "SIMULATED"
RAW_FIELDS = ("balance", "pending", "receivable")
RESTORE_LINK = "restore_wallet_link"
# A float carries about 16 significant digits; Pay2Slay's BAN value is a float
# computed from raw, so "equal" means equal to within float precision.
FLOAT_RELATIVE_TOLERANCE = Decimal("1e-15")


def display_matches(raw: int, shown: Decimal | None) -> bool:
    """Whether ``shown`` (Pay2Slay's BAN float) is ``raw / 10**29``.

    Exact decimal equality passes; otherwise the difference must be within
    float precision of the exact value (``raw_to_ban`` is exact Decimal math).
    """
    if shown is None:
        return False
    exact = raw_to_ban(raw)
    if shown == exact:
        return True
    return abs(shown - exact) <= abs(exact) * FLOAT_RELATIVE_TOLERANCE


def is_raw_string(value: Any) -> bool:
    return isinstance(value, str) and value.isascii() and value.isdigit()


def _json(response: requests.Response) -> Any:
    try:
        return json_with_decimals(response)
    except ValueError:
        return None


def _learn_secret(http: OutboundClient, value: str) -> None:
    """Redact ``value`` from now on, and from what was already captured (the
    control API's answer that handed it out)."""
    http.redactor.learn(value)
    for exchange in http.exchanges:
        for key in ("request_body", "response_body"):
            if exchange.get(key) is not None:
                exchange[key] = http.redact(exchange[key])


def session_hook_url(endpoint: IntegrationEndpoint) -> str | None:
    """Where to ask for a Pay2Slay session of a fixture user.

    ``settings.fixture_hook_url`` if set; for a SIMULATED endpoint otherwise the
    simulator's control route next to ``p2s_base_url`` (``…/p2s`` →
    ``…/_control/admin/sessions``).
    """
    settings = endpoint.settings or {}
    if settings.get("fixture_hook_url"):
        return str(settings["fixture_hook_url"])
    base = str(settings.get("p2s_base_url") or "").rstrip("/")
    if endpoint.mode != SIMULATED or not base.endswith("/p2s"):
        return None
    return base.removesuffix("/p2s") + "/_control/admin/sessions"


def p2s_session_cookie(
    endpoint: IntegrationEndpoint, http: OutboundClient, username: str | None = None
) -> tuple[str | None, str]:
    """A ``p2s_session`` cookie value and where it came from.

    The endpoint's credential ``p2s_session`` wins (LIVE); otherwise the fixture
    hook creates a session for ``username`` (default
    ``settings.link_discord_username``, else the fixture member). Returns
    ``(None, reason)`` when neither is available.
    """
    credential = http.credentials.get("p2s_session")
    if credential:
        return str(credential), "credentials.p2s_session"
    url = session_hook_url(endpoint)
    if not url:
        return None, "no credentials.p2s_session and no fixture hook (LIVE endpoint)"
    username = username or link_username(endpoint)
    response = http.request(
        "POST",
        url,
        json={"discord_username": username},
        label="fixture.p2s_session",
        idempotent=True,
    )
    body = _json(response) if response.status_code in (200, 201) else None
    cookie = body.get("cookie_value") if isinstance(body, dict) else None
    if not cookie:
        return None, f"the fixture hook answered HTTP {response.status_code}"
    _learn_secret(http, str(cookie))
    return str(cookie), f"fixture session of {username}"


def link_username(endpoint: IntegrationEndpoint) -> str:
    settings = endpoint.settings or {}
    return str(settings.get("link_discord_username") or fx.DISCORD_MEMBER_USERNAME)


class BalanceCheckInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account: str | None = None
    # A fixture payout address to link through Pay2Slay; no linking without it.
    link_address: str | None = None

    @field_validator("account", "link_address", mode="before")
    @classmethod
    def _valid_account(cls, value: Any) -> Any:
        if value in (None, ""):
            return None
        problem = account_problem(value)
        if problem:
            raise ValueError(f"not a valid ban_ address: {problem}")
        return value


@register_workflow
class WalletBalanceCheckWorkflow(Workflow):
    """Balance as raw strings, consistent with Pay2Slay; optional wallet link."""

    name = "wallet_balance_check"
    kinds = ("wallet",)
    description = (
        "Read the operator's (or an account's) balance through the wallet RPC, "
        "check raw integer strings and Pay2Slay's /api/donate-info BAN value; "
        "optionally link a fixture address and check /me/status and refusals."
    )
    input_model = BalanceCheckInput

    def defaults(self, endpoint: IntegrationEndpoint) -> dict[str, Any]:
        settings = endpoint.settings or {}
        defaults: dict[str, Any] = {}
        if settings.get("operator_account"):
            defaults["account"] = settings["operator_account"]
        link = settings.get("link_address")
        if not link and endpoint.mode == SIMULATED and settings.get("p2s_base_url"):
            link = fx.P2S_MEMBER_WALLET_ADDRESS
        if link:
            defaults["link_address"] = link
        return defaults

    def run(self, ctx: WorkflowContext, data: BalanceCheckInput) -> None:
        settings = ctx.endpoint.settings or {}
        operator = settings.get("operator_account") or None
        account = data.account or operator
        if not account:
            raise SettingError(
                "no account given and the endpoint has no settings.operator_account"
            )
        p2s_base_url = settings.get("p2s_base_url") or None
        client = WalletClient(ctx.http, p2s_base_url)
        ctx.notes["account"] = account

        # Pay2Slay first: /api/donate-info receives pending blocks before it
        # answers, so only a balance read after it is comparable.
        info = self._donate_info(ctx, client) if p2s_base_url else None

        reply = rpc_step(
            ctx, "account_balance", lambda: client.account_balance(account)
        )
        for key in RAW_FIELDS:
            if key in reply:
                ctx.check(
                    f"account_balance.{key} is a raw integer string",
                    "decimal digits in a string",
                    reply[key],
                    is_raw_string(reply[key]),
                )
        balance = ctx.check_shape("account_balance", AccountBalanceResponse, reply)
        ctx.notes.update(
            balance_raw=str(balance.balance), balance_ban=format_ban(balance.balance)
        )

        wallet_id = settings.get("wallet_id")
        if wallet_id:
            self._wallet_balances(ctx, client, str(wallet_id), account, balance.balance)

        if info is not None:
            self._compare_with_p2s(ctx, info, account, operator, balance.balance)

        if data.link_address and p2s_base_url:
            self._link(ctx, client, data.link_address)
        else:
            ctx.notes["link"] = (
                "skipped: no link_address"
                if p2s_base_url
                else "skipped: the endpoint has no settings.p2s_base_url"
            )

    # -- steps --------------------------------------------------------------------

    def _donate_info(
        self, ctx: WorkflowContext, client: WalletClient
    ) -> DonateInfoResponse:
        response = client.donate_info()
        ctx.require(
            "Pay2Slay /api/donate-info answers 200",
            200,
            response.status_code,
            response.status_code == 200,
        )
        return ctx.check_shape("donate_info", DonateInfoResponse, _json(response))

    def _wallet_balances(
        self,
        ctx: WorkflowContext,
        client: WalletClient,
        wallet_id: str,
        account: str,
        balance: int,
    ) -> None:
        reply = rpc_step(
            ctx, "wallet_balances", lambda: client.wallet_balances(wallet_id)
        )
        balances = ctx.check_shape("wallet_balances", WalletBalancesResponse, reply)
        entry = balances.balances.get(account)
        if entry is None:
            ctx.notes["wallet_balances"] = f"{account} is not in wallet {wallet_id}"
            return
        ctx.check_equal(
            "wallet_balances agrees with account_balance",
            str(balance),
            str(entry.balance),
        )

    def _compare_with_p2s(
        self,
        ctx: WorkflowContext,
        info: DonateInfoResponse,
        account: str,
        operator: str | None,
        balance: int,
    ) -> None:
        if account == operator:
            ctx.check_equal(
                "Pay2Slay shows the operator account", operator, info.address
            )
        if info.address != account:
            ctx.notes["donate_info"] = (
                f"Pay2Slay shows {info.address}, not {account}: no BAN comparison"
            )
            return
        ctx.check(
            "Pay2Slay's BAN balance equals raw / 10**29",
            f"{format_ban(balance)} BAN (raw {balance})",
            None if info.balance is None else str(info.balance),
            display_matches(balance, info.balance),
        )

    def _link(self, ctx: WorkflowContext, client: WalletClient, address: str) -> None:
        cookie, source = p2s_session_cookie(ctx.endpoint, ctx.http)
        ctx.notes["p2s_session"] = source
        if cookie is None:
            ctx.notes["link"] = f"skipped: {source}"
            return

        me = self._me_status(ctx, client, cookie, "before linking")
        previous = me.wallet_address

        response = client.link_wallet(cookie, address)
        ctx.require(
            "link wallet answers 200",
            200,
            response.status_code,
            response.status_code == 200,
        )
        linked = ctx.check_shape("link_wallet", LinkWalletResponse, _json(response))
        ctx.check_equal("link answer echoes the address", address, linked.address)
        if previous and previous != address:
            ctx.register_compensation(
                RESTORE_LINK,
                {
                    "previous_address": previous,
                    "linked_address": address,
                    "discord_username": link_username(ctx.endpoint),
                },
                f"link {previous} again as the primary payout address",
            )
        elif not previous:
            # Pay2Slay has no unlink route: the link stays after cleanup.
            ctx.notes["link_cleanup"] = (
                "none: the user had no address before and Pay2Slay cannot unlink"
            )

        me = self._me_status(ctx, client, cookie, "after linking")
        ctx.check_equal("/me/status.wallet_address", address, me.wallet_address)
        ctx.check_equal("/me/status.linked", True, me.linked)

        # Refusals: each must leave the link as it is.
        as_nano = "nano_" + address.removeprefix("ban_")
        self._refused(ctx, client, cookie, as_nano, 400, "nano_ address")
        spaced = f"{address[:30]} {address[30:]}"
        self._refused(ctx, client, cookie, spaced, 400, "address with whitespace")
        self._refused(ctx, client, None, address, 401, "no session cookie")
        me = self._me_status(ctx, client, cookie, "after the refusals")
        ctx.check_equal(
            "refused links left /me/status.wallet_address alone",
            address,
            me.wallet_address,
        )

    def _me_status(
        self, ctx: WorkflowContext, client: WalletClient, cookie: str, when: str
    ) -> MeStatusResponse:
        response = client.me_status(cookie)
        ctx.require(
            f"/me/status answers 200 ({when})",
            200,
            response.status_code,
            response.status_code == 200,
        )
        return ctx.check_shape(f"me_status ({when})", MeStatusResponse, _json(response))

    def _refused(
        self,
        ctx: WorkflowContext,
        client: WalletClient,
        cookie: str | None,
        address: str,
        status: int,
        what: str,
    ) -> None:
        response = client.link_wallet(cookie, address)
        body = _json(response)
        detail = body.get("detail") if isinstance(body, dict) else None
        ctx.check(
            f"link refused: {what}",
            status,
            f"{response.status_code} {detail!r}",
            response.status_code == status,
        )
        if response.status_code == status:
            error = ctx.check_shape(f"link refusal ({what})", P2SErrorResponse, body)
            ctx.notes.setdefault("refusals", {})[what] = error.detail

    # -- cleanup ------------------------------------------------------------------

    def compensate(
        self,
        endpoint: IntegrationEndpoint,
        http: OutboundClient,
        action: str,
        payload: dict,
    ) -> dict[str, Any]:
        """Make ``previous_address`` the user's primary payout address again
        (Pay2Slay treats the newest link as the primary one)."""
        if action != RESTORE_LINK:
            return super().compensate(endpoint, http, action, payload)
        settings = endpoint.settings or {}
        client = WalletClient(http, settings.get("p2s_base_url"))
        cookie, source = p2s_session_cookie(
            endpoint, http, payload.get("discord_username")
        )
        if cookie is None:
            raise RuntimeError(f"cannot restore the wallet link: {source}")
        previous = payload["previous_address"]
        response = client.link_wallet(cookie, previous)
        if response.status_code != 200:
            raise RuntimeError(
                f"relinking {previous} answered HTTP {response.status_code}"
            )
        return {"relinked": previous, "replaced": payload.get("linked_address")}
