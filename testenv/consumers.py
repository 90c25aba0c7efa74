"""The live dashboard socket."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from testenv.realtime import DASHBOARD_GROUP, _jsonable, build_snapshot


class DashboardConsumer(AsyncJsonWebsocketConsumer):
    """Sends a snapshot on connect, then every dashboard event as it happens."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        await self.channel_layer.group_add(DASHBOARD_GROUP, self.channel_name)
        await self.accept()
        snapshot = await database_sync_to_async(build_snapshot)()
        await self.send_json({"type": "snapshot", "data": _jsonable(snapshot)})

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(DASHBOARD_GROUP, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "resync":
            snapshot = await database_sync_to_async(build_snapshot)()
            await self.send_json({"type": "snapshot", "data": _jsonable(snapshot)})

    async def dashboard_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])
