"""The live dashboard socket."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from testenv.dashboard import build_snapshot
from testenv.realtime import DASHBOARD_GROUP, jsonable


class DashboardConsumer(AsyncJsonWebsocketConsumer):
    """Sends a snapshot on connect (and on ``{"type": "resync"}``), then every
    dashboard event as it happens. Anonymous users are refused (close 4401)."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        # Join before building the snapshot: an event that lands in between is
        # sent twice rather than lost, and the page applies events idempotently.
        await self.channel_layer.group_add(DASHBOARD_GROUP, self.channel_name)
        await self.accept()
        await self.send_snapshot()

    async def send_snapshot(self) -> None:
        snapshot = await database_sync_to_async(build_snapshot)(self.scope["user"])
        await self.send_json({"type": "snapshot", "data": jsonable(snapshot)})

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(DASHBOARD_GROUP, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "resync":
            await self.send_snapshot()

    async def dashboard_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])
