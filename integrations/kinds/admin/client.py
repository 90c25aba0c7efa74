"""Pay2Slay admin API client over the shared outbound HTTP layer.

The endpoint's ``base_url`` is the Pay2Slay app root (``{simulator}/p2s``
simulated). Admin routes need the ``p2s_admin`` cookie that ``login`` returns.
Pay2Slay has no API that creates admin users, so admin fixtures go through a
*fixture hook* (see ``fixture_hook_url``): ``POST {hook}`` with
``{"email", "is_active"}`` upserts a row, ``DELETE {hook}/{email}`` removes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

if TYPE_CHECKING:
    import requests

    from integrations.http import OutboundClient
    from integrations.models import IntegrationEndpoint

ADMIN_COOKIE = "p2s_admin"
SIMULATOR_PREFIX = "/p2s"
SIMULATOR_HOOK_PATH = "/_control/admin/admin_users"


class NoFixtureHook(LookupError):
    """No way to create admin fixtures is configured for this endpoint."""


def fixture_hook_url(endpoint: IntegrationEndpoint) -> str | None:
    """Where admin fixtures are inserted and removed.

    ``settings.fixture_hook_url`` when set; for a SIMULATED endpoint otherwise
    the Pay2Slay simulator's control API, derived from ``base_url``
    (``{sim}/p2s`` -> ``{sim}/_control/admin/admin_users``); else None (a live
    Pay2Slay has no such API).
    """
    configured = (endpoint.settings or {}).get("fixture_hook_url")
    if configured:
        return str(configured).rstrip("/")
    if endpoint.mode != "SIMULATED":
        return None
    base = endpoint.base_url.rstrip("/")
    if base.endswith(SIMULATOR_PREFIX):
        root = base[: -len(SIMULATOR_PREFIX)]
    else:
        parts = urlsplit(base)
        root = f"{parts.scheme}://{parts.netloc}"
    return root + SIMULATOR_HOOK_PATH


@dataclass
class AdminLoginResult:
    response: requests.Response
    cookie: str | None

    @property
    def status_code(self) -> int:
        return self.response.status_code


class P2SAdminClient:
    def __init__(self, http: OutboundClient, *, hook_url: str | None = None) -> None:
        self.http = http
        self.hook_url = hook_url

    @staticmethod
    def _cookie(cookie: str) -> dict[str, str]:
        return {ADMIN_COOKIE: cookie}

    def healthz(self, **options: Any) -> requests.Response:
        """``GET /healthz``: ``{"status": "ok"}``."""
        return self.http.get("/healthz", label="p2s healthz", **options)

    def login(self, email: str, **options: Any) -> AdminLoginResult:
        """``POST /admin/login {"email"}``; the result carries the ``p2s_admin``
        cookie when the app issued one."""
        response = self.http.post(
            "/admin/login", json={"email": email}, label="p2s admin login", **options
        )
        return AdminLoginResult(response, response.cookies.get(ADMIN_COOKIE))

    def audit(
        self,
        cookie: str,
        *,
        action: str | None = None,
        actor_email: str | None = None,
        target_type: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
        **options: Any,
    ) -> requests.Response:
        """``GET /admin/audit`` (``limit`` at most 200)."""
        params = {
            key: value
            for key, value in (
                ("action", action),
                ("actor_email", actor_email),
                ("target_type", target_type),
                ("limit", limit),
                ("offset", offset),
            )
            if value is not None
        }
        return self.http.get(
            "/admin/audit",
            params=params,
            cookies=self._cookie(cookie),
            label="p2s admin audit",
            **options,
        )

    def health_extended(self, cookie: str, **options: Any) -> requests.Response:
        """``GET /admin/health/extended``."""
        return self.http.get(
            "/admin/health/extended",
            cookies=self._cookie(cookie),
            label="p2s admin health extended",
            **options,
        )

    def reverify(
        self, cookie: str, discord_id: str, **options: Any
    ) -> requests.Response:
        """``POST /admin/reverify {"discord_id"}`` (asks Yunite again)."""
        return self.http.post(
            "/admin/reverify",
            json={"discord_id": discord_id},
            cookies=self._cookie(cookie),
            label="p2s admin reverify",
            **options,
        )

    # -- admin fixtures ------------------------------------------------------------

    def _hook(self) -> str:
        if not self.hook_url:
            raise NoFixtureHook(
                "no admin fixture hook: set settings.fixture_hook_url (a live "
                "Pay2Slay has no API that creates admin users)"
            )
        return self.hook_url

    def _hook_headers(self) -> dict[str, str] | None:
        token = (self.http.credentials or {}).get("fixture_hook_token")
        return {"Authorization": f"Bearer {token}"} if token else None

    def put_admin_fixture(
        self, email: str, *, active: bool = True, **options: Any
    ) -> requests.Response:
        """Insert or update an admin row (201 created, 200 updated)."""
        return self.http.post(
            self._hook(),
            json={"email": email, "is_active": active},
            headers=self._hook_headers(),
            label="admin fixture upsert",
            **options,
        )

    def remove_admin_fixture(self, email: str, **options: Any) -> requests.Response:
        """Delete an admin row (204; 404 when it is already gone)."""
        return self.http.delete(
            f"{self._hook()}/{quote(email, safe='@')}",
            headers=self._hook_headers(),
            label="admin fixture remove",
            **options,
        )
