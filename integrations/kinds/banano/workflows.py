"""Banano workflows: ``banano_payment`` (PROTOCOLS.md §3 "Workflow").

Money is real on a LIVE endpoint, so the payment is capped per session and the
cap is enforced before anything is sent. A payment cannot be undone: it
registers no compensation, and says so in its notes.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from integrations.kinds.banano.client import (
    BananoClient,
    RPCError,
    RPCProtocolError,
)
from integrations.kinds.banano.probe import SettingError
from integrations.kinds.banano.schemas import (
    AccountBalanceResponse,
    AccountHistoryResponse,
    ReceivableResponse,
    SendResponse,
)
from integrations.kinds.base import (
    Workflow,
    WorkflowContext,
    register_workflow,
)
from integrations.simulators.banano_codec import (
    InvalidAccountError,
    InvalidAmountError,
    ban_to_raw,
    format_ban,
    public_key_from_account,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_MAX_PAYMENT_BAN = 1
DEFAULT_TEST_AMOUNT_BAN = "0.01"
# A live node counts a send in the balance once it is confirmed (about a second
# on Banano); the sim does at once.
DEFAULT_CONFIRMATION_WAIT_SECONDS = 10.0
HISTORY_COUNT = 25
RECEIVABLE_COUNT = 1000


def ban_decimal(value: Any) -> Decimal:
    """A BAN amount given as a decimal string, an int or a JSON number.

    A float (what a JSON number like ``0.05`` becomes in Python) is read
    through ``repr``: the shortest decimal that reads back as that float, i.e.
    the digits the caller wrote, never its binary expansion.
    """
    if isinstance(value, bool):
        raise ValueError("amount must be a number or a decimal string, not a boolean")
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, str):
        value = value.strip()
    if not isinstance(value, str | int | Decimal):
        raise ValueError("amount must be a number or a decimal string")
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise ValueError(f"amount is not a decimal number: {value!r}") from exc
    if not amount.is_finite():
        raise ValueError("amount must be finite")
    return amount


def account_problem(address: Any) -> str:
    """Why ``address`` is not a valid ``ban_`` account, or "" when it is."""
    try:
        public_key_from_account(address)
    except InvalidAccountError as exc:
        return str(exc)
    return ""


class PaymentInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipient_address: str
    amount: Decimal = Field(description="BAN, a decimal string or a number")
    memo: str | None = Field(default=None, max_length=500)

    @field_validator("recipient_address", mode="before")
    @classmethod
    def _valid_account(cls, value: Any) -> Any:
        problem = account_problem(value)
        if problem:
            raise ValueError(f"not a valid ban_ address: {problem}")
        return value

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, value: Any) -> Decimal:
        amount = ban_decimal(value)
        if amount <= 0:
            raise ValueError("amount must be more than 0 BAN")
        try:
            raw = ban_to_raw(amount)
        except InvalidAmountError as exc:
            raise ValueError(str(exc)) from exc
        if raw == 0:
            raise ValueError("amount is below 1 raw (10**-29 BAN)")
        return amount

    @property
    def amount_raw(self) -> int:
        return ban_to_raw(self.amount)


def rpc_step(ctx: WorkflowContext, name: str, call: Callable[[], T]) -> T:
    """Run one RPC; a node ``{"error"}`` or a body that is not a JSON object is a
    failed assertion that ends the run (FAILED). 429/5xx and transport failures
    propagate (ERROR)."""
    try:
        return call()
    except RPCError as exc:
        ctx.require(
            f"{name}: no node error", 'a reply without "error"', exc.message, False
        )
    except RPCProtocolError as exc:
        ctx.require(f"response format: {name}", "a JSON object", exc.message, False)
    raise AssertionError("unreachable")  # ctx.require raised


def cap_raw(configuration: dict[str, Any]) -> int:
    """The session's payment cap in raw (``max_payment_ban``, default 1 BAN)."""
    value = configuration.get("max_payment_ban", DEFAULT_MAX_PAYMENT_BAN)
    if value is None:
        value = DEFAULT_MAX_PAYMENT_BAN
    amount = ban_decimal(value)
    if amount < 0:
        raise ValueError("max_payment_ban must not be negative")
    return ban_to_raw(amount)


