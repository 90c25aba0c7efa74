"""One HTTP server for every simulator, plus the fault-injection control API.

Each request runs on its own daemon thread, so injected latency, a cold start
or a hanging request never delays another request. Services are mounted under
a path prefix each (``/yunite``, ``/discord``, ``/banano``, ``/wallet``, ``/p2s``,
``/github``, ``/http``); ``/_control`` is the control API, never faulted.

    server = SimulatorServer(port=0).start()
    try:
        requests.get(f"{server.url}/http/status")
    finally:
        server.stop()
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from integrations.kinds.admin.simulator import Pay2SlaySimulator
from integrations.kinds.banano.simulator import BananoNodeSimulator
from integrations.kinds.discord.simulator import DiscordSimulator
from integrations.kinds.github.simulator import GitHubSimulator
from integrations.kinds.http.simulator import HttpTargetSimulator
from integrations.kinds.wallet.simulator import WalletSimulator
from integrations.kinds.yunite.simulator import YuniteSimulator
from integrations.simulators.base import (
    BodyError,
    FaultError,
    Request,
    Response,
    Router,
    Service,
)
from integrations.simulators.ledger import Ledger

__all__ = ["SERVICE_CLASSES", "Request", "Response", "Router", "SimulatorServer"]

logger = logging.getLogger(__name__)

SERVICE_CLASSES: tuple[type[Service], ...] = (
    YuniteSimulator,
    DiscordSimulator,
    BananoNodeSimulator,
    WalletSimulator,
    Pay2SlaySimulator,
    GitHubSimulator,
    HttpTargetSimulator,
)
MAX_BODY = 16 * 1024 * 1024
CONTROL_PREFIX = "/_control"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # The default backlog of 5 refuses (and SYN-retries for 1 s) bursts of checks.
    request_queue_size = 256
    simulator: SimulatorServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "testenv-simulator/1.0"
    # Idle keep-alive connections give their thread back after this long.
    timeout = 120
    # Headers and body go out in separate writes; with Nagle on, a keep-alive
    # client waits out the peer's delayed ACK (~40 ms) on every response.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length) if length > 0 else b""

    def _client_alive(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return True
            return bool(self.connection.recv(1, socket.MSG_PEEK))
        except (OSError, ValueError):
            return False

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.send_error(400, "Bad request body")
            return
        simulator = self.server.simulator
        request = Request(
            self.command,
            self.path,
            self.headers,
            body,
            client=self.client_address[:2],
            client_alive=self._client_alive,
            stopping=simulator.stopping,
        )
        response = simulator.dispatch(request)
        if response.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        try:
            self.send_response(response.status)
            for name, value in response.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD" and response.body:
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve
    do_HEAD = do_OPTIONS = _serve


class SimulatorServer:
    """All simulators behind one listening socket.

    The socket is bound in the constructor (``port=0`` picks a free port);
    ``start()`` serves on a background thread and returns the server.
    ``cold_start`` maps service names to seconds of slow start after ``start()``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        cold_start: Mapping[str, float] | None = None,
    ) -> None:
        self.stopping = threading.Event()
        self.ledger = Ledger()
        self._httpd = _HTTPServer((host, port), _Handler, bind_and_activate=True)
        self._httpd.simulator = self
        self.host = host
        self.port = int(self._httpd.server_address[1])
        self._thread: threading.Thread | None = None
        self._cold_start = dict(cold_start or {})
        self.services: dict[str, Service] = {}
        for cls in SERVICE_CLASSES:
            self.services[cls.name] = cls(self)
        unknown = set(self._cold_start) - set(self.services)
        if unknown:
            raise ValueError(f"unknown services in cold_start: {sorted(unknown)}")
        self._prefixes = sorted(
            ((svc.prefix, svc) for svc in self.services.values()),
            key=lambda item: len(item[0]),
            reverse=True,
        )
        self.control = Router()
        self._control_routes()

    # -- lifecycle ------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL clients use; a wildcard bind is reached via loopback."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(
            self.host, self.host
        )
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    def service(self, name: str) -> Service:
        return self.services[name]

    def service_urls(self) -> dict[str, str]:
        return {name: svc.base_url for name, svc in self.services.items()}

    def start(self, poll_interval: float = 0.05) -> SimulatorServer:
        """Serve on a daemon thread; ``stop()`` takes up to ``poll_interval``."""
        if self._thread is not None:
            return self
        for name, seconds in self._cold_start.items():
            if seconds > 0:
                self.services[name].cold_restart(seconds)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": poll_interval},
            name=f"simulators:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def reset(self) -> None:
        """Every service back to its seed: faults, state and request logs."""
        for service in self.services.values():
            service.reset()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- dispatch -------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        path = request.full_path
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            request.path = path[len(CONTROL_PREFIX) :] or "/"
            return self._control(request)
        for prefix, service in self._prefixes:
            if path == prefix or path.startswith(prefix + "/"):
                request.path = path[len(prefix) :]
                return service.handle(request)
        return Response.json(
            {"error": "no simulator serves this path", "services": self.service_urls()},
            404,
        )

    # -- control API ----------------------------------------------------------

    def _control_routes(self) -> None:
        add = self.control.add
        add("GET", "/", self._c_overview)
        add("GET", "", self._c_overview)
        add("POST", "/reset", self._c_reset_all)
        add("GET", "/{service}", self._c_state)
        add("POST", "/{service}/faults", self._c_faults)
        add("DELETE", "/{service}/faults", self._c_clear_faults)
        add("GET", "/{service}/settings", self._c_settings)
        add("POST", "/{service}/settings", self._c_settings)
        add("POST", "/{service}/cold_restart", self._c_cold_restart)
        add("POST", "/{service}/reset", self._c_reset)
        add("GET", "/{service}/requests", self._c_requests)
        add("DELETE", "/{service}/requests", self._c_clear_requests)

    def _control(self, request: Request) -> Response:
        match = self.control.match(request.method, request.path)
        if match is not None and match.handler is not None:
            service_name = match.params.get("service")
            if service_name is not None and service_name not in self.services:
                return self._unknown_service(service_name)
            request.params = match.params
            return match.handler(request)
        # Service-specific control routes: /_control/<service>/<rest>.
        parts = request.path.lstrip("/").split("/", 1)
        service = self.services.get(parts[0])
        if service is not None and len(parts) == 2:
            sub = service.control_router.match(request.method, "/" + parts[1])
            if sub is not None and sub.handler is not None:
                request.params = sub.params
                return sub.handler(request)
            if sub is not None:
                return Response.json({"error": "method not allowed"}, 405)
        if match is not None:
            return Response.json({"error": "method not allowed"}, 405)
        return Response.json({"error": f"no control route {request.path}"}, 404)

    def _unknown_service(self, name: str) -> Response:
        return Response.json(
            {"error": f"unknown service {name!r}", "services": sorted(self.services)},
            404,
        )

    @staticmethod
    def _json_body(request: Request) -> dict[str, Any]:
        if not request.body.strip():
            return {}
        data = request.json()
        if not isinstance(data, dict):
            raise BodyError("body must be a JSON object")
        return data

    def _c_overview(self, request: Request) -> Response:
        return Response.json(
            {
                "url": self.url,
                "services": {n: s.state() for n, s in self.services.items()},
            }
        )

    def _c_reset_all(self, request: Request) -> Response:
        self.reset()
        return Response.json({"reset": sorted(self.services)})

    def _c_state(self, request: Request) -> Response:
        return Response.json(self.services[request.params["service"]].state())

    def _c_faults(self, request: Request) -> Response:
        service = self.services[request.params["service"]]
        try:
            faults = service.update_faults(self._json_body(request))
        except (BodyError, FaultError) as exc:
            return Response.json({"error": str(exc)}, 400)
        return Response.json({"service": service.name, "faults": faults})

    def _c_clear_faults(self, request: Request) -> Response:
        service = self.services[request.params["service"]]
        service.clear_faults()
        return Response.json({"service": service.name, "faults": {}})

    def _c_settings(self, request: Request) -> Response:
        service = self.services[request.params["service"]]
        if request.method == "GET":
            return Response.json(
                {"service": service.name, "settings": service.settings}
            )
        try:
            settings = service.update_settings(self._json_body(request))
        except (BodyError, FaultError) as exc:
            return Response.json({"error": str(exc)}, 400)
        return Response.json({"service": service.name, "settings": settings})

    def _c_cold_restart(self, request: Request) -> Response:
        service = self.services[request.params["service"]]
        try:
            body = self._json_body(request)
        except BodyError as exc:
            return Response.json({"error": str(exc)}, 400)
        seconds = body.get("seconds", 30)
        delay = body.get("delay_seconds")
        numbers_ok = isinstance(seconds, int | float) and seconds >= 0
        if delay is not None:
            numbers_ok = numbers_ok and isinstance(delay, int | float) and delay >= 0
        if not numbers_ok or isinstance(seconds, bool) or isinstance(delay, bool):
            return Response.json(
                {"error": "seconds and delay_seconds must be numbers >= 0"}, 400
            )
        service.cold_restart(float(seconds), None if delay is None else float(delay))
        return Response.json({"service": service.name, **service.cold_state()})

    def _c_reset(self, request: Request) -> Response:
        service = self.services[request.params["service"]]
        service.reset()
        return Response.json({"reset": [service.name]})

    def _c_requests(self, request: Request) -> Response:
        service = self.services[request.params["service"]]
        limit_text = request.arg("limit")
        limit = int(limit_text) if limit_text and limit_text.isdigit() else None
        return Response.json(service.log.snapshot(limit))

    def _c_clear_requests(self, request: Request) -> Response:
        service = self.services[request.params["service"]]
        service.log.clear()
        return Response.json({"count": 0, "requests": []})
