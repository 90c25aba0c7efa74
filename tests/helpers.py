"""Small helpers shared by the tests."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the time of asking)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def failed_assertions(outcome) -> list[str]:
    """Names of the failed assertions of a workflow outcome."""
    return [a["name"] for a in outcome.assertions if not a["passed"]]
