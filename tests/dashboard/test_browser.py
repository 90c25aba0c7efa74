"""The dashboard in a real Chromium, against a real daphne (run with -m browser)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect, sync_playwright

from integrations.models import IntegrationEndpoint, IntegrationHealthStatus
from testenv.realtime import send_now


def send_from_another_thread(event_type: str, data: dict) -> None:
    # As a Celery worker would; this thread runs Playwright's event loop.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(send_now, event_type, data).result()


pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def page(daphne_url, session_cookie, monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM calls
    # the test makes in between are still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        context = browser.new_context(base_url=daphne_url)
        context.add_cookies(
            [{"name": "sessionid", "value": session_cookie, "url": daphne_url}]
        )
        page = context.new_page()
        yield page
        browser.close()


def test_tiles_show_the_snapshot_and_change_colour_live(page, db):
    endpoint = IntegrationEndpoint.objects.create(
        name="yunite-sim", kind="yunite", base_url="http://127.0.0.1:8765/yunite/api"
    )
    IntegrationHealthStatus.objects.create(
        endpoint=endpoint, status="HEALTHY", response_time_ms=41, status_code=200
    )
    page.goto("/testing/dashboard")
    expect(page.locator("#connection")).to_have_text("live")
    tile = page.locator(f'[data-endpoint-id="{endpoint.pk}"]')
    expect(tile).to_have_attribute("data-status", "HEALTHY")
    expect(tile).to_contain_text("41 ms")
    expect(tile).to_contain_text("SIMULATED")

    send_from_another_thread(
        "health_status_update",
        {
            "endpoint_id": endpoint.pk,
            "status": "UNHEALTHY",
            "response_time_ms": 5,
            "status_code": 503,
            "checked_at": "2099-01-01T00:00:00Z",
            "error_message": "HTTP 503 from /v3/app",
        },
    )
    expect(tile).to_have_attribute("data-status", "UNHEALTHY")
    expect(tile).to_contain_text("HTTP 503 from /v3/app")
    expect(page.locator("#chart polyline")).to_have_count(1)


def test_the_page_reconnects_and_resyncs_after_the_socket_drops(page, db):
    page.goto("/testing/dashboard")
    expect(page.locator("#connection")).to_have_text("live")
    endpoint = IntegrationEndpoint.objects.create(
        name="discord-sim", kind="discord", base_url="http://127.0.0.1:8765/discord/api"
    )
    # Drop the socket; the page must reconnect by itself and the fresh snapshot
    # must show the endpoint created while it was away.
    page.evaluate("window.TESTENV.socket.close()")
    expect(page.locator(f'[data-endpoint-id="{endpoint.pk}"]')).to_be_visible(
        timeout=15000
    )
    expect(page.locator("#connection")).to_have_text("live")
