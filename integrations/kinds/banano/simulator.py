"""Banano node RPC simulator: ``POST {url}/banano/`` with ``{"action": ...}``.

Like nano-node: numbers are decimal strings, booleans ``"true"``/``"false"``, and
errors are ``{"error": "<message>"}`` with HTTP 200 using the node's own messages.
Empty lists come back as ``""`` (``"history": ""``, ``"blocks": ""``), as the
node's property-tree JSON writer does. Wallet actions need RPC control, which a
fault can turn off. The ledger is shared with the Pippin wallet simulator.
"""

from __future__ import annotations

import json
import math
import secrets
import time
from collections.abc import Callable
from typing import Any, ClassVar

from integrations.simulators import fixtures as fx
from integrations.simulators.banano_codec import (
    MAX_RAW,
    format_ban,
    is_valid_account,
)
from integrations.simulators.base import (
    BodyError,
    FaultValidator,
    Request,
    Response,
    Service,
    reason_phrase,
)
from integrations.simulators.ledger import Block, Ledger, LedgerError, Wallet, is_hex

NETWORK_IDENTIFIER = "F61A79F286ABC5CC01D3D09686F0567812B889A5C63ADE0E82DD30F3B2D96463"
Params = dict[str, Any]
Action = Callable[[Params], dict[str, Any]]


