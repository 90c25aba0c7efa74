"""Banano node health check (PROTOCOLS.md §3 "Health check").

Three calls, in order; the first that fails decides the status:

1. ``version``: no ``error`` and ``network`` equal to ``settings.expected_network``
   (a node on the wrong network is a configuration failure: UNHEALTHY).
2. ``block_count``: DEGRADED when ``cemented / count`` < ``min_sync_ratio``
   (0.99) or ``unchecked`` > ``max_unchecked`` (the node is out of sync).
3. the operator's ``account_balance`` (when ``operator_account`` is set): DEGRADED
   below ``min_balance_ban`` (50 BAN), because Pay2Slay's settlement then skips.

HEALTHY   all three passed.
DEGRADED  out of sync, low operator balance, or a 429 from a proxy in front.
UNHEALTHY a node ``{"error"}``, 5xx or other non-2xx, a refused connection, a
          body that breaks the schema (the message names the path), a wrong
          network, or an invalid ``operator_account`` setting.
TIMEOUT   no answer in time. A cold node accepts connections long before it
          answers, so a timeout on the first call sets
          ``metadata["cold_start_suspected"]``; the monitoring layer turns
          TIMEOUTs inside ``startup_grace_seconds`` into DEGRADED.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar

from django.utils import timezone
from pydantic import BaseModel, ValidationError

from integrations.http import OutboundError, OutboundTimeout
from integrations.kinds.banano.client import (
    BananoClient,
    BananoError,
    RPCError,
    RPCHTTPError,
)
from integrations.kinds.banano.schemas import (
    AccountBalanceResponse,
    BlockCountResponse,
    VersionResponse,
    validation_message,
    validation_path,
)
from integrations.kinds.base import (
    DEGRADED,
    HEALTHY,
    TIMEOUT,
    UNHEALTHY,
    Probe,
    ProbeResult,
    register_probe,
)
from integrations.simulators.banano_codec import (
    InvalidAmountError,
    ban_to_raw,
    format_ban,
    is_valid_account,
)

M = TypeVar("M", bound=BaseModel)

DEFAULT_EXPECTED_NETWORK = "live"
DEFAULT_MIN_BALANCE_BAN = 50
DEFAULT_MIN_SYNC_RATIO = Decimal("0.99")
DEFAULT_MAX_UNCHECKED = 10_000


class ShapeError(Exception):
    """A reply broke its schema; ``path`` names the first offending field."""

    def __init__(self, what: str, error: ValidationError) -> None:
        self.what = what
        self.path = validation_path(error)
        super().__init__(f"response format of {what}: {validation_message(error)}")


class SettingError(Exception):
    """The endpoint's settings cannot be used (a configuration failure)."""


def parse_shape(what: str, schema: type[M], data: Any) -> M:
    try:
        return schema.model_validate(data)
    except ValidationError as error:
        raise ShapeError(what, error) from error


def min_balance_raw(settings: dict[str, Any], key: str = "min_balance_ban") -> int:
    """``settings[key]`` in BAN (number or decimal string) as raw, default 50 BAN."""
    value = settings.get(key, DEFAULT_MIN_BALANCE_BAN)
    if isinstance(value, float):
        value = repr(value)  # the digits as written in the settings JSON
    try:
        return ban_to_raw(value)
    except (InvalidAmountError, TypeError) as exc:
        raise SettingError(f"settings.{key} is not a BAN amount: {value!r}") from exc


def operator_account_setting(settings: dict[str, Any]) -> str | None:
    account = settings.get("operator_account") or None
    if account is not None and not is_valid_account(account):
        raise SettingError(
            f"settings.operator_account is not a valid ban_ address: {account!r}"
        )
    return account


