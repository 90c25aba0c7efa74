"""Yunite v3 client over the shared outbound HTTP layer.

The endpoint's ``base_url`` is the API root (``https://yunite.xyz/api`` live,
``{simulator}/yunite/api`` simulated); credentials hold ``{"api_token": ...}``.
Methods return the raw response: callers classify status codes and validate
bodies with ``integrations.kinds.yunite.schemas``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import requests

    from integrations.http import OutboundClient

# Rate-limit headers Yunite clients rely on (not in the official docs).
RATE_LIMIT_HEADERS = (
    "Y-RateLimit-Bucket",
    "Y-RateLimit-Permits",
    "Y-RateLimit-ResetIn",
)


class MissingCredentials(ValueError):
    """The endpoint has no Yunite API token configured."""


def rate_limit_headers(response: requests.Response) -> dict[str, str]:
    """The Yunite rate-limit headers present on ``response``."""
    return {h: response.headers[h] for h in RATE_LIMIT_HEADERS if h in response.headers}


class YuniteClient:
    def __init__(self, http: OutboundClient) -> None:
        self.http = http

    def _headers(self) -> dict[str, str]:
        token = (self.http.credentials or {}).get("api_token")
        if not token:
            raise MissingCredentials("credentials.api_token is not set")
        return {"Y-Api-Token": token}

    def app_info(
        self, *, with_guild_names: bool = False, **options: Any
    ) -> requests.Response:
        """``GET /v3/app``: the app and the guilds that authorized it."""
        params = {"withGuildNames": "true"} if with_guild_names else None
        return self.http.get(
            "/v3/app",
            params=params,
            headers=self._headers(),
            label="yunite app info",
            **options,
        )

    def registration_links(
        self,
        guild_id: str,
        user_ids: list[str],
        type: str = "DISCORD",
        **options: Any,
    ) -> requests.Response:
        """``POST /v3/guild/{guild_id}/registration/links`` for ``user_ids``
        (Discord snowflakes, or Epic ids with ``type="EPIC"``)."""
        return self.http.post(
            f"/v3/guild/{guild_id}/registration/links",
            json={"type": type, "userIds": list(user_ids)},
            headers=self._headers(),
            label="yunite registration links",
            **options,
        )
