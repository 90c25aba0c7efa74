"""A fresh simulator server per test, reached over real sockets."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from integrations.simulators.server import SimulatorServer


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    server = SimulatorServer().start(poll_interval=0.01)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def set_faults(sim: SimulatorServer, service: str, **faults: Any) -> dict[str, Any]:
    reply = requests.post(
        f"{sim.url}/_control/{service}/faults", json=faults, timeout=5
    )
    assert reply.status_code == 200, reply.text
    return reply.json()["faults"]


def set_settings(sim: SimulatorServer, service: str, **settings: Any) -> None:
    reply = requests.post(
        f"{sim.url}/_control/{service}/settings", json=settings, timeout=5
    )
    assert reply.status_code == 200, reply.text


def requests_seen(sim: SimulatorServer, service: str) -> int:
    return requests.get(f"{sim.url}/_control/{service}/requests", timeout=5).json()[
        "count"
    ]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """A tiny HTTP server that records what is POSTed to it (webhook target)."""

    def __init__(self) -> None:
        self.received: queue.Queue[Received] = queue.Queue()
        inbox = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                inbox.put(Received(self.path, dict(self.headers.items()), body))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
        )
        self._thread.start()

    def next(self, timeout: float = 5.0) -> Received:
        return self.received.get(timeout=timeout)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    target = Receiver()
    try:
        yield target
    finally:
        target.close()
