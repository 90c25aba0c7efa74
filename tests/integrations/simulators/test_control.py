"""The server framework and the fault-injection control API."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from integrations.simulators import fixtures as fx
from integrations.simulators.server import SimulatorServer
from tests.integrations.simulators.conftest import requests_seen, set_faults

SERVICES = ("yunite", "discord", "banano", "wallet", "admin", "github", "http")


def test_it_listens_on_a_free_port_and_stops_cleanly() -> None:
    with SimulatorServer(port=0) as server:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert requests.get(f"{server.url}/http/status", timeout=5).json() == {
            "status": "ok"
        }
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/http/status", timeout=2)


def test_the_overview_lists_every_service_with_its_base_url(sim, http) -> None:
    state = http.get(f"{sim.url}/_control").json()
    assert set(state["services"]) == set(SERVICES)
    assert state["services"]["yunite"]["base_url"] == f"{sim.url}/yunite/api"
    assert state["services"]["discord"]["base_url"] == f"{sim.url}/discord/api"
    assert state["services"]["banano"]["base_url"] == f"{sim.url}/banano/"
    assert state["services"]["wallet"]["base_url"] == f"{sim.url}/wallet/"
    assert state["services"]["admin"]["base_url"] == f"{sim.url}/p2s"
    assert state["services"]["github"]["base_url"] == f"{sim.url}/github"
    assert state["services"]["http"]["base_url"] == f"{sim.url}/http"


def test_unknown_services_faults_and_values_are_refused(sim, http) -> None:
    assert http.get(f"{sim.url}/_control/nope").status_code == 404
    bad_key = http.post(f"{sim.url}/_control/http/faults", json={"lateness": 1})
    assert bad_key.status_code == 400
    assert "unknown fault" in bad_key.json()["error"]
    bad_value = http.post(f"{sim.url}/_control/http/faults", json={"error_rate": 2})
    assert bad_value.status_code == 400
    assert http.post(f"{sim.url}/_control/http/faults", data="[").status_code == 400
    assert http.get(f"{sim.url}/nowhere").status_code == 404


def test_faults_merge_and_null_removes_one(sim) -> None:
    set_faults(sim, "http", latency_ms=5, error_status=503)
    faults = set_faults(sim, "http", error_rate=0.5, latency_ms=None)
    assert faults == {"error_status": 503, "error_rate": 0.5}


def test_latency_slows_only_the_faulted_service(sim, http) -> None:
    set_faults(sim, "http", latency_ms=400)
    started = time.monotonic()
    assert http.get(f"{sim.url}/http/status").status_code == 200
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    http.post(f"{sim.url}/banano/", json={"action": "version"})
    assert time.monotonic() - started < 0.3


def test_a_hanging_request_never_delays_other_requests(sim) -> None:
    set_faults(sim, "http", hang=True)
    outcomes: list[str] = []

    def hang() -> None:
        try:
            requests.get(f"{sim.url}/http/status", timeout=1.5)
            outcomes.append("answered")
        except requests.ReadTimeout:
            outcomes.append("timed out")

    threads = [threading.Thread(target=hang) for _ in range(2)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    quick = time.monotonic()
    reply = requests.post(f"{sim.url}/banano/", json={"action": "version"}, timeout=2)
    assert reply.json()["network"] == "live"
    assert requests.get(f"{sim.url}/_control/http", timeout=2).status_code == 200
    assert time.monotonic() - quick < 0.5
    for thread in threads:
        thread.join()
    # Both hung requests waited side by side, not one after the other.
    assert outcomes == ["timed out", "timed out"]
    assert time.monotonic() - started < 2.8
    set_faults(sim, "http", hang=False)
    assert requests.get(f"{sim.url}/http/status", timeout=2).status_code == 200


def test_an_outage_closes_the_connection_without_an_answer(sim, http) -> None:
    set_faults(sim, "yunite", outage=True)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{sim.url}/yunite/api/v3/app", timeout=2)
    log = http.get(f"{sim.url}/_control/yunite/requests").json()
    assert log["requests"][-1]["outcome"] == "dropped"


def test_flap_every_alternates_healthy_and_outage(sim) -> None:
    set_faults(sim, "http", flap_every=2)
    results = []
    for _ in range(6):
        try:
            requests.get(f"{sim.url}/http/status", timeout=2)
            results.append("up")
        except requests.ConnectionError:
            results.append("down")
    assert results == ["up", "up", "down", "down", "up", "up"]


def test_error_rate_one_answers_every_request_with_the_error_status(sim, http) -> None:
    set_faults(sim, "github", error_rate=1.0, error_status=503)
    reply = http.get(f"{sim.url}/github/rate_limit")
    assert reply.status_code == 503
    assert reply.json()["message"] == "Service Unavailable"


def test_error_rate_half_fails_some_and_passes_some(sim, http) -> None:
    set_faults(sim, "http", error_rate=0.5)
    codes = {http.get(f"{sim.url}/http/status").status_code for _ in range(60)}
    assert codes == {200, 500}


@pytest.mark.parametrize(
    ("service", "method", "path", "body", "expected"),
    [
        ("yunite", "GET", "/yunite/api/v3/app", None, {"error", "message"}),
        ("discord", "GET", "/discord/api/users/@me", None, {"message", "code"}),
        ("banano", "POST", "/banano/", {"action": "version"}, {"error"}),
        ("wallet", "POST", "/wallet/", {"action": "version"}, {"error"}),
        ("admin", "GET", "/p2s/healthz", None, {"detail"}),
        (
            "github",
            "GET",
            "/github/user",
            None,
            {"message", "documentation_url", "status"},
        ),
        ("http", "GET", "/http/status", None, {"status", "error"}),
    ],
)
def test_forced_status_answers_in_each_services_own_error_shape(
    sim, http, service, method, path, body, expected
) -> None:
    set_faults(sim, service, forced_status=502)
    reply = http.request(method, f"{sim.url}{path}", json=body)
    assert reply.status_code == 502
    assert set(reply.json()) == expected


def test_a_counting_rate_limit_answers_429_past_the_limit(sim, http) -> None:
    set_faults(sim, "yunite", rate_limit={"limit": 3, "window_seconds": 60})
    headers = {"Y-Api-Token": fx.YUNITE_API_TOKEN}
    permits = []
    for _ in range(3):
        reply = http.get(f"{sim.url}/yunite/api/v3/app", headers=headers)
        assert reply.status_code == 200
        permits.append(reply.headers["Y-RateLimit-Permits"])
    assert permits == ["2", "1", "0"]
    limited = http.get(f"{sim.url}/yunite/api/v3/app", headers=headers)
    assert limited.status_code == 429
    assert limited.headers["Y-RateLimit-Permits"] == "0"
    assert 55 <= int(limited.headers["Y-RateLimit-ResetIn"]) <= 60


def test_faults_never_apply_to_the_control_api(sim, http) -> None:
    for service in SERVICES:
        set_faults(sim, service, outage=True, forced_status=500)
    assert http.get(f"{sim.url}/_control").status_code == 200
    assert http.post(f"{sim.url}/_control/reset").status_code == 200
    assert http.get(f"{sim.url}/http/status").status_code == 200


def test_a_cold_restart_delays_requests_until_warm(sim, http) -> None:
    reply = http.post(f"{sim.url}/_control/banano/cold_restart", json={"seconds": 1.0})
    assert reply.json()["cold"] is True
    with pytest.raises(requests.ReadTimeout):
        requests.post(f"{sim.url}/banano/", json={"action": "version"}, timeout=0.3)
    time.sleep(0.8)
    started = time.monotonic()
    reply = requests.post(f"{sim.url}/banano/", json={"action": "uptime"}, timeout=2)
    assert time.monotonic() - started < 0.3
    assert int(reply.json()["seconds"]) <= 2


def test_a_cold_restart_can_delay_each_request_by_a_fixed_amount(sim, http) -> None:
    http.post(
        f"{sim.url}/_control/http/cold_restart",
        json={"seconds": 30, "delay_seconds": 0.3},
    )
    started = time.monotonic()
    assert http.get(f"{sim.url}/http/status").status_code == 200
    assert 0.3 <= time.monotonic() - started < 1.5


def test_the_server_can_start_cold() -> None:
    with SimulatorServer(cold_start={"banano": 0.5}) as server:
        started = time.monotonic()
        requests.post(f"{server.url}/banano/", json={"action": "version"}, timeout=3)
        assert time.monotonic() - started >= 0.4


def test_the_request_log_shows_what_was_called_and_how_often(sim, http) -> None:
    assert requests_seen(sim, "github") == 0
    http.get(f"{sim.url}/github/user", headers={"Authorization": "Bearer x"})
    log = http.get(f"{sim.url}/_control/github/requests").json()
    assert log["count"] == 1
    entry = log["requests"][0]
    assert entry["method"] == "GET"
    assert entry["path"] == "/github/user"
    assert entry["status"] == 401
    assert entry["headers"]["Authorization"] == "Bearer x"
    http.delete(f"{sim.url}/_control/github/requests")
    assert requests_seen(sim, "github") == 0


def test_the_request_log_keeps_the_last_200_but_counts_all(sim, http) -> None:
    for _ in range(205):
        http.get(f"{sim.url}/http/json")
    log = http.get(f"{sim.url}/_control/http/requests").json()
    assert log["count"] == 205
    assert len(log["requests"]) == 200
    assert log["requests"][-1]["seq"] == 205


def test_reset_restores_faults_settings_and_seeded_state(sim, http) -> None:
    set_faults(sim, "banano", control_disabled=True)
    http.post(
        f"{sim.url}/banano/",
        json={
            "action": "send",
            "wallet": fx.BANANO_OPERATOR_WALLET_ID,
            "source": fx.BANANO_OPERATOR_ACCOUNT,
            "destination": fx.BANANO_RECIPIENT_ACCOUNT,
            "amount": "1",
        },
    )
    http.post(f"{sim.url}/_control/banano/reset")
    state = http.get(f"{sim.url}/_control/banano").json()
    assert state["faults"] == {}
    assert state["requests_seen"] == 0
    assert state["state"]["operator_balance_raw"] == str(fx.BANANO_OPERATOR_BALANCE_RAW)


def test_a_burst_of_parallel_connections_is_served(sim) -> None:
    results: list[int] = []
    lock = threading.Lock()

    def call() -> None:
        status = requests.get(f"{sim.url}/http/delay/0.2", timeout=5).status_code
        with lock:
            results.append(status)

    threads = [threading.Thread(target=call) for _ in range(40)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 40
    assert time.monotonic() - started < 2.0
