"""The only caller of the channel layer: dashboard events, sent after commit.

Apps call ``broadcast(event_type, data)`` inside their services; the event leaves
when the surrounding transaction commits, so a browser never sees a row that a
rollback later removed. An app may provide a part of the connect-time
snapshot itself with ``register_snapshot_part`` in its ``AppConfig.ready()``
(see ``testenv.dashboard.build_snapshot``).
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, wait
from typing import Any

from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

logger = logging.getLogger(__name__)

DASHBOARD_GROUP = "dashboard"
EVENT_TYPES = frozenset(
    {
        "health_status_update",
        "test_result",
        "session_updated",
        "feedback_submitted",
        "feedback_synced",
        "alert_opened",
        "alert_resolved",
    }
)


_snapshot_parts: dict[str, Callable[[], Any]] = {}


def register_snapshot_part(name: str, build: Callable[[], Any]) -> None:
    """Let an app build the snapshot part ``name`` (it replaces the default)."""
    _snapshot_parts[name] = build


def snapshot_parts() -> dict[str, Callable[[], Any]]:
    return dict(_snapshot_parts)


def jsonable(data: Any) -> Any:
    """``data`` with dates, UUIDs and decimals turned into JSON values."""
    import json

    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


class _Sender:
    """One event loop thread per process that sends to the channel layer.

    ``async_to_sync`` would start a thread, a loop and a Redis connection for
    every event (2-4 ms of CPU each, paid by every health check); this loop and
    its connection live as long as the process. Sends are fire-and-forget; the
    pending ones are awaited briefly at exit.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid: int | None = None
        self._pending: set[Future] = set()

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            # A forked child inherits the object but not the thread.
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                threading.Thread(
                    target=loop.run_forever, name="dashboard-events", daemon=True
                ).start()
                self._loop, self._pid = loop, os.getpid()
                self._pending = set()
            return self._loop

    def submit(self, coroutine) -> Future:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop())
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future) -> None:
        with self._lock:
            self._pending.discard(future)
        if not future.cancelled() and future.exception() is not None:
            # A dashboard that cannot be reached must never fail a check.
            logger.warning(
                "dashboard event not delivered: %s", future.exception(), exc_info=False
            )

    def flush(self, timeout: float = 2.0) -> None:
        with self._lock:
            pending = list(self._pending)
        if pending:
            wait(pending, timeout=timeout)


_sender = _Sender()
atexit.register(_sender.flush)


def send_now(event_type: str, data: Any, *, wait_seconds: float | None = None) -> None:
    """Send an event to every dashboard now (no transaction involved).

    Returns at once; ``wait_seconds`` waits for the send (tests, scripts).
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown dashboard event type {event_type!r}")
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "dashboard.event", "event": {"type": event_type, "data": data}}
    future = _sender.submit(layer.group_send(DASHBOARD_GROUP, message))
    if wait_seconds is not None:
        try:
            future.result(timeout=wait_seconds)
        except Exception:
            logger.warning(
                "dashboard event %s not delivered", event_type, exc_info=True
            )


def flush_events(timeout: float = 2.0) -> None:
    """Wait for the events sent so far to leave (before a process exits)."""
    _sender.flush(timeout)


def broadcast(event_type: str, data: Any) -> None:
    """Send ``{"type": event_type, "data": data}`` to dashboards after commit."""
    payload = jsonable(data)
    transaction.on_commit(lambda: send_now(event_type, payload))