class ProbeRun:
    """Times a check and turns what went wrong into a ``ProbeResult``.

    Shared by the banano and wallet probes: both speak the node's JSON-RPC and
    classify failures the same way (PROTOCOLS.md §7).
    """

    def __init__(self, endpoint: Any, rpc: Any) -> None:
        self.endpoint = endpoint
        self.rpc = rpc
        self.started = time.monotonic()
        self.metadata: dict[str, Any] = {}
        self.step = ""
        self.steps_answered = 0

    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)

    def result(self, status: str, message: str = "") -> ProbeResult:
        self.metadata.setdefault("step", self.step)
        return ProbeResult(
            status,
            self.elapsed_ms(),
            self.rpc.last_status_code,
            message,
            self.metadata,
        )

    def call(self, step: str, fn: Callable[[], Any]) -> Any:
        self.step = step
        data = fn()
        self.steps_answered += 1
        return data

    def within_startup_grace(self) -> bool:
        grace = getattr(self.endpoint, "startup_grace_seconds", 0) or 0
        came_up = getattr(self.endpoint, "came_up_at", None)
        if not grace:
            return False
        if came_up is None:
            return True
        return timezone.now() - came_up <= timedelta(seconds=grace)

    def failure(self, exc: Exception) -> ProbeResult:
        """Classify an exception raised by a step."""
        step = self.step
        if isinstance(exc, OutboundTimeout):
            # Nothing answered during this check: what a node still loading its
            # ledger looks like (it accepts the connection, then says nothing).
            self.metadata["cold_start_suspected"] = self.steps_answered == 0
            self.metadata["within_startup_grace"] = self.within_startup_grace()
            return self.result(TIMEOUT, f"{step}: no answer in time ({exc})")
        if isinstance(exc, RPCHTTPError):
            if exc.status_code == 429:
                self.metadata["retry_after"] = exc.retry_after
                return self.result(DEGRADED, f"{step}: rate limited (429)")
            return self.result(UNHEALTHY, f"{step}: {exc.message}")
        if isinstance(exc, RPCError):
            self.metadata["rpc_error"] = exc.message
            return self.result(UNHEALTHY, f"{step}: node error {exc.message!r}")
        if isinstance(exc, BananoError):
            return self.result(UNHEALTHY, f"{step}: {exc.message}")
        if isinstance(exc, ShapeError):
            self.metadata["invalid_path"] = exc.path
            return self.result(UNHEALTHY, f"{step}: {exc}")
        if isinstance(exc, SettingError):
            return self.result(UNHEALTHY, str(exc))
        if isinstance(exc, OutboundError):
            return self.result(UNHEALTHY, f"{step}: {exc}")
        raise exc


def sync_problem(counts: BlockCountResponse, settings: dict[str, Any]) -> str:
    """Why the node looks out of sync, or "" when it does not."""
    ratio_floor = Decimal(str(settings.get("min_sync_ratio", DEFAULT_MIN_SYNC_RATIO)))
    max_unchecked = int(settings.get("max_unchecked", DEFAULT_MAX_UNCHECKED))
    problems = []
    if counts.cemented is not None and counts.count > 0:
        ratio = Decimal(counts.cemented) / Decimal(counts.count)
        if ratio < ratio_floor:
            problems.append(
                f"cemented/count {ratio:.4f} is below {ratio_floor} "
                f"({counts.cemented}/{counts.count})"
            )
    if counts.unchecked > max_unchecked:
        problems.append(f"{counts.unchecked} unchecked blocks (> {max_unchecked})")
    return "; ".join(problems)


@register_probe
class BananoProbe(Probe):
    kind = "banano"

    def check(self) -> ProbeResult:
        settings = self.endpoint.settings or {}
        client = BananoClient(self.http, retry=False)
        run = ProbeRun(self.endpoint, client)
        try:
            return self._check(run, client, settings)
        except Exception as exc:  # classified, or re-raised when it is our bug
            return run.failure(exc)

    def _check(
        self, run: ProbeRun, client: BananoClient, settings: dict[str, Any]
    ) -> ProbeResult:
        meta = run.metadata
        expected_network = settings.get("expected_network", DEFAULT_EXPECTED_NETWORK)
        operator = operator_account_setting(settings)
        minimum = min_balance_raw(settings)

        version = parse_shape(
            "version", VersionResponse, run.call("version", client.version)
        )
        meta.update(
            network=version.network,
            node_vendor=version.node_vendor,
            protocol_version=version.protocol_version,
        )
        if expected_network and version.network != expected_network:
            return run.result(
                UNHEALTHY,
                f"version: node is on network {version.network!r}, "
                f"expected {expected_network!r}",
            )

        counts = parse_shape(
            "block_count",
            BlockCountResponse,
            run.call("block_count", client.block_count),
        )
        meta.update(
            block_count=str(counts.count),
            cemented=None if counts.cemented is None else str(counts.cemented),
            unchecked=str(counts.unchecked),
        )
        warnings = []
        problem = sync_problem(counts, settings)
        if problem:
            meta["out_of_sync"] = True
            warnings.append(f"node out of sync: {problem}")

        if operator:
            balance = parse_shape(
                "account_balance",
                AccountBalanceResponse,
                run.call("account_balance", lambda: client.account_balance(operator)),
            )
            # Raw amounts are kept as strings: JSON readers lose digits past 2**53.
            meta.update(
                operator_account=operator,
                operator_balance_raw=str(balance.balance),
                operator_balance_ban=format_ban(balance.balance),
                operator_receivable_raw=str(balance.receivable_raw),
                min_balance_ban=format_ban(minimum),
            )
            if balance.balance < minimum:
                meta["low_balance"] = True
                warnings.append(
                    f"operator balance {format_ban(balance.balance)} BAN is below "
                    f"{format_ban(minimum)} BAN: Pay2Slay settlement would skip"
                )
        else:
            meta["operator_balance_checked"] = False
        run.step = "done"
        if warnings:
            return run.result(DEGRADED, "; ".join(warnings))
        return run.result(HEALTHY)
