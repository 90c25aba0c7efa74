"""WebSocket routes."""

from __future__ import annotations

from django.urls import path

from testenv.consumers import DashboardConsumer

websocket_urlpatterns = [
    path("testing/dashboard/ws", DashboardConsumer.as_asgi()),
]