def _required_setting(settings: dict[str, Any], key: str) -> str:
    value = settings.get(key)
    if not value:
        raise SettingError(f"the endpoint has no settings.{key}")
    return str(value)


@register_workflow
class BananoPaymentWorkflow(Workflow):
    """Pay ``amount`` BAN from the operator wallet to ``recipient_address``."""

    name = "banano_payment"
    kinds = ("banano",)
    description = (
        "Send BAN from the operator wallet with a unique id; check the balance "
        "drop, the history, the recipient's receivable and idempotent re-send. "
        "Capped per session by configuration.max_payment_ban (default 1 BAN)."
    )
    input_model = PaymentInput

    def defaults(self, endpoint: Any) -> dict[str, Any]:
        settings = endpoint.settings or {}
        defaults: dict[str, Any] = {
            "amount": settings.get("test_amount_ban", DEFAULT_TEST_AMOUNT_BAN)
        }
        if settings.get("recipient_account"):
            defaults["recipient_address"] = settings["recipient_account"]
        return defaults

    def run(self, ctx: WorkflowContext, data: PaymentInput) -> None:
        settings = ctx.endpoint.settings or {}
        amount_raw = data.amount_raw
        recipient = data.recipient_address
        notes = ctx.notes
        # The memo has no place on the Banano ledger; it lives in our notes only.
        notes.update(
            memo=data.memo,
            recipient=recipient,
            amount_ban=format_ban(amount_raw),
            requested_raw=str(amount_raw),
            # What the session counts as paid by this run (decimal string).
            amount_raw="0",
            compensation="none: a Banano payment cannot be undone",
        )

        # 1. The cap, before any call: a refused payment must leave no trace.
        try:
            cap = cap_raw(ctx.configuration)
        except (ValueError, InvalidAmountError) as exc:
            notes["payment_outcome"] = "refused_by_cap"
            ctx.require(
                "session payment cap",
                "a valid configuration.max_payment_ban",
                f"{ctx.configuration.get('max_payment_ban')!r}: {exc}",
                False,
            )
        spent = int(ctx.session_spent_raw or 0)
        within_cap = spent + amount_raw <= cap
        if not within_cap:
            notes["payment_outcome"] = "refused_by_cap"
        ctx.require(
            "session payment cap",
            f"at most {format_ban(cap)} BAN paid in this session",
            f"{format_ban(spent)} BAN already paid + {format_ban(amount_raw)} BAN "
            f"requested = {format_ban(spent + amount_raw)} BAN",
            within_cap,
        )

        operator = _required_setting(settings, "operator_account")
        wallet = _required_setting(settings, "operator_wallet")
        client = BananoClient(ctx.http)

        # 2. Pre-balance.
        before = self._balance(ctx, client, operator, "operator balance before")
        ctx.check(
            "operator balance covers the amount",
            f">= {format_ban(amount_raw)} BAN",
            f"{format_ban(before)} BAN",
            before >= amount_raw,
        )

        # 3. Send with a fresh idempotency id. Until the node answers, the money
        # may have moved: the session counts it as paid.
        send_id = uuid.uuid4().hex
        notes.update(
            send_id=send_id, amount_raw=str(amount_raw), payment_outcome="unknown"
        )
        try:
            reply = client.send(wallet, operator, recipient, amount_raw, send_id)
        except RPCError as exc:
            notes.update(
                amount_raw="0",
                payment_outcome="refused_by_node",
                node_error=exc.message,
            )
            ctx.require(
                "send accepted by the node",
                "a block hash",
                f"error: {exc.message}",
                False,
            )
        except RPCProtocolError as exc:
            notes["unknown_outcome"] = self._unknown(exc, send_id)
            ctx.require("response format: send", "a JSON object", exc.message, False)
        except Exception as exc:
            # Timeout, dropped connection, 5xx: the outcome is unknown (ERROR).
            notes["unknown_outcome"] = self._unknown(exc, send_id)
            raise
        sent = ctx.check_shape("send", SendResponse, reply)
        block = sent.block
        notes.update(block_hash=block, payment_outcome="sent")
        notes["compensation"] = (
            f"none: {format_ban(amount_raw)} BAN went to {recipient} in block "
            f"{block}; a Banano payment cannot be undone"
        )
        logger.info(
            "banano_payment sent %s raw to %s in block %s (id %s)",
            amount_raw,
            recipient,
            block,
            send_id,
        )
        ctx.check("send returned a 64-hex block hash", "64 hex characters", block, True)

        # 4. The balance dropped by exactly the amount.
        expected_after = before - amount_raw
        after = self._balance_after(ctx, client, operator, before, settings)
        ctx.check_equal(
            "operator balance dropped by exactly the amount",
            str(expected_after),
            str(after),
        )

        # 5. The operator's history shows the send.
        history = ctx.check_shape(
            "account_history",
            AccountHistoryResponse,
            rpc_step(
                ctx,
                "account_history",
                lambda: client.account_history(operator, HISTORY_COUNT),
            ),
        )
        entry = next((e for e in history.history if e.hash == block), None)
        expected_entry = {
            "type": "send",
            "account": recipient,
            "amount": str(amount_raw),
        }
        actual_entry = (
            {"type": entry.type, "account": entry.account, "amount": str(entry.amount)}
            if entry
            else f"block not among the latest {HISTORY_COUNT} history entries"
        )
        ctx.check(
            "account_history shows the send",
            expected_entry,
            actual_entry,
            actual_entry == expected_entry,
        )

        # 6. The recipient can receive it.
        receivable = ctx.check_shape(
            "receivable",
            ReceivableResponse,
            rpc_step(
                ctx,
                "receivable",
                lambda: client.receivable(recipient, RECEIVABLE_COUNT, source=True),
            ),
        )
        held = receivable.entries().get(block)
        ctx.check(
            "recipient's receivable holds the block",
            {"hash": block, "amount": str(amount_raw), "source": operator},
            (
                {"hash": held.hash, "amount": str(held.amount), "source": held.source}
                if held
                else "block not receivable by the recipient"
            ),
            held is not None
            and held.amount in (None, amount_raw)
            and held.source in (None, operator),
        )

        # 7. Idempotency: the same id returns the same block and pays nothing.
        again = ctx.check_shape(
            "send (repeat)",
            SendResponse,
            rpc_step(
                ctx,
                "send (repeat with the same id)",
                lambda: client.send(wallet, operator, recipient, amount_raw, send_id),
            ),
        )
        ctx.check_equal(
            "re-send with the same id returns the same block", block, again.block
        )
        final = self._balance(ctx, client, operator, "operator balance after re-send")
        ctx.check_equal(
            "re-send with the same id moves no money", str(after), str(final)
        )

    # -- helpers ------------------------------------------------------------------

    def _balance(
        self, ctx: WorkflowContext, client: BananoClient, account: str, name: str
    ) -> int:
        reply = rpc_step(ctx, name, lambda: client.account_balance(account))
        return ctx.check_shape(name, AccountBalanceResponse, reply).balance

    def _balance_after(
        self,
        ctx: WorkflowContext,
        client: BananoClient,
        account: str,
        before: int,
        settings: dict[str, Any],
    ) -> int:
        """The balance once the send counts in it (polls while it is unchanged)."""
        wait = float(
            settings.get("confirmation_wait_seconds", DEFAULT_CONFIRMATION_WAIT_SECONDS)
        )
        deadline = time.monotonic() + wait
        while True:
            after = self._balance(ctx, client, account, "operator balance after")
            if after != before or time.monotonic() >= deadline:
                return after
            time.sleep(0.5)

    @staticmethod
    def _unknown(exc: Exception, send_id: str) -> str:
        # A repeat with the same id answers the question without paying twice.
        return (
            f"{type(exc).__name__}: the payment may or may not have gone "
            f"through; repeat send with id {send_id} to find out"
        )