def _check_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _check_str(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("must be a non-empty string")
    return value


def _check_actions(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("must be a list of action names")
    return value


def flag(params: Params, name: str, default: bool = False) -> bool:
    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("true", "1")


def empty_as_string(value: list[Any] | dict[str, Any]) -> Any:
    # nano-node serialises an empty property tree as "" rather than [] or {}.
    return value if value else ""


class NodeRPC(Service):
    """Shared action handling for the node and the Pippin-style wallet."""

    wallet_actions: ClassVar[frozenset[str]] = frozenset(
        {
            "send",
            "wallet_balances",
            "wallet_info",
            "account_list",
            "receive",
            "receive_all",
            "wallet_create",
            "account_create",
            "accounts_create",
            "wallet_pending",
            "wallet_locked",
            "wallet_lock",
            "password_enter",
            "password_change",
            "password_valid",
        }
    )
    extra_faults: ClassVar[dict[str, FaultValidator]] = {
        "control_disabled": _check_bool,
        "out_of_sync": _check_bool,
        "forced_error": _check_str,
        "forced_error_actions": _check_actions,
    }
    nominal_limit = 100_000
    nominal_window_seconds = 60.0

    @property
    def ledger(self) -> Ledger:
        return self.hub.ledger

    def routes(self) -> None:
        self.router.add("POST", "", self.rpc)
        self.router.add("POST", "/", self.rpc)

    def seed(self) -> None:
        self.ledger.seed()

    def describe(self) -> dict[str, Any]:
        with self.ledger.lock:
            return {
                "block_count": self.ledger.block_count(),
                "operator_account": fx.BANANO_OPERATOR_ACCOUNT,
                "operator_balance_raw": str(
                    self.ledger.balance(fx.BANANO_OPERATOR_ACCOUNT)
                ),
                "wallets": {
                    wallet.id: {"accounts": wallet.accounts, "locked": wallet.locked}
                    for wallet in self.ledger.wallets.values()
                },
            }

    def error(
        self, request: Request, status: int, message: str | None = None
    ) -> Response:
        return Response.json({"error": message or reason_phrase(status)}, status)

    def rate_limited(self, request: Request, retry_after: float) -> Response:
        # A node never sends 429; a proxy in front of it may, as plain text.
        return Response.text(
            "429 Too Many Requests",
            429,
            [("Retry-After", str(math.ceil(retry_after)))],
        )

    # -- dispatch -------------------------------------------------------------

    def actions(self) -> dict[str, Action]:
        return {
            "version": self.version,
            "block_count": self.block_count,
            "uptime": self.uptime,
            "account_balance": self.account_balance,
            "accounts_balances": self.accounts_balances,
            "account_info": self.account_info,
            "account_history": self.account_history,
            "receivable": self.receivable,
            "pending": self.receivable,
            "process": self.process,
            "block_info": self.block_info,
            "send": self.send,
            "wallet_balances": self.wallet_balances,
            "wallet_info": self.wallet_info,
            "account_list": self.account_list,
            "receive": self.receive,
            "receive_all": self.receive_all,
            "wallet_create": self.wallet_create,
            "account_create": self.account_create,
            "accounts_create": self.accounts_create,
            "wallet_pending": self.wallet_pending,
            "wallet_locked": self.wallet_locked,
            "wallet_lock": self.wallet_lock,
            "password_enter": self.password_enter,
            "password_valid": self.password_valid,
            "password_change": self.password_change,
        }

    def rpc(self, request: Request) -> Response:
        try:
            params = request.json()
        except BodyError:
            return self.answer({"error": "Unable to parse JSON"})
        if not isinstance(params, dict):
            return self.answer({"error": "Unable to parse JSON"})
        action = params.get("action")
        handler = self.actions().get(action) if isinstance(action, str) else None
        if handler is None:
            return self.answer({"error": "Unknown command"})
        forced = self.fault("forced_error")
        only = self.fault("forced_error_actions")
        if forced and (not only or action in only):
            return self.answer({"error": forced})
        if action in self.wallet_actions and self.fault("control_disabled"):
            return self.answer({"error": "RPC control is disabled"})
        try:
            return self.answer(handler(params))
        except LedgerError as exc:
            return self.answer({"error": exc.message})

    def answer(self, payload: dict[str, Any]) -> Response:
        return Response.json(payload, 200)

    # -- parameter helpers ----------------------------------------------------

    @staticmethod
    def _account(params: Params, name: str = "account", error: str = "") -> str:
        value = params.get(name)
        if not is_valid_account(value):
            raise LedgerError(error or "Bad account number")
        return value

    @staticmethod
    def _amount(value: Any, error: str = "Invalid amount number") -> int:
        if isinstance(value, bool):
            raise LedgerError(error)
        if isinstance(value, int):
            text = str(value)
        elif isinstance(value, str):
            text = value
        else:
            raise LedgerError(error)
        if not text.isascii() or not text.isdigit() or int(text) > MAX_RAW:
            raise LedgerError(error)
        return int(text)

    @staticmethod
    def _count(params: Params, required: bool = False) -> int | None:
        value = params.get("count")
        if value is None:
            if required:
                raise LedgerError("Invalid count limit")
            return None
        try:
            count = int(str(value))
        except ValueError as exc:
            raise LedgerError("Invalid count limit") from exc
        if count < 0:
            raise LedgerError("Invalid count limit")
        return count

    def valid_wallet_id(self, wallet_id: Any) -> bool:
        return is_hex(wallet_id, 64)

    def normalize_wallet_id(self, wallet_id: str) -> str:
        return wallet_id.upper()

    def _wallet(self, params: Params) -> Wallet:
        wallet_id = params.get("wallet")
        if not self.valid_wallet_id(wallet_id):
            raise LedgerError("Bad wallet number")
        wallet = self.ledger.wallets.get(self.normalize_wallet_id(wallet_id))
        if wallet is None:
            raise LedgerError("Wallet not found")
        return wallet

    @staticmethod
    def _unlocked(wallet: Wallet) -> None:
        if wallet.locked:
            raise LedgerError("Wallet is locked")

    def _balances(self, account: str) -> dict[str, str]:
        receivable = str(self.ledger.receivable_total(account))
        return {
            "balance": str(self.ledger.balance(account)),
            "pending": receivable,
            "receivable": receivable,
        }

    # -- node actions ---------------------------------------------------------

    def version(self, params: Params) -> dict[str, Any]:
        return {
            "rpc_version": "1",
            "store_version": "21",
            "protocol_version": "19",
            "node_vendor": fx.BANANO_NODE_VENDOR,
            "store_vendor": "LMDB 0.9.70",
            "network": fx.BANANO_NETWORK,
            "network_identifier": NETWORK_IDENTIFIER,
            "build_info": "testenv simulator",
        }

    def block_count(self, params: Params) -> dict[str, Any]:
        count = fx.BANANO_NETWORK_BASE_BLOCK_COUNT + self.ledger.block_count()
        cemented, unchecked = count, 3
        if self.fault("out_of_sync"):
            cemented, unchecked = int(count * 0.95), 250_000
        return {
            "count": str(count),
            "unchecked": str(unchecked),
            "cemented": str(cemented),
        }

    def uptime(self, params: Params) -> dict[str, Any]:
        return {"seconds": str(int(time.time() - self.started_at))}

    def account_balance(self, params: Params) -> dict[str, Any]:
        account = self._account(params)
        with self.ledger.lock:
            return self._balances(account)

    def accounts_balances(self, params: Params) -> dict[str, Any]:
        accounts = params.get("accounts")
        if not isinstance(accounts, list):
            raise LedgerError("Bad account number")
        with self.ledger.lock:
            balances = {}
            for account in accounts:
                if not is_valid_account(account):
                    raise LedgerError("Bad account number")
                balances[account] = self._balances(account)
        return {"balances": balances}

    def account_info(self, params: Params) -> dict[str, Any]:
        account = self._account(params)
        with self.ledger.lock:
            state = self.ledger.account(account)
            if state is None:
                raise LedgerError("Account not found")
            frontier = self.ledger.blocks[state.frontier]
            info: dict[str, Any] = {
                "frontier": state.frontier,
                "open_block": state.blocks[0],
                "representative_block": state.frontier,
                "balance": str(state.balance),
                "modified_timestamp": str(state.modified_timestamp),
                "block_count": str(len(state.blocks)),
                "account_version": "1",
                "confirmation_height": str(frontier.height),
                "confirmation_height_frontier": state.frontier,
            }
            if flag(params, "representative"):
                info["representative"] = state.representative
            if flag(params, "weight"):
                info["weight"] = "0"
            if flag(params, "receivable") or flag(params, "pending"):
                total = str(self.ledger.receivable_total(account))
                info["receivable"] = total
                info["pending"] = total
            if flag(params, "include_confirmed"):
                info["confirmed_balance"] = info["balance"]
                info["confirmed_height"] = info["confirmation_height"]
                info["confirmed_frontier"] = state.frontier
            return info

    def _history_entry(self, block: Block, raw: bool) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "type": block.history_type,
            "account": block.counterparty or block.account,
            "amount": str(block.amount),
            # Not an upstream nano field: proxies such as Kalium add it; P2S reads it.
            "amount_decimal": format_ban(block.amount),
            "local_timestamp": str(block.local_timestamp),
            "height": str(block.height),
            "hash": block.hash,
            "confirmed": "true",
        }
        if raw:
            entry.update(
                {
                    "type": "state",
                    "representative": block.representative,
                    "link": block.link,
                    "balance": str(block.balance),
                    "previous": block.previous,
                    "subtype": block.subtype,
                    "signature": block.signature,
                    "work": block.work,
                }
            )
        return entry

    def account_history(self, params: Params) -> dict[str, Any]:
        account = self._account(params)
        count = self._count(params, required=True) or 0
        raw = flag(params, "raw")
        reverse = flag(params, "reverse")
        offset = int(str(params.get("offset", "0") or "0"))
        head = params.get("head")
        filters = params.get("account_filter")
        with self.ledger.lock:
            blocks = self.ledger.history(account)  # newest first
            if reverse:
                blocks.reverse()
            if head:
                hashes = [b.hash for b in blocks]
                if str(head).upper() not in hashes:
                    raise LedgerError("Block not found")
                blocks = blocks[hashes.index(str(head).upper()) :]
            if isinstance(filters, list) and filters:
                blocks = [b for b in blocks if b.counterparty in filters]
            blocks = blocks[offset:]
            page, rest = blocks[:count], blocks[count:]
            result: dict[str, Any] = {
                "account": account,
                "history": empty_as_string([self._history_entry(b, raw) for b in page]),
            }
            if rest:
                result["next" if reverse else "previous"] = rest[0].hash
            return result

    def receivable(self, params: Params) -> dict[str, Any]:
        account = self._account(params)
        count = self._count(params)
        threshold = params.get("threshold")
        minimum = self._amount(threshold) if threshold is not None else 0
        with_source = flag(params, "source")
        with self.ledger.lock:
            blocks = [
                b for b in self.ledger.receivable_blocks(account) if b.amount >= minimum
            ]
            if flag(params, "sorting"):
                blocks.sort(key=lambda b: b.amount, reverse=True)
            if count is not None:
                blocks = blocks[:count]
            if with_source:
                return {
                    "blocks": empty_as_string(
                        {
                            b.hash: {"amount": str(b.amount), "source": b.account}
                            for b in blocks
                        }
                    )
                }
            if threshold is not None:
                return {
                    "blocks": empty_as_string({b.hash: str(b.amount) for b in blocks})
                }
            return {"blocks": empty_as_string([b.hash for b in blocks])}

    def process(self, params: Params) -> dict[str, Any]:
        block = params.get("block")
        if isinstance(block, str):
            try:
                block = json.loads(block)
            except json.JSONDecodeError as exc:
                raise LedgerError("Block is invalid") from exc
        if not isinstance(block, dict):
            raise LedgerError("Block is invalid")
        subtype = params.get("subtype")
        if subtype is not None and subtype not in ("send", "receive", "open", "change"):
            raise LedgerError("Invalid block subtype")
        result = self.ledger.process(block, subtype, flag(params, "do_work"))
        if flag(params, "async"):
            return {"started": "1"}
        return {"hash": result.hash}

    def block_info(self, params: Params) -> dict[str, Any]:
        block_hash = params.get("hash")
        if not is_hex(block_hash, 64):
            raise LedgerError("Invalid block hash")
        with self.ledger.lock:
            block = self.ledger.blocks.get(block_hash.upper())
            if block is None:
                raise LedgerError("Block not found")
            contents: Any = block.contents()
            if not flag(params, "json_block"):
                contents = json.dumps(contents, indent=4)
            return {
                "block_account": block.account,
                "amount": str(block.amount),
                "balance": str(block.balance),
                "height": str(block.height),
                "local_timestamp": str(block.local_timestamp),
                "successor": block.successor,
                "confirmed": "true",
                "contents": contents,
                "subtype": block.subtype,
            }

    # -- wallet actions -------------------------------------------------------

    def send(self, params: Params) -> dict[str, Any]:
        wallet = self._wallet(params)
        source = self._account(params, "source", "Bad source")
        destination = self._account(params, "destination", "Bad destination account")
        amount = self._amount(params.get("amount"))
        send_id = str(params.get("id") or "")
        with self.ledger.lock:
            self._unlocked(wallet)
            if source not in wallet.accounts:
                raise LedgerError("Account not found in wallet")
            block = self.ledger.wallet_send(
                wallet, source, destination, amount, send_id
            )
        return {"block": block.hash}

    def wallet_balances(self, params: Params) -> dict[str, Any]:
        wallet = self._wallet(params)
        threshold = params.get("threshold")
        minimum = self._amount(threshold) if threshold is not None else 0
        with self.ledger.lock:
            balances = {
                account: self._balances(account)
                for account in wallet.accounts
                if self.ledger.balance(account) >= minimum
            }
        return {"balances": empty_as_string(balances)}

    def wallet_info(self, params: Params) -> dict[str, Any]:
        wallet = self._wallet(params)
        with self.ledger.lock:
            balance = sum(self.ledger.balance(a) for a in wallet.accounts)
            receivable = sum(self.ledger.receivable_total(a) for a in wallet.accounts)
            blocks = sum(
                len(state.blocks)
                for a in wallet.accounts
                if (state := self.ledger.account(a)) is not None
            )
        return {
            "balance": str(balance),
            "pending": str(receivable),
            "receivable": str(receivable),
            "accounts_count": str(len(wallet.accounts)),
            "adhoc_count": "0",
            "deterministic_count": str(len(wallet.accounts)),
            "deterministic_index": str(wallet.next_index),
            "accounts_block_count": str(blocks),
            "accounts_cemented_block_count": str(blocks),
        }

    def account_list(self, params: Params) -> dict[str, Any]:
        wallet = self._wallet(params)
        return {"accounts": empty_as_string(list(wallet.accounts))}

    def receive(self, params: Params) -> dict[str, Any]:
        wallet = self._wallet(params)
        account = self._account(params)
        block_hash = params.get("block")
        if not is_hex(block_hash, 64):
            raise LedgerError("Invalid block hash")
        with self.ledger.lock:
            self._unlocked(wallet)
            if account not in wallet.accounts:
                raise LedgerError("Account not found in wallet")
            block = self.ledger.receive(account, block_hash.upper())
        return {"block": block.hash}

    def receive_all(self, params: Params) -> dict[str, Any]:
        wallet = self._wallet(params)
        with self.ledger.lock:
            self._unlocked(wallet)
            received = sum(len(self.ledger.receive_all(a)) for a in wallet.accounts)
        return {"received": str(received)}

    def new_wallet_id(self) -> str:
        return secrets.token_hex(32).upper()

    def wallet_create(self, params: Params) -> dict[str, Any]:
        seed = params.get("seed")
        if seed is not None and not is_hex(seed, 64):
            raise LedgerError("Bad seed")
        with self.ledger.lock:
            wallet = self.ledger.create_wallet(self.new_wallet_id(), seed)
            if seed is not None:
                self.ledger.create_account(wallet, 0)
        return {"wallet": wallet.id}

    def account_create(self, params: Params) -> dict[str, Any]:
        wallet = self._wallet(params)
        index = params.get("index")
        with self.ledger.lock:
            self._unlocked(wallet)
            account = self.ledger.create_account(
                wallet, int(str(index)) if index is not None else None
            )
        return {"account": account}

    def accounts_create(self, params: Params) -> dict[str, Any]:
        wallet = self._wallet(params)
        count = self._count(params, required=True) or 0
        with self.ledger.lock:
            self._unlocked(wallet)
            accounts = [self.ledger.create_account(wallet) for _ in range(count)]
        return {"accounts": empty_as_string(accounts)}

    def wallet_pending(self, params: Params) -> dict[str, Any]:
        wallet = self._wallet(params)
        count = self._count(params)
        threshold = params.get("threshold")
        minimum = self._amount(threshold) if threshold is not None else 0
        with_source = flag(params, "source")
        result: dict[str, Any] = {}
        with self.ledger.lock:
            for account in wallet.accounts:
                blocks = [
                    b
                    for b in self.ledger.receivable_blocks(account)
                    if b.amount >= minimum
                ]
                if count is not None:
                    blocks = blocks[:count]
                if not blocks:
                    continue
                if with_source:
                    result[account] = {
                        b.hash: {"amount": str(b.amount), "source": b.account}
                        for b in blocks
                    }
                elif threshold is not None:
                    result[account] = {b.hash: str(b.amount) for b in blocks}
                else:
                    result[account] = [b.hash for b in blocks]
        return {"blocks": empty_as_string(result)}

    def wallet_locked(self, params: Params) -> dict[str, Any]:
        wallet = self._wallet(params)
        return {"locked": "1" if wallet.locked else "0"}

    def wallet_lock(self, params: Params) -> dict[str, Any]:
        wallet = self._wallet(params)
        with self.ledger.lock:
            wallet.locked = True
        return {"locked": "1"}

    def password_valid(self, params: Params) -> dict[str, Any]:
        wallet = self._wallet(params)
        return {"valid": "0" if wallet.locked else "1"}

    def password_enter(self, params: Params) -> dict[str, Any]:
        wallet = self._wallet(params)
        password = params.get("password")
        with self.ledger.lock:
            valid = isinstance(password, str) and password == wallet.password
            if valid:
                wallet.locked = False
        return {"valid": "1" if valid else "0"}

    def password_change(self, params: Params) -> dict[str, Any]:
        wallet = self._wallet(params)
        password = params.get("password")
        if not isinstance(password, str):
            raise LedgerError("Unable to parse JSON")
        with self.ledger.lock:
            self._unlocked(wallet)
            wallet.password = password
        return {"changed": "1"}


class BananoNodeSimulator(NodeRPC):
    """The Banano node's JSON RPC (node actions plus node-wallet actions)."""

    name = "banano"
    prefix = "/banano"
    base_path = "/"

    def control_routes(self) -> None:
        self.control_router.add("POST", "/fund", self.control_fund)

    def control_fund(self, request: Request) -> Response:
        """Send funds from the faucet (or a given source) to an account, unreceived."""
        try:
            body = request.json()
        except BodyError:
            return Response.json({"error": "body must be JSON"}, 400)
        if not isinstance(body, dict):
            return Response.json({"error": "body must be a JSON object"}, 400)
        destination = body.get("destination")
        source = body.get("source", fx.BANANO_FAUCET_ACCOUNT)
        if not is_valid_account(destination) or not is_valid_account(source):
            return Response.json(
                {"error": "source/destination must be ban_ accounts"}, 400
            )
        try:
            amount = self._amount(body.get("amount_raw"))
            block = self.ledger.send(source, destination, amount)
            if body.get("receive"):
                self.ledger.receive(destination, block.hash)
        except LedgerError as exc:
            return Response.json({"error": exc.message}, 400)
        return Response.json({"block": block.hash, "amount_raw": str(amount)}, 201)
