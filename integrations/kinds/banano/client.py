"""Client of the Banano node JSON-RPC (PROTOCOLS.md §3).

Every call is a POST of a JSON object with ``action``; numbers travel as decimal
strings. The node reports failures as ``{"error": "<message>"}``, usually with
HTTP 200, so ``call`` looks for the key on every reply instead of trusting the
status code (Pay2Slay's own client does not, and reads an error as a zero
balance).

The methods return the decoded JSON object unchanged; callers validate it with
``integrations.kinds.banano.schemas`` so that a workflow can record a shape
mismatch as an assertion and a probe can report the offending path.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import requests

    from integrations.http import OutboundClient

logger = logging.getLogger(__name__)


class BananoError(Exception):
    """A node call did not produce a usable answer."""

    def __init__(self, action: str, message: str, status_code: int | None) -> None:
        super().__init__(f"banano {action}: {message}")
        self.action = action
        self.message = message
        self.status_code = status_code


class RPCError(BananoError):
    """The node answered ``{"error": message}``: it understood and refused."""


class RPCHTTPError(BananoError):
    """A non-2xx status without a node error (429 from a proxy, 5xx, 404...)."""

    def __init__(
        self,
        action: str,
        message: str,
        status_code: int,
        retry_after: str | None = None,
    ) -> None:
        super().__init__(action, message, status_code)
        self.retry_after = retry_after


class RPCProtocolError(BananoError):
    """A 2xx reply whose body is not a JSON object."""


def _snippet(response: requests.Response, limit: int = 200) -> str:
    text = (response.text or "").strip().replace("\n", " ")
    return text[:limit] + ("…" if len(text) > limit else "")


class NodeRPC:
    """The JSON-RPC transport shared by the node and Pippin-style wallet clients.

    ``path`` is where the RPC listens, relative to the endpoint's base URL
    (``""``: the base URL itself) or absolute. ``retry=False`` makes one attempt
    per call (health checks report a 429 or a 5xx instead of waiting it out).
    """

    service = "banano"

    def __init__(self, http: OutboundClient, path: str = "", *, retry: bool = True):
        self.http = http
        self.path = path
        self.retry = retry
        self.last_status_code: int | None = None

    def call(self, action: str, **params: Any) -> dict[str, Any]:
        """POST ``{"action": action, **params}`` and return the JSON object.

        Raises ``RPCError`` for ``{"error": ...}`` (whatever the HTTP status,
        except 429 and 5xx, which are the transport's problem and raise
        ``RPCHTTPError``), ``RPCHTTPError`` for other non-2xx replies and
        ``RPCProtocolError`` for a body that is not a JSON object. Transport
        failures surface as ``integrations.http.OutboundError`` subclasses.
        """
        body = {"action": action}
        body.update({key: value for key, value in params.items() if value is not None})
        self.last_status_code = None
        # Every action sent here is safe to repeat: reads, and ``send`` with its
        # unique ``id`` (the node answers a repeat with the same block). That
        # lets the outbound layer retry 5xx and dropped connections on a POST.
        response = self.http.request(
            "POST",
            self.path,
            json=body,
            label=f"{self.service}.{action}",
            idempotent=True,
            retry=self.retry,
        )
        status = response.status_code
        self.last_status_code = status
        try:
            data = response.json()
        except ValueError:
            data = None
        if status == 429 or status >= 500:
            raise RPCHTTPError(
                action,
                f"HTTP {status}: {_snippet(response)}",
                status,
                retry_after=response.headers.get("Retry-After"),
            )
        if isinstance(data, dict) and "error" in data:
            raise RPCError(action, str(data["error"]), status)
        if not 200 <= status < 300:
            raise RPCHTTPError(action, f"HTTP {status}: {_snippet(response)}", status)
        if not isinstance(data, dict):
            raise RPCProtocolError(
                action, f"reply is not a JSON object: {_snippet(response)}", status
            )
        return data


def _count(value: int | str) -> str:
    return str(int(value))


class BananoClient(NodeRPC):
    """Read calls, the node-wallet ``send`` and ``block_info`` of a Banano node."""

    service = "banano"

    def version(self) -> dict[str, Any]:
        return self.call("version")

    def block_count(self) -> dict[str, Any]:
        return self.call("block_count")

    def account_balance(self, account: str) -> dict[str, Any]:
        return self.call("account_balance", account=account)

    def account_info(self, account: str, *, representative: bool = True) -> dict:
        return self.call(
            "account_info",
            account=account,
            representative="true" if representative else None,
        )

    def account_history(self, account: str, count: int | str = 10) -> dict[str, Any]:
        return self.call("account_history", account=account, count=_count(count))

    def receivable(
        self, account: str, count: int | str = 100, source: bool = True
    ) -> dict[str, Any]:
        return self.call(
            "receivable",
            account=account,
            count=_count(count),
            source="true" if source else None,
        )

    def send(
        self,
        wallet: str,
        source: str,
        destination: str,
        amount_raw: int,
        id: str,  # the RPC's own field name
    ) -> dict[str, Any]:
        """Wallet RPC ``send`` (needs ``enable_control``); idempotent by ``id``.

        After a timeout the outcome is unknown: repeat with the same ``id`` to
        learn it without paying twice.
        """
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

    def block_info(self, block_hash: str) -> dict[str, Any]:
        return self.call("block_info", hash=block_hash, json_block="true")
