"""Generic HTTP target, base ``{url}/http``: the ``http`` kind's health checks.

``GET /status`` answers 200 ``{"status": "ok"}``; ``/status/{code}`` answers that
code; ``/delay/{seconds}`` answers after the delay (on its own thread, so other
requests are not held up); ``/json`` returns a small fixed document.
"""

from __future__ import annotations

from typing import Any

from integrations.simulators.base import Request, Response, Service, reason_phrase

MAX_DELAY_SECONDS = 300.0
ALL_METHODS = "GET POST PUT PATCH DELETE HEAD OPTIONS"


class HttpTargetSimulator(Service):
    name = "http"
    prefix = "/http"

    def routes(self) -> None:
        self.router.add(ALL_METHODS, "/status", self.status)
        self.router.add(ALL_METHODS, "/status/{code}", self.status_code)
        self.router.add(ALL_METHODS, "/delay/{seconds}", self.delay)
        self.router.add("GET", "/json", self.json_document)

    def error(
        self, request: Request, status: int, message: str | None = None
    ) -> Response:
        return Response.json(
            {"status": status, "error": message or reason_phrase(status)}, status
        )

    def status(self, request: Request) -> Response:
        return Response.json({"status": "ok"})

    def status_code(self, request: Request) -> Response:
        code = request.params["code"]
        if not code.isdigit() or not 200 <= int(code) <= 599:
            return self.error(request, 400, "status code must be between 200 and 599")
        status = int(code)
        if status in (204, 304):
            return Response.empty(status)
        if 300 <= status < 400:
            response = Response.json({"status": status}, status)
            response.set_header("Location", f"{self.base_url}/status")
            return response
        return Response.json(
            {"status": status, "reason": reason_phrase(status)}, status
        )

    def delay(self, request: Request) -> Response:
        try:
            seconds = float(request.params["seconds"])
        except ValueError:
            return self.error(request, 400, "seconds must be a number")
        if not 0 <= seconds <= MAX_DELAY_SECONDS:
            return self.error(request, 400, f"seconds must be 0..{MAX_DELAY_SECONDS:g}")
        request.sleep(seconds)
        return Response.json({"status": "ok", "delayed_seconds": seconds})

    def json_document(self, request: Request) -> Response:
        document: dict[str, Any] = {
            "slideshow": {
                "author": "testenv",
                "title": "Sample document",
                "slides": [
                    {"title": "Simulated", "type": "all"},
                    {"title": "Over real sockets", "type": "all"},
                ],
            }
        }
        return Response.json(document)
