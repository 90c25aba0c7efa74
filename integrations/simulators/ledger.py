"""The in-process Banano ledger shared by the node and wallet simulators.

A send through the node's ``send``, through ``process`` or through the Pippin
wallet moves the same balances. Block hashes are real state-block hashes
(blake2b-256 over preamble, account, previous, representative, balance, link), so
a client that hashes a block locally gets the hash the simulator reports.
Signatures are not verified: the simulator holds no private keys.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from integrations.simulators import fixtures as fx
from integrations.simulators.banano_codec import (
    account_from_public_key,
    is_valid_account,
    public_key_from_account,
)

ZERO_HASH = "0" * 64
_STATE_PREAMBLE = (6).to_bytes(32, "big")
# 2024-01-01T00:00:00Z: seeded blocks get deterministic timestamps after it.
SEED_EPOCH = 1_704_067_200


class LedgerError(Exception):
    """A ledger operation failed; ``message`` is the node's error string."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Block:
    hash: str
    account: str
    previous: str
    representative: str
    balance: int
    link: str
    subtype: str  # open | receive | send | change
    amount: int
    height: int
    local_timestamp: int
    signature: str
    work: str
    counterparty: str | None = None  # destination of a send, source of a receive
    successor: str = ZERO_HASH
    confirmed: bool = True

    @property
    def history_type(self) -> str:
        return "send" if self.subtype == "send" else "receive"

    def contents(self) -> dict[str, str]:
        link_as_account = account_from_public_key(self.link)
        return {
            "type": "state",
            "account": self.account,
            "previous": self.previous,
            "representative": self.representative,
            "balance": str(self.balance),
            "link": self.link,
            "link_as_account": link_as_account,
            "signature": self.signature,
            "work": self.work,
        }


@dataclass
class AccountState:
    account: str
    blocks: list[str] = field(default_factory=list)
    representative: str = fx.BANANO_REPRESENTATIVE
    balance: int = 0
    modified_timestamp: int = 0

    @property
    def frontier(self) -> str:
        return self.blocks[-1]


@dataclass
class Wallet:
    id: str
    accounts: list[str]
    password: str = ""
    locked: bool = False
    seed: str = field(default_factory=lambda: secrets.token_hex(32).upper())
    next_index: int = 0
    send_ids: dict[str, str] = field(default_factory=dict)


def state_block_hash(
    account: str, previous: str, representative: str, balance: int, link: str
) -> str:
    digest = hashlib.blake2b(digest_size=32)
    digest.update(_STATE_PREAMBLE)
    digest.update(public_key_from_account(account))
    digest.update(bytes.fromhex(previous))
    digest.update(public_key_from_account(representative))
    digest.update(balance.to_bytes(16, "big"))
    digest.update(bytes.fromhex(link))
    return digest.hexdigest().upper()


def fake_work(block_hash: str) -> str:
    return hashlib.blake2b(bytes.fromhex(block_hash), digest_size=8).hexdigest()


def fake_signature(block_hash: str) -> str:
    return hashlib.blake2b(b"sig" + bytes.fromhex(block_hash)).hexdigest().upper()


def is_hex(value: object, length: int) -> bool:
    if not isinstance(value, str) or len(value) != length:
        return False
    try:
        int(value, 16)
    except ValueError:
        return False
    return True


