"""Discord OAuth2 client over the shared outbound HTTP layer.

The endpoint's ``base_url`` is the API root (``https://discord.com/api/v10``
live, ``{simulator}/discord/api`` simulated); credentials hold
``{"client_id", "client_secret"}``. The token and revoke endpoints accept only
form-encoded bodies; client authentication is HTTP Basic. Methods return the raw
response; callers classify it and validate bodies with ``schemas``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

if TYPE_CHECKING:
    import requests

    from integrations.http import OutboundClient

RATE_LIMIT_HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-RateLimit-Reset-After",
    "X-RateLimit-Bucket",
    "X-RateLimit-Scope",
    "X-RateLimit-Global",
    "Retry-After",
)


class MissingCredentials(ValueError):
    """The endpoint has no Discord client id/secret configured."""


def rate_limit_headers(response: requests.Response) -> dict[str, str]:
    """The Discord rate-limit headers present on ``response``."""
    return {h: response.headers[h] for h in RATE_LIMIT_HEADERS if h in response.headers}


@dataclass
class AuthorizeRedirect:
    """Where the authorize step sent the browser, read from ``Location``."""

    status_code: int
    location: str
    code: str | None
    state: str | None
    error: str | None
    response: requests.Response

    @property
    def redirect_base(self) -> str:
        """The ``Location`` without its query (compare with ``redirect_uri``)."""
        parts = urlsplit(self.location)
        return f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.scheme else ""


class DiscordClient:
    def __init__(self, http: OutboundClient, *, authorize_endpoint: str = "") -> None:
        # Discord serves the consent page at /oauth2/authorize both on the site
        # root and under /api; the API-root one keeps LIVE and SIMULATED alike.
        # ``authorize_endpoint`` (settings.authorize_url) overrides it.
        self.http = http
        self.authorize_endpoint = authorize_endpoint or http.url("/oauth2/authorize")

    @property
    def client_id(self) -> str:
        return self._client()[0]

    def _client(self) -> tuple[str, str]:
        creds = self.http.credentials or {}
        client_id, secret = creds.get("client_id"), creds.get("client_secret")
        if not client_id or not secret:
            raise MissingCredentials(
                "credentials.client_id and credentials.client_secret must be set"
            )
        return str(client_id), str(secret)

    # -- authorization code flow -------------------------------------------------

    def authorize_url(
        self, *, redirect_uri: str, scope: str, state: str, prompt: str = "consent"
    ) -> str:
        """The consent URL a browser would open."""
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "scope": scope,
                "state": state,
                "redirect_uri": redirect_uri,
                "prompt": prompt,
            }
        )
        return f"{self.authorize_endpoint}?{query}"

    def follow_authorize(self, url: str, **options: Any) -> AuthorizeRedirect:
        """Open the consent URL and read the redirect.

        The redirect itself is not followed: ``redirect_uri`` is the app's
        callback, not ours to call. A live Discord answers with its login page
        (no redirect) because consent needs a logged-in human.
        """
        response = self.http.get(
            url, allow_redirects=False, label="discord authorize", **options
        )
        location = response.headers.get("Location", "")
        query = parse_qs(urlsplit(location).query)
        return AuthorizeRedirect(
            status_code=response.status_code,
            location=location,
            code=query.get("code", [None])[0],
            state=query.get("state", [None])[0],
            error=query.get("error", [None])[0],
            response=response,
        )

    def exchange_code(
        self,
        code: str,
        redirect_uri: str,
        *,
        encoding: str = "form",
        **options: Any,
    ) -> requests.Response:
        """``POST /oauth2/token`` with ``grant_type=authorization_code``.

        ``encoding="json"`` sends the same fields as a JSON body, which Discord
        must refuse (a negative test)."""
        fields = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
        }
        body = {"json": fields} if encoding == "json" else {"data": fields}
        return self.http.post(
            "/oauth2/token",
            auth=self._client(),
            label="discord token exchange",
            **body,
            **options,
        )

    def client_credentials(
        self, scope: str = "identify", **options: Any
    ) -> requests.Response:
        """``POST /oauth2/token`` with ``grant_type=client_credentials`` (form,
        Basic auth): a token for the application itself, no user needed."""
        return self.http.post(
            "/oauth2/token",
            data={"grant_type": "client_credentials", "scope": scope},
            auth=self._client(),
            label="discord client credentials",
            **options,
        )

    def revoke(
        self, token: str, token_type_hint: str = "access_token", **options: Any
    ) -> requests.Response:
        """``POST /oauth2/token/revoke`` (form, Basic auth)."""
        return self.http.post(
            "/oauth2/token/revoke",
            data={"token": token, "token_type_hint": token_type_hint},
            auth=self._client(),
            label="discord revoke",
            **options,
        )

    # -- bearer calls ------------------------------------------------------------

    @staticmethod
    def _bearer(token: str, token_type: str) -> dict[str, str]:
        return {"Authorization": f"{token_type} {token}"}

    def me(
        self, token: str, *, token_type: str = "Bearer", **options: Any
    ) -> requests.Response:
        """``GET /users/@me`` (scope ``identify``)."""
        return self.http.get(
            "/users/@me",
            headers=self._bearer(token, token_type),
            label="discord users/@me",
            **options,
        )

    def my_guilds(
        self,
        token: str,
        *,
        token_type: str = "Bearer",
        params: dict[str, Any] | None = None,
        **options: Any,
    ) -> requests.Response:
        """``GET /users/@me/guilds`` (scope ``guilds``; ``params``: before,
        after, limit 1-200, with_counts)."""
        return self.http.get(
            "/users/@me/guilds",
            params=params,
            headers=self._bearer(token, token_type),
            label="discord users/@me/guilds",
            **options,
        )

    def oauth2_me(
        self, token: str, *, token_type: str = "Bearer", **options: Any
    ) -> requests.Response:
        """``GET /oauth2/@me``: the application, scopes and expiry of a token."""
        return self.http.get(
            "/oauth2/@me",
            headers=self._bearer(token, token_type),
            label="discord oauth2/@me",
            **options,
        )
