"""A scripted HTTP server on 127.0.0.1 and fixtures for the outbound-layer tests.

The server records every request (arrival time, method, path, headers, body,
client port) and answers from a per-path script of ``Reply`` objects, falling
back to a default reply.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from django.test import override_settings


@dataclass
class Reply:
    status: int = 200
    body: Any = field(default_factory=lambda: {"ok": True})
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    # Close the connection without answering (RemoteDisconnected on the client).
    drop: bool = False
    # Answer with the request itself (method, path, headers, body).
    echo: bool = False


@dataclass
class Recorded:
    at: float
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int


class ScriptedServer:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self._defaults: dict[str, Reply] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    def script(self, path: str, *replies: Reply) -> None:
        with self._lock:
            self._scripts[path].extend(replies)

    def default(self, path: str, reply: Reply) -> None:
        with self._lock:
            self._defaults[path] = reply

    def hits(self, path: str | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    def _next_reply(self, path: str) -> Reply:
        with self._lock:
            queue = self._scripts.get(path)
            if queue:
                return queue.popleft()
            return self._defaults.get(path, Reply())

    def start(self) -> ScriptedServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, so pooling is visible

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = urlsplit(self.path).path
                with owner._lock:
                    owner.requests.append(
                        Recorded(
                            time.time(),
                            self.command,
                            path,
                            dict(self.headers.items()),
                            body,
                            self.client_address[1],
                        )
                    )
                reply = owner._next_reply(path)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.drop:
                    self.close_connection = True
                    return
                if reply.echo:
                    payload = json.dumps(
                        {
                            "method": self.command,
                            "path": self.path,
                            "headers": dict(self.headers.items()),
                            "body": body.decode("utf-8", "replace"),
                        }
                    ).encode()
                    content_type = "application/json"
                elif isinstance(reply.body, bytes | str):
                    payload = (
                        reply.body.encode()
                        if isinstance(reply.body, str)
                        else reply.body
                    )
                    content_type = "text/plain"
                else:
                    payload = json.dumps(reply.body).encode()
                    content_type = "application/json"
                try:
                    self.send_response(reply.status)
                    headers = {"Content-Type": content_type, **reply.headers}
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def running_server() -> Iterator[ScriptedServer]:
    """Body of a ``server`` fixture: a started server, stopped afterwards."""
    scripted = ScriptedServer().start()
    yield scripted
    scripted.stop()


def isolated_outbound_settings(redis_client: Any) -> Iterator[str]:
    """Body of an ``outbound_settings`` fixture: isolate the shared Redis keys
    of this test and keep retries quick.

    A fresh key prefix per test: endpoint ids repeat across tests (and across
    test runs sharing this Redis), rate-limit keys must not.
    """
    from integrations import ratelimit
    from integrations.http import close_pools

    prefix = f"testenv-test:{uuid.uuid4().hex}"
    with override_settings(
        OUTBOUND_RATE_LIMIT_PREFIX=prefix,
        OUTBOUND_RETRY_BACKOFF_SECONDS=0.01,
        OUTBOUND_RETRY_BACKOFF_MAX_SECONDS=0.05,
        PRODUCTION_HOSTS=[],
    ):
        yield prefix
    close_pools()
    ratelimit._health.down_until = 0.0
    for key in redis_client.scan_iter(f"{prefix}:*"):
        redis_client.delete(key)


def make_endpoint(server_url: str, *, save: bool = True, **overrides: Any):
    from integrations.models import IntegrationEndpoint

    fields: dict[str, Any] = {
        "name": f"http-{uuid.uuid4().hex[:8]}",
        "kind": "http",
        "base_url": server_url,
        "rate_limit_per_minute": 600,
        "timeout_seconds": 5,
        "retry_attempts": 2,
    }
    credentials = overrides.pop("credentials", None)
    fields.update(overrides)
    endpoint = IntegrationEndpoint(**fields)
    if credentials:
        endpoint.set_credentials(credentials)
    if save:
        endpoint.save()
    return endpoint
