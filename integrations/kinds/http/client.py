"""Client of the generic "http" kind: a status URL answering plain HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import requests

    from integrations.http import OutboundClient


class HttpServiceClient:
    def __init__(self, http: OutboundClient) -> None:
        self.http = http

    def status(self, **options: Any) -> requests.Response:
        """``GET`` the endpoint's check URL (``health_check_url`` or ``base_url``)."""
        options.setdefault("label", "http status")
        return self.http.get(self.http.endpoint.check_url, **options)

    def fetch(self, path: str, **options: Any) -> requests.Response:
        """``GET`` a path under ``base_url`` (or an absolute URL)."""
        options.setdefault("label", f"GET {path}")
        return self.http.get(path, **options)
