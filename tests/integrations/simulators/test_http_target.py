from __future__ import annotations

import time

import pytest


def test_status_is_ok(sim, http) -> None:
    reply = http.get(f"{sim.url}/http/status")
    assert reply.status_code == 200
    assert reply.json() == {"status": "ok"}


@pytest.mark.parametrize("code", [201, 404, 418, 500, 503])
def test_status_code_answers_that_code(sim, http, code) -> None:
    assert http.get(f"{sim.url}/http/status/{code}").status_code == code


def test_no_content_has_no_body(sim, http) -> None:
    reply = http.get(f"{sim.url}/http/status/204")
    assert reply.status_code == 204
    assert reply.content == b""


def test_delay_answers_after_the_delay(sim, http) -> None:
    started = time.monotonic()
    reply = http.get(f"{sim.url}/http/delay/0.3")
    assert time.monotonic() - started >= 0.3
    assert reply.json()["delayed_seconds"] == 0.3
    assert http.get(f"{sim.url}/http/delay/abc").status_code == 400


def test_json_returns_a_document(sim, http) -> None:
    assert "slideshow" in http.get(f"{sim.url}/http/json").json()


def test_unknown_paths_are_404(sim, http) -> None:
    assert http.get(f"{sim.url}/http/nope").status_code == 404
