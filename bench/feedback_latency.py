"""Scenario 1: feedback submission latency while GitHub hangs.

daphne, a Celery worker and the simulators run as separate processes, with
testenv's GitHub settings pointing at the GitHub simulator and its ``hang``
fault on: every issue the worker tries to create hangs until PyGithub's
timeout. A client sends ``POST /testing/feedback`` (JSON, DRF token) and the
baseline ``GET /healthz`` in turn over one keep-alive connection; the row
reports the p95 of each. The scenario also checks that the GitHub simulator
did receive (and hold) the worker's calls during the run, which is what makes
"GitHub latency is not in the path" a measurement rather than an assumption.
"""

from __future__ import annotations

import time

import requests

from bench.common import (
    HttpClient,
    Probe,
    Row,
    Target,
    describe,
    log,
    measure_interleaved,
    percentile,
)
from bench.fixtures import api_token, tester
from bench.stack import (
    Context,
    simulator_faults,
    start_simulators,
    start_web,
    start_worker,
    wait_simulators,
    wait_web,
    wait_worker,
)

SCENARIO = "1 feedback"


def run(ctx: Context) -> list[Row]:
    from feedback.models import FeedbackReport
    from integrations.simulators import fixtures as fx

    rounds = 30 if ctx.quick else 300
    sim = start_simulators(ctx)
    env = {
        **ctx.env,
        "SIMULATOR_URL": sim,
        "GITHUB_API_URL": f"{sim}/github",
        "GITHUB_TOKEN": fx.GITHUB_TOKEN,
        "GITHUB_REPO": fx.GITHUB_REPO,
        "GITHUB_WEBHOOK_SECRET": fx.GITHUB_WEBHOOK_SECRET,
    }
    started = time.monotonic()
    web = start_web(ctx, env)
    node = start_worker(ctx, env)
    token = api_token(tester())
    wait_simulators(ctx, sim)
    simulator_faults(sim, "github", hang=True)
    wait_web(ctx, web)
    wait_worker(ctx, node)
    log(f"daphne, worker and simulators up after {time.monotonic() - started:.1f} s")

    client = HttpClient(
        web, {"Authorization": f"Token {token}", "Accept": "application/json"}
    )

    def feedback(index: int):
        return (
            "POST",
            "/testing/feedback",
            {
                "title": f"Benchmark report {index}",
                "description": "The payout button answers slowly after a "
                "Discord login; steps, expected and actual result follow.",
                "category": "PERFORMANCE",
                "priority": "LOW",
                "metadata": {"browser": "bench", "round": index},
            },
        )

    log(f"{rounds} x POST /testing/feedback and GET /healthz, taking turns")
    samples = measure_interleaved(
        client,
        [
            Probe("healthz", lambda i: ("GET", "/healthz", None)),
            Probe("feedback", feedback, expect=201),
        ],
        rounds,
    )
    client.close()

    # The worker picks the sync tasks up at once; give it a moment to reach
    # GitHub, then read what the simulator saw.
    seen = 0
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        seen = requests.get(f"{sim}/_control/github", timeout=5).json()["requests_seen"]
        if seen:
            break
        time.sleep(0.2)
    # Let the hanging calls go, so that the worker can stop at once.
    simulator_faults(sim, "github", hang=False)
    reports = FeedbackReport.objects.count()
    pending = FeedbackReport.objects.filter(
        sync_state=FeedbackReport.SyncState.PENDING, github_issue_number__isnull=True
    ).count()
    ctx.info.update(
        reports=reports,
        github_requests_seen=seen,
        reports_pending=pending,
        feedback_ms=describe(samples["feedback"]),
        healthz_ms=describe(samples["healthz"]),
    )
    notes = (
        f"{reports} reports stored; the GitHub simulator received {seen} "
        f"request(s) from the worker meanwhile and answered none (hang); "
        f"{pending} reports still PENDING"
    )
    if not seen:
        notes += " (warning: the worker never reached GitHub during the run)"
    return [
        Row.make(
            SCENARIO,
            "POST /testing/feedback p95, GitHub hanging",
            percentile(samples["feedback"], 95),
            "ms",
            Target("<", 100, "ms"),
            percentile(samples["healthz"], 95),
            "GET /healthz p95 on the same daphne, the two requests taking turns",
            notes,
            p50=percentile(samples["feedback"], 50),
            p99=percentile(samples["feedback"], 99),
            baseline_p50=percentile(samples["healthz"], 50),
            samples=len(samples["feedback"]),
        )
    ]