class Ledger:
    """Accounts, blocks, receivables and wallets, guarded by one lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.blocks: dict[str, Block] = {}
        self.accounts: dict[str, AccountState] = {}
        self.receivable: dict[str, str] = {}  # send hash -> destination
        self.wallets: dict[str, Wallet] = {}
        self._clock = SEED_EPOCH
        self._seeding = False
        self.seed()

    # -- seeding --------------------------------------------------------------

    def seed(self) -> None:
        with self.lock:
            self.blocks.clear()
            self.accounts.clear()
            self.receivable.clear()
            self.wallets.clear()
            self._clock = SEED_EPOCH
            self._seeding = True
            try:
                self._seed_accounts()
            finally:
                self._seeding = False

    def _seed_accounts(self) -> None:
        faucet = fx.BANANO_FAUCET_ACCOUNT
        self._append(
            faucet,
            subtype="open",
            balance=fx.BANANO_FAUCET_BALANCE_RAW,
            link=ZERO_HASH,
            amount=fx.BANANO_FAUCET_BALANCE_RAW,
            counterparty=faucet,
        )
        funded = (
            (fx.BANANO_OPERATOR_ACCOUNT, fx.BANANO_OPERATOR_BALANCE_RAW),
            (fx.BANANO_RECIPIENT_ACCOUNT, fx.BANANO_RECIPIENT_BALANCE_RAW),
            (fx.BANANO_LOCKED_ACCOUNT, fx.BANANO_LOCKED_BALANCE_RAW),
            (fx.BANANO_LOW_BALANCE_ACCOUNT, fx.BANANO_LOW_BALANCE_RAW),
            (fx.BANANO_DONOR_ACCOUNT, 10 * 10**29),
        )
        for account, amount in funded:
            send = self.send(faucet, account, amount)
            self.receive(account, send.hash)
        # Left receivable on purpose: donate-info and receive_all have work to do.
        self.send(
            fx.BANANO_DONOR_ACCOUNT,
            fx.BANANO_OPERATOR_ACCOUNT,
            fx.BANANO_OPERATOR_RECEIVABLE_RAW,
        )
        self.wallets = {
            fx.BANANO_OPERATOR_WALLET_ID: Wallet(
                fx.BANANO_OPERATOR_WALLET_ID, [fx.BANANO_OPERATOR_ACCOUNT]
            ),
            fx.BANANO_LOCKED_WALLET_ID: Wallet(
                fx.BANANO_LOCKED_WALLET_ID,
                [fx.BANANO_LOCKED_ACCOUNT],
                password=fx.BANANO_LOCKED_WALLET_PASSWORD,
                locked=True,
            ),
            fx.BANANO_LOW_BALANCE_WALLET_ID: Wallet(
                fx.BANANO_LOW_BALANCE_WALLET_ID, [fx.BANANO_LOW_BALANCE_ACCOUNT]
            ),
            fx.WALLET_OPERATOR_WALLET_ID: Wallet(
                fx.WALLET_OPERATOR_WALLET_ID, [fx.BANANO_OPERATOR_ACCOUNT]
            ),
            fx.WALLET_LOCKED_WALLET_ID: Wallet(
                fx.WALLET_LOCKED_WALLET_ID,
                [fx.BANANO_LOCKED_ACCOUNT],
                password=fx.WALLET_LOCKED_WALLET_PASSWORD,
                locked=True,
            ),
        }

    # -- reads ----------------------------------------------------------------

    def _now(self) -> int:
        if self._seeding:
            self._clock += 3600
            return self._clock
        return int(time.time())

    def block_count(self) -> int:
        with self.lock:
            return len(self.blocks)

    def account(self, account: str) -> AccountState | None:
        with self.lock:
            return self.accounts.get(account)

    def balance(self, account: str) -> int:
        with self.lock:
            state = self.accounts.get(account)
            return state.balance if state else 0

    def receivable_blocks(self, account: str) -> list[Block]:
        with self.lock:
            return [
                self.blocks[h] for h, dest in self.receivable.items() if dest == account
            ]

    def receivable_total(self, account: str) -> int:
        return sum(block.amount for block in self.receivable_blocks(account))

    def history(self, account: str) -> list[Block]:
        """The account's blocks, newest first."""
        with self.lock:
            state = self.accounts.get(account)
            if state is None:
                return []
            return [self.blocks[h] for h in reversed(state.blocks)]

    # -- writes ---------------------------------------------------------------

    def _append(
        self,
        account: str,
        *,
        subtype: str,
        balance: int,
        link: str,
        amount: int,
        counterparty: str | None,
        representative: str | None = None,
        signature: str | None = None,
        work: str | None = None,
    ) -> Block:
        state = self.accounts.get(account)
        if state is None:
            state = AccountState(account)
            previous = ZERO_HASH
        else:
            previous = state.frontier
        rep = representative or state.representative
        block_hash = state_block_hash(account, previous, rep, balance, link)
        block = Block(
            hash=block_hash,
            account=account,
            previous=previous,
            representative=rep,
            balance=balance,
            link=link,
            subtype=subtype,
            amount=amount,
            height=len(state.blocks) + 1,
            local_timestamp=self._now(),
            signature=signature or fake_signature(block_hash),
            work=work or fake_work(block_hash),
            counterparty=counterparty,
        )
        if previous != ZERO_HASH:
            self.blocks[previous].successor = block_hash
        self.blocks[block_hash] = block
        state.blocks.append(block_hash)
        state.balance = balance
        state.representative = rep
        state.modified_timestamp = block.local_timestamp
        self.accounts[account] = state
        return block

    def send(self, source: str, destination: str, amount: int) -> Block:
        with self.lock:
            state = self.accounts.get(source)
            if state is None or amount > state.balance:
                raise LedgerError("Insufficient balance")
            link = public_key_from_account(destination).hex().upper()
            block = self._append(
                source,
                subtype="send",
                balance=state.balance - amount,
                link=link,
                amount=amount,
                counterparty=destination,
            )
            self.receivable[block.hash] = destination
            return block

    def receive(self, account: str, send_hash: str) -> Block:
        with self.lock:
            send = self.blocks.get(send_hash)
            if send is None:
                raise LedgerError("Block not found")
            if self.receivable.get(send_hash) != account:
                raise LedgerError("Unreceivable")
            state = self.accounts.get(account)
            balance = (state.balance if state else 0) + send.amount
            block = self._append(
                account,
                subtype="receive" if state else "open",
                balance=balance,
                link=send_hash,
                amount=send.amount,
                counterparty=send.account,
            )
            del self.receivable[send_hash]
            return block

    def receive_all(self, account: str) -> list[Block]:
        with self.lock:
            return [
                self.receive(account, b.hash) for b in self.receivable_blocks(account)
            ]

    def process(
        self, data: dict[str, Any], subtype: str | None, do_work: bool
    ) -> Block:
        """Validate and apply a client-built state block (the node's ``process``)."""
        with self.lock:
            try:
                account = data["account"]
                previous = str(data["previous"]).upper()
                representative = data["representative"]
                balance_text = str(data["balance"])
                link = str(data["link"]).upper()
            except (KeyError, TypeError) as exc:
                raise LedgerError("Block is invalid") from exc
            if data.get("type", "state") != "state":
                raise LedgerError("Block is invalid")
            if not (is_valid_account(account) and is_valid_account(representative)):
                raise LedgerError("Block is invalid")
            if not (is_hex(previous, 64) and is_hex(link, 64)):
                raise LedgerError("Block is invalid")
            if not balance_text.isdigit():
                raise LedgerError("Block is invalid")
            balance = int(balance_text)
            work = data.get("work")
            if not do_work and not is_hex(work, 16):
                raise LedgerError("Block work is insufficient")
            signature = data.get("signature")
            if signature is not None and not is_hex(signature, 128):
                raise LedgerError("Block is invalid")
            block_hash = state_block_hash(
                account, previous, representative, balance, link
            )
            if block_hash in self.blocks:
                raise LedgerError("Old block")
            state = self.accounts.get(account)
            if state is None:
                if previous != ZERO_HASH:
                    raise LedgerError("Gap previous block")
                current = 0
            else:
                if previous == ZERO_HASH or previous in state.blocks[:-1]:
                    raise LedgerError("Fork")
                if previous != state.frontier:
                    raise LedgerError("Gap previous block")
                current = state.balance
            if balance < current:
                if subtype not in (None, "send"):
                    raise LedgerError("Invalid block balance for given subtype")
                destination = account_from_public_key(link)
                block = self._append(
                    account,
                    subtype="send",
                    balance=balance,
                    link=link,
                    amount=current - balance,
                    counterparty=destination,
                    representative=representative,
                    signature=signature,
                    work=None if do_work else work,
                )
                self.receivable[block.hash] = destination
                return block
            if balance == current:
                if link != ZERO_HASH or subtype not in (None, "change"):
                    raise LedgerError("Invalid block balance for given subtype")
                return self._append(
                    account,
                    subtype="change",
                    balance=balance,
                    link=link,
                    amount=0,
                    counterparty=None,
                    representative=representative,
                    signature=signature,
                    work=None if do_work else work,
                )
            if subtype not in (None, "receive", "open"):
                raise LedgerError("Invalid block balance for given subtype")
            source = self.blocks.get(link)
            if source is None:
                raise LedgerError("Gap source block")
            if self.receivable.get(link) != account:
                raise LedgerError("Unreceivable")
            if balance - current != source.amount:
                raise LedgerError("Balance and amount delta do not match")
            block = self._append(
                account,
                subtype="receive" if state else "open",
                balance=balance,
                link=link,
                amount=source.amount,
                counterparty=source.account,
                representative=representative,
                signature=signature,
                work=None if do_work else work,
            )
            del self.receivable[link]
            return block

    # -- wallets --------------------------------------------------------------

    def wallet_send(
        self, wallet: Wallet, source: str, destination: str, amount: int, send_id: str
    ) -> Block:
        """A wallet send, idempotent by ``send_id`` within the wallet."""
        with self.lock:
            if send_id and send_id in wallet.send_ids:
                return self.blocks[wallet.send_ids[send_id]]
            block = self.send(source, destination, amount)
            if send_id:
                wallet.send_ids[send_id] = block.hash
            return block

    def create_wallet(self, wallet_id: str, seed: str | None = None) -> Wallet:
        with self.lock:
            wallet = Wallet(wallet_id, [], seed=(seed or secrets.token_hex(32)).upper())
            self.wallets[wallet_id] = wallet
            return wallet

    def create_account(self, wallet: Wallet, index: int | None = None) -> str:
        with self.lock:
            if index is None:
                index = wallet.next_index
            wallet.next_index = max(wallet.next_index, index + 1)
            key = hashlib.blake2b(
                bytes.fromhex(wallet.seed) + index.to_bytes(4, "big"), digest_size=32
            ).digest()
            account = account_from_public_key(key)
            if account not in wallet.accounts:
                wallet.accounts.append(account)
            return account
