"""The dashboard socket: a real daphne, Redis channel layer and WebSocket client."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from asgiref.sync import sync_to_async

from integrations.models import IntegrationEndpoint, IntegrationHealthStatus
from testenv.realtime import send_now

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://") + "/testing/dashboard/ws"


async def receive(socket, timeout: float = 10.0) -> dict:
    return json.loads(await asyncio.wait_for(socket.recv(), timeout))


@pytest.fixture
def endpoint(db) -> IntegrationEndpoint:
    endpoint = IntegrationEndpoint.objects.create(
        name="banano-sim", kind="banano", base_url="http://127.0.0.1:8765/banano/"
    )
    IntegrationHealthStatus.objects.create(
        endpoint=endpoint, status="DEGRADED", response_time_ms=812, status_code=200
    )
    return endpoint


async def test_a_logged_in_user_gets_a_snapshot_then_live_events(
    daphne_url, session_cookie, endpoint
):
    async with websockets.connect(
        ws_url(daphne_url),
        origin=daphne_url,
        additional_headers={"Cookie": f"sessionid={session_cookie}"},
    ) as socket:
        snapshot = await receive(socket)
        assert snapshot["type"] == "snapshot"
        tiles = snapshot["data"]["endpoints"]
        assert [(t["name"], t["status"], t["mode"]) for t in tiles] == [
            ("banano-sim", "DEGRADED", "SIMULATED")
        ]
        assert tiles[0]["response_time_ms"] == 812
        assert set(snapshot["data"]) >= {
            "active_session", "recent_results", "open_alerts", "recent_feedback",
        }  # fmt: skip

        # An event sent by another process (here: this test) reaches the socket
        # through the Redis channel layer.
        await sync_to_async(send_now)(
            "health_status_update",
            {"endpoint_id": endpoint.pk, "status": "UNHEALTHY", "response_time_ms": 3},
        )
        event = await receive(socket)
        assert event == {
            "type": "health_status_update",
            "data": {
                "endpoint_id": endpoint.pk,
                "status": "UNHEALTHY",
                "response_time_ms": 3,
            },
        }

        await socket.send(json.dumps({"type": "resync"}))
        assert (await receive(socket))["type"] == "snapshot"


async def test_an_anonymous_socket_is_refused(daphne_url, endpoint):
    # The consumer closes before accepting, which daphne answers with a 403.
    with pytest.raises(websockets.InvalidStatus) as info:
        async with websockets.connect(ws_url(daphne_url), origin=daphne_url):
            pass
    assert info.value.response.status_code == 403


async def test_a_foreign_origin_is_refused(daphne_url, session_cookie):
    with pytest.raises(websockets.InvalidStatus) as info:
        async with websockets.connect(
            ws_url(daphne_url),
            origin="http://evil.example",
            additional_headers={"Cookie": f"sessionid={session_cookie}"},
        ):
            pass
    assert info.value.response.status_code == 403


def test_the_dashboard_page_needs_a_login(client, tester):
    response = client.get("/testing/dashboard")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    client.force_login(tester)
    page = client.get("/testing/dashboard")
    assert page.status_code == 200
    assert "testing/dashboard/ws" in page.content.decode()
