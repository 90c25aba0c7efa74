"""The only caller of the channel layer: dashboard events, sent after commit.

Apps call ``broadcast(event_type, data)`` inside their services; the event leaves
when the surrounding transaction commits, so a browser never sees a row that a
rollback later removed. An app may provide a part of the connect-time
snapshot itself with ``register_snapshot_part`` in its ``AppConfig.ready()``
(see ``testenv.dashboard.build_snapshot``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
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


def send_now(event_type: str, data: Any) -> None:
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown dashboard event type {event_type!r}")
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            DASHBOARD_GROUP,
            {"type": "dashboard.event", "event": {"type": event_type, "data": data}},
        )
    except Exception:
        # A dashboard that cannot be reached must never fail a check or a request.
        logger.warning("dashboard event %s not delivered", event_type, exc_info=True)


def broadcast(event_type: str, data: Any) -> None:
    """Send ``{"type": event_type, "data": data}`` to dashboards after commit."""
    payload = jsonable(data)
    transaction.on_commit(lambda: send_now(event_type, payload))
