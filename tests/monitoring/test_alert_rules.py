"""The alert rules on their own: hysteresis, flapping, latency baselines."""

from __future__ import annotations

from integrations.alerts import Observation, evaluate, new_state
from integrations.models import IntegrationEndpoint


def endpoint(**fields) -> IntegrationEndpoint:
    return IntegrationEndpoint(
        name="rules", kind="http", base_url="http://127.0.0.1:9/", **fields
    )


def ok(ms: int = 50, session_id=None) -> Observation:
    return Observation(
        status="HEALTHY", raw_status="HEALTHY", status_code=200, latency_ms=ms,
        session_id=session_id,
    )  # fmt: skip


def down(session_id=None) -> Observation:
    return Observation(
        status="UNHEALTHY", raw_status="UNHEALTHY", error_message="refused",
        session_id=session_id,
    )  # fmt: skip


class Run:
    """Feeds observations and applies the decisions to a fake set of open alerts."""

    def __init__(self, **fields) -> None:
        self.endpoint = endpoint(**fields)
        self.state = new_state(self.endpoint)
        self.open: dict[str, dict] = {}
        self.log: list[tuple[int, str, str]] = []
        self.step = 0
        self.last = None

    def feed(self, *observations: Observation) -> Run:
        for obs in observations:
            self.step += 1
            self.last = evaluate(self.state, obs, self.endpoint, self.open)
            for action in self.last.actions:
                self.log.append((self.step, action.op, action.kind))
                if action.op == "open":
                    self.open[action.kind] = {"id": self.step, "flap": action.flapping}
                elif action.op == "resolve":
                    self.open.pop(action.kind, None)
                elif action.op == "flap":
                    self.open[action.kind]["flap"] = True
        return self

    def ops(self, kind: str = "DOWN") -> list[tuple[int, str]]:
        return [(step, op) for step, op, k in self.log if k == kind]


def test_down_opens_after_two_failures_and_resolves_after_two_successes():
    run = Run().feed(ok(), ok(), down())
    assert run.ops() == []
    run.feed(down())
    assert run.ops() == [(4, "open")]
    run.feed(down(), ok())
    assert run.ops() == [(4, "open")]
    run.feed(ok())
    assert run.ops() == [(4, "open"), (7, "resolve")]


def test_thresholds_are_per_endpoint():
    run = Run(failure_threshold=3, recovery_threshold=1)
    run.feed(down(), down())
    assert run.ops() == []
    run.feed(down(), ok())
    assert run.ops() == [(3, "open"), (4, "resolve")]


def test_a_single_failure_between_successes_opens_nothing():
    run = Run().feed(ok(), down(), ok(), ok(), down(), ok())
    assert run.ops() == []


def test_a_check_failing_every_other_time_opens_one_flapping_alert_that_stays_open():
    run = Run().feed(*[down() if i % 2 else ok() for i in range(30)])
    assert run.ops() == [(6, "open")]
    assert run.open["DOWN"]["flap"] is True


def test_a_flapping_alert_resolves_only_after_a_stable_run_of_successes():
    run = Run().feed(*[down() if i % 2 else ok() for i in range(12)])
    run.feed(*[ok()] * 9)
    assert [op for _, op in run.ops()] == ["open"]
    run.feed(ok())
    assert [op for _, op in run.ops()] == ["open", "resolve"]


def test_bursts_of_failures_become_flapping_before_a_second_alert():
    # 3 good, 3 bad, repeated: the first burst opens, and once the bursts
    # repeat the alert is kept open instead of resolving and reopening.
    pattern = ([ok()] * 3 + [down()] * 3) * 6
    run = Run().feed(*pattern)
    opens = [step for step, op in run.ops() if op == "open"]
    resolves = [step for step, op in run.ops() if op == "resolve"]
    assert len(opens) <= 2 and len(resolves) <= 1
    assert "DOWN" in run.open


def test_rate_limited_checks_open_a_rate_limited_alert_not_a_down_one():
    limited = Observation(
        status="DEGRADED", raw_status="DEGRADED", status_code=429, rate_limited=True
    )
    run = Run().feed(limited, limited)
    assert run.ops("RATE_LIMITED") == [(2, "open")]
    assert run.ops("DOWN") == []
    run.feed(ok(), ok())
    assert run.ops("RATE_LIMITED")[-1] == (4, "resolve")


def test_the_baseline_is_learned_from_the_first_window_median():
    run = Run().feed(*[ok(ms) for ms in [40, 50, 60, 50, 45, 55, 50, 52, 48, 50]])
    assert run.state["baseline"] == 50


def test_latency_four_times_the_baseline_opens_a_latency_alert():
    run = Run().feed(*[ok(50)] * 20)
    run.feed(*[ok(200)] * 3)
    # The second slow check lifts the p95 (rank 19 of 20), the third confirms.
    assert run.ops("LATENCY") == [(23, "open")]
    assert run.last.p95_ms == 200 and run.last.baseline_ms < 60


def test_latency_twice_the_baseline_opens_nothing_and_becomes_the_new_normal():
    run = Run().feed(*[ok(50)] * 20)
    run.feed(*[ok(100)] * 40)
    assert run.ops("LATENCY") == []
    assert run.state["baseline"] > 85


def test_the_baseline_does_not_learn_a_slowdown_while_it_is_reported():
    run = Run().feed(*[ok(50)] * 20)
    run.feed(*[ok(200)] * 40)
    assert run.state["baseline"] < 60
    assert "LATENCY" in run.open


def test_a_latency_alert_resolves_when_the_window_is_fast_again():
    run = Run().feed(*[ok(50)] * 20, *[ok(200)] * 4)
    run.feed(*[ok(50)] * 25)
    assert [op for _, op in run.ops("LATENCY")] == ["open", "resolve"]


def test_a_tiny_baseline_needs_a_real_slowdown_before_it_alerts():
    # 2 ms -> 8 ms is 4x but only 6 ms: under the absolute floor (20 ms).
    run = Run().feed(*[ok(2)] * 20, *[ok(8)] * 10)
    assert run.ops("LATENCY") == []


def test_one_slow_spike_never_opens_a_latency_alert():
    run = Run().feed(*[ok(50)] * 10, ok(900), *[ok(50)] * 30)
    assert run.ops("LATENCY") == []


def test_the_session_streak_counts_failures_during_active_sessions_only():
    run = Run().feed(down(), down())
    assert run.last.session_streak == 0
    run.feed(down("s1"), down("s1"), down("s1"))
    assert run.last.session_streak == 3
    run.feed(ok("s1"))
    assert run.last.session_streak == 0
