"""A tester's whole journey in a real browser: start a session, run a workflow,
report feedback with a screenshot, and watch the GitHub issue number arrive.

Real daphne, a real Celery worker, real Redis, the simulators over real sockets
and Debian's Chromium (run with -m browser)."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from feedback.models import FeedbackReport
from integrations.seed import seed
from integrations.simulators import fixtures as fx
from integrations.simulators.server import SimulatorServer
from sessions.models import TestResult
from tests.dashboard.conftest import start_daphne
from tests.dashboard.test_browser import CHROMIUM_ARGS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

# A 1×1 PNG: the upload allowlist judges files by their content.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.fixture
def stack(subprocess_env, processes, tmp_path):
    simulator = SimulatorServer().start()
    seed(simulator.url)
    env = dict(subprocess_env)
    env.update(
        GITHUB_API_URL=f"{simulator.url}/github",
        GITHUB_TOKEN=fx.GITHUB_TOKEN,
        GITHUB_REPO=fx.GITHUB_REPO,
        GITHUB_WEBHOOK_SECRET=fx.GITHUB_WEBHOOK_SECRET,
        TESTENV_MEDIA_ROOT=str(tmp_path / "media"),
    )
    url = start_daphne(processes, env)
    processes.start(
        [str(Path(sys.executable).parent / "celery"), "-A", "testenv", "worker",
         "--pool", "threads", "--concurrency", "4", "-l", "warning"],
        env,
    )  # fmt: skip
    yield url
    simulator.stop()


def test_a_tester_runs_a_workflow_and_files_feedback_that_becomes_an_issue(
    stack, session_cookie, tester, tmp_path, monkeypatch
):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    screenshot = tmp_path / "lookup.png"
    screenshot.write_bytes(PNG)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        context = browser.new_context(base_url=stack)
        context.add_cookies(
            [{"name": "sessionid", "value": session_cookie, "url": stack}]
        )
        page = context.new_page()
        page.goto("/testing/dashboard")
        expect(page.locator("#connection")).to_have_text("live")
        expect(page.locator("#run-workflow")).to_be_hidden()

        page.fill("#start-session input[name=name]", "Release smoke")
        page.click("#start-session button")
        expect(page.get_by_test_id("session-status")).to_have_text("ACTIVE")

        # First another workflow, so that the endpoint list must change with it.
        page.select_option("#workflow-select", "admin_user_creation")
        page.select_option("#workflow-select", "yunite_user_lookup")
        expect(page.locator("#endpoint-select")).to_contain_text("Yunite (simulated)")
        page.click("#run-workflow button")
        expect(page.locator("#session-message")).to_contain_text(
            "yunite_user_lookup: PASSED", timeout=20000
        )
        result = page.locator("#results li").first
        expect(result).to_contain_text("PASSED", timeout=20000)
        expect(result).to_contain_text("yunite_user_lookup")
        expect(result).to_contain_text("SIMULATED")

        page.fill("#feedback-form input[name=title]", "Lookup took three seconds")
        page.fill("#feedback-form textarea[name=description]", "Slow but correct.")
        page.select_option("#feedback-form select[name=category]", "PERFORMANCE")
        page.set_input_files("#feedback-form input[name=files]", str(screenshot))
        page.click("#feedback-form button")
        expect(page.locator("#feedback-message")).to_contain_text("feedback stored")
        item = page.locator("#feedback li").first
        expect(item).to_contain_text("Lookup took three seconds")
        # The worker files the issue; the socket brings the number to the page.
        expect(item).to_contain_text("SYNCED", timeout=30000)
        expect(item.locator("a")).to_have_text("#3")
        browser.close()

    assert TestResult.objects.get().status == "PASSED"
    report = FeedbackReport.objects.get()
    assert report.github_issue_number == 3
    assert report.attachments.get().content_type == "image/png"
