"""Discord OAuth2 and user API simulator.

Authorize at ``{url}/discord/oauth2/authorize`` (or ``/discord/api/oauth2/authorize``);
the API base is ``{url}/discord/api``, also reachable as ``/discord/api/v10``. The
authorize step auto-consents as the member user unless ``sim_user=<id>`` (or the
``consent_user_id`` setting) names another fixture user; ``sim_deny=true`` makes
the user refuse. Token and revoke endpoints accept form bodies only, codes are
single-use and expire, and every response carries Discord's rate-limit headers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
import secrets
import string
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlencode

from integrations.simulators import fixtures as fx
from integrations.simulators.base import (
    BodyError,
    FaultValidator,
    Request,
    Response,
    Service,
    reason_phrase,
)

KNOWN_SCOPES = frozenset(
    {
        "activities.read",
        "activities.write",
        "applications.builds.read",
        "applications.builds.upload",
        "applications.commands",
        "applications.commands.update",
        "applications.commands.permissions.update",
        "applications.entitlements",
        "applications.store.update",
        "bot",
        "connections",
        "dm_channels.read",
        "email",
        "gdm.join",
        "guilds",
        "guilds.join",
        "guilds.members.read",
        "identify",
        "messages.read",
        "openid",
        "relationships.read",
        "role_connections.write",
        "rpc",
        "voice",
        "webhook.incoming",
    }
)
# Scopes a client-credentials grant may not ask for (they need a user or a guild).
USER_ONLY_SCOPES = frozenset({"bot", "guilds.join", "webhook.incoming", "gdm.join"})
_API_VERSION = re.compile(r"^/api/v\d+(?=/)")
_CODE_ALPHABET = string.ascii_letters + string.digits
SNOWFLAKE = re.compile(r"^\d{1,20}$")


def _positive(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError("must be a number > 0")
    return float(value)


def _uri_list(value: Any) -> list[str]:
    if not isinstance(value, list | tuple) or not all(
        isinstance(v, str) for v in value
    ):
        raise ValueError("must be a list of URIs")
    return list(value)


def _user_id(value: Any) -> str:
    if not isinstance(value, str) or value not in USERS:
        raise ValueError(f"must be one of {sorted(USERS)}")
    return value


@dataclass(frozen=True)
class DiscordUser:
    id: str
    username: str
    global_name: str | None
    avatar: str | None
    email: str
    guild_ids: tuple[str, ...]
    owns: tuple[str, ...] = ()


@dataclass(frozen=True)
class DiscordGuild:
    id: str
    name: str
    icon: str | None
    features: tuple[str, ...]
    member_count: int


GUILDS = {
    g.id: g
    for g in (
        DiscordGuild(
            fx.DISCORD_GUILD_ID,
            fx.DISCORD_GUILD_NAME,
            "8342729096ea3675442027381ff50dfe",
            ("COMMUNITY", "NEWS"),
            1312,
        ),
        *(
            DiscordGuild(gid, name, None, (), 240 + i * 17)
            for i, (gid, name) in enumerate(fx.DISCORD_OTHER_GUILDS)
        ),
    )
}
_OTHER_GUILD_IDS = tuple(gid for gid, _ in fx.DISCORD_OTHER_GUILDS)

USERS = {
    u.id: u
    for u in (
        DiscordUser(
            fx.DISCORD_MEMBER_USER_ID,
            fx.DISCORD_MEMBER_USERNAME,
            fx.DISCORD_MEMBER_GLOBAL_NAME,
            "a1b2c3d4e5f60718293a4b5c6d7e8f90",
            fx.DISCORD_MEMBER_EMAIL,
            (fx.DISCORD_GUILD_ID, *_OTHER_GUILD_IDS),
        ),
        DiscordUser(
            fx.DISCORD_UNLINKED_MEMBER_USER_ID,
            fx.DISCORD_UNLINKED_MEMBER_USERNAME,
            None,
            None,
            "no.epic@example.org",
            (fx.DISCORD_GUILD_ID,),
        ),
        DiscordUser(
            fx.DISCORD_NON_MEMBER_USER_ID,
            fx.DISCORD_NON_MEMBER_USERNAME,
            "Outsider",
            None,
            "outsider@example.org",
            (_OTHER_GUILD_IDS[0],),
        ),
        DiscordUser(
            fx.DISCORD_SLOW_USER_ID,
            fx.DISCORD_SLOW_USERNAME,
            None,
            None,
            "slow@example.org",
            (fx.DISCORD_GUILD_ID,),
        ),
        DiscordUser(
            fx.DISCORD_ADMIN_USER_ID,
            fx.DISCORD_ADMIN_USERNAME,
            "P2S Owner",
            None,
            "owner@example.org",
            (fx.DISCORD_GUILD_ID, _OTHER_GUILD_IDS[2]),
            owns=(fx.DISCORD_GUILD_ID,),
        ),
    )
}


@dataclass
class Grant:
    client_id: str
    user_id: str
    scopes: tuple[str, ...]
    redirect_uri: str | None
    expires_at: float
    used: bool = False
    tokens: list[str] = field(default_factory=list)


@dataclass
class Token:
    access_token: str
    client_id: str
    user_id: str | None
    scopes: tuple[str, ...]
    expires_at: float
    refresh_token: str | None
    revoked: bool = False


def _random_token(length: int = 30) -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(length))


class DiscordSimulator(Service):
    name = "discord"
    prefix = "/discord"
    base_path = "/api"
    # Discord's global limit is 50 requests per second.
    nominal_limit = 50
    nominal_window_seconds = 1.0
    default_settings: ClassVar[dict[str, Any]] = {
        "consent_user_id": fx.DISCORD_DEFAULT_CONSENT_USER_ID,
        "code_ttl_seconds": fx.DISCORD_CODE_TTL_SECONDS,
        "token_expires_in": fx.DISCORD_TOKEN_EXPIRES_IN,
        "redirect_uris": list(fx.DISCORD_REDIRECT_URIS),
    }
    setting_validators: ClassVar[dict[str, FaultValidator]] = {
        "consent_user_id": _user_id,
        "code_ttl_seconds": _positive,
        "token_expires_in": _positive,
        "redirect_uris": _uri_list,
    }

    def routes(self) -> None:
        add = self.router.add
        add("GET", "/oauth2/authorize", self.authorize)
        add("GET", "/api/oauth2/authorize", self.authorize)
        add("POST", "/api/oauth2/token", self.token)
        add("POST", "/api/oauth2/token/revoke", self.revoke)
        add("GET", "/api/users/@me", self.me)
        add("GET", "/api/users/@me/guilds", self.my_guilds)
        add("GET", "/api/oauth2/@me", self.oauth_me)

    def seed(self) -> None:
        with self.lock:
            self.grants: dict[str, Grant] = {}
            self.tokens: dict[str, Token] = {}
            self.refresh_tokens: dict[str, str] = {}  # refresh -> access

    def describe(self) -> dict[str, Any]:
        with self.lock:
            return {
                "client_id": fx.DISCORD_CLIENT_ID,
                "users": sorted(USERS),
                "guild_id": fx.DISCORD_GUILD_ID,
                "codes_issued": len(self.grants),
                "tokens_issued": len(self.tokens),
            }

    def route(self, request: Request) -> Response:
        request.path = _API_VERSION.sub("/api", request.path)
        return super().route(request)

    # -- shapes ---------------------------------------------------------------

    def error(
        self, request: Request, status: int, message: str | None = None
    ) -> Response:
        return Response.json(
            {"message": message or f"{status}: {reason_phrase(status)}", "code": 0},
            status,
        )

    def rate_limited(self, request: Request, retry_after: float) -> Response:
        scope = self.fault("rate_limit_scope") or "user"
        is_global = scope == "global"
        response = Response.json(
            {
                "message": "You are being rate limited.",
                "retry_after": round(retry_after, 3),
                "global": is_global,
            },
            429,
        )
        response.set_header("Retry-After", str(math.ceil(retry_after)))
        response.set_header("X-RateLimit-Scope", scope)
        if is_global:
            response.set_header("X-RateLimit-Global", "true")
        return response

    def decorate(self, request: Request, response: Response) -> None:
        rate = request.rate
        if rate is None:
            return
        route_key = _API_VERSION.sub("/api", request.path)
        bucket = hashlib.md5(route_key.encode(), usedforsecurity=False).hexdigest()
        response.set_header("X-RateLimit-Limit", str(rate.limit))
        response.set_header("X-RateLimit-Remaining", str(rate.remaining))
        response.set_header("X-RateLimit-Reset", f"{rate.reset_at:.3f}")
        response.set_header("X-RateLimit-Reset-After", f"{rate.reset_after:.3f}")
        response.set_header("X-RateLimit-Bucket", bucket)

    @staticmethod
    def oauth_error(
        error: str, description: str | None = None, status: int = 400
    ) -> Response:
        body = {"error": error}
        if description:
            body["error_description"] = description
        return Response.json(
            body, status, [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
        )

    @staticmethod
    def form_error(field_name: str, code: str, message: str) -> Response:
        return Response.json(
            {
                "code": 50035,
                "errors": {
                    field_name: {"_errors": [{"code": code, "message": message}]}
                },
                "message": "Invalid Form Body",
            },
            400,
        )

    # -- authorize ------------------------------------------------------------

    def authorize(self, request: Request) -> Response:
        client_id = request.arg("client_id")
        if client_id != fx.DISCORD_CLIENT_ID:
            return Response.json({"message": "Unknown Application", "code": 10002}, 400)
        redirect_uri = request.arg("redirect_uri")
        registered = self.settings["redirect_uris"]
        if redirect_uri is None:
            if len(registered) != 1:
                return self.form_error(
                    "redirect_uri", "BASE_TYPE_REQUIRED", "This field is required"
                )
            target = registered[0]
        elif redirect_uri not in registered:
            return self.form_error(
                "redirect_uri",
                "INVALID_OAUTH2_REDIRECT_URI",
                "Invalid OAuth2 redirect_uri",
            )
        else:
            target = redirect_uri
        state = request.arg("state")
        if request.arg("response_type") != "code":
            return self._redirect_error(
                target, state, "unsupported_response_type", "Unsupported response type"
            )
        scopes = tuple((request.arg("scope") or "").split())
        if not scopes or any(s not in KNOWN_SCOPES for s in scopes):
            return self._redirect_error(target, state, "invalid_scope", "Invalid scope")
        user_id = request.arg("sim_user") or self.settings["consent_user_id"]
        if user_id not in USERS:
            return Response.json({"message": "Unknown User", "code": 10013}, 400)
        if (request.arg("sim_deny") or "").lower() in ("1", "true", "yes"):
            return self._redirect_error(
                target,
                state,
                "access_denied",
                "The resource owner or authorization server denied the request",
            )
        code = _random_token()
        with self.lock:
            self.grants[code] = Grant(
                client_id=client_id,
                user_id=user_id,
                scopes=scopes,
                redirect_uri=redirect_uri,
                expires_at=time.time() + float(self.settings["code_ttl_seconds"]),
            )
        query = {"code": code}
        if state is not None:
            query["state"] = state
        return Response.redirect(_append_query(target, query))

    @staticmethod
    def _redirect_error(
        target: str, state: str | None, error: str, description: str
    ) -> Response:
        query = {"error": error, "error_description": description}
        if state is not None:
            query["state"] = state
        return Response.redirect(_append_query(target, query))

    # -- token endpoint -------------------------------------------------------

    def _client(self, request: Request, form: dict[str, str]) -> str | None:
        header = request.header("Authorization") or ""
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
            client_id, _, secret = decoded.partition(":")
        else:
            client_id = form.get("client_id", "")
            secret = form.get("client_secret", "")
        if client_id == fx.DISCORD_CLIENT_ID and secrets.compare_digest(
            secret, fx.DISCORD_CLIENT_SECRET
        ):
            return client_id
        return None

    def _read_form(self, request: Request) -> dict[str, str] | Response:
        if request.content_type != "application/x-www-form-urlencoded":
            return self.oauth_error(
                "invalid_request",
                "Content-Type must be application/x-www-form-urlencoded",
            )
        try:
            return request.form()
        except BodyError:
            return self.oauth_error("invalid_request", "Malformed form body")

    def token(self, request: Request) -> Response:
        form = self._read_form(request)
        if isinstance(form, Response):
            return form
        client_id = self._client(request, form)
        if client_id is None:
            return self.oauth_error("invalid_client", status=401)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._exchange_code(client_id, form)
        if grant_type == "refresh_token":
            return self._refresh(client_id, form)
        if grant_type == "client_credentials":
            return self._client_credentials(client_id, form)
        return self.oauth_error("unsupported_grant_type")

    def _exchange_code(self, client_id: str, form: dict[str, str]) -> Response:
        code = form.get("code")
        if not code:
            return self.oauth_error("invalid_request", 'Missing "code" in request.')
        invalid_code = self.oauth_error("invalid_grant", 'Invalid "code" in request.')
        with self.lock:
            grant = self.grants.get(code)
            if grant is None or grant.client_id != client_id:
                return invalid_code
            if grant.used:
                # RFC 6749 §4.1.2: a replayed code revokes what it granted.
                for access in grant.tokens:
                    self._revoke_access(access)
                return invalid_code
            if time.time() > grant.expires_at:
                return invalid_code
            if grant.redirect_uri is not None and form.get("redirect_uri") != (
                grant.redirect_uri
            ):
                return self.oauth_error(
                    "invalid_grant", 'Invalid "redirect_uri" in request.'
                )
            grant.used = True
            token = self._issue(client_id, grant.user_id, grant.scopes, refresh=True)
            grant.tokens.append(token.access_token)
        return self._token_response(token)

    def _refresh(self, client_id: str, form: dict[str, str]) -> Response:
        refresh = form.get("refresh_token")
        if not refresh:
            return self.oauth_error(
                "invalid_request", 'Missing "refresh_token" in request.'
            )
        with self.lock:
            access = self.refresh_tokens.pop(refresh, None)
            old = self.tokens.get(access) if access else None
            if old is None or old.revoked or old.client_id != client_id:
                return self.oauth_error(
                    "invalid_grant", 'Invalid "refresh_token" in request.'
                )
            old.refresh_token = None
            token = self._issue(client_id, old.user_id, old.scopes, refresh=True)
        return self._token_response(token)

    def _client_credentials(self, client_id: str, form: dict[str, str]) -> Response:
        scopes = tuple((form.get("scope") or "identify").split())
        if any(s not in KNOWN_SCOPES or s in USER_ONLY_SCOPES for s in scopes):
            return self.oauth_error("invalid_scope", "The requested scope is invalid")
        with self.lock:
            token = self._issue(client_id, None, scopes, refresh=False)
        return self._token_response(token)

    def _issue(
        self,
        client_id: str,
        user_id: str | None,
        scopes: tuple[str, ...],
        refresh: bool,
    ) -> Token:
        token = Token(
            access_token=_random_token(),
            client_id=client_id,
            user_id=user_id,
            scopes=scopes,
            expires_at=time.time() + float(self.settings["token_expires_in"]),
            refresh_token=_random_token() if refresh else None,
        )
        self.tokens[token.access_token] = token
        if token.refresh_token:
            self.refresh_tokens[token.refresh_token] = token.access_token
        return token

    def _token_response(self, token: Token) -> Response:
        body: dict[str, Any] = {
            "access_token": token.access_token,
            "token_type": "Bearer",
            "expires_in": int(self.settings["token_expires_in"]),
        }
        if token.refresh_token:
            body["refresh_token"] = token.refresh_token
        body["scope"] = " ".join(token.scopes)
        return Response.json(
            body, 200, [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
        )

    def _revoke_access(self, access: str) -> None:
        token = self.tokens.get(access)
        if token is None:
            return
        token.revoked = True
        if token.refresh_token:
            self.refresh_tokens.pop(token.refresh_token, None)

    def revoke(self, request: Request) -> Response:
        form = self._read_form(request)
        if isinstance(form, Response):
            return form
        if self._client(request, form) is None:
            return self.oauth_error("invalid_client", status=401)
        value = form.get("token")
        if not value:
            return self.oauth_error("invalid_request", 'Missing "token" in request.')
        with self.lock:
            access = self.refresh_tokens.get(value, value)
            self._revoke_access(access)
        # RFC 7009: unknown tokens are not an error.
        return Response.json({}, 200)

    # -- API ------------------------------------------------------------------

    def _bearer(self, request: Request, scope: str | None) -> Token | None:
        header = request.header("Authorization") or ""
        kind, _, value = header.partition(" ")
        if kind.lower() != "bearer" or not value.strip():
            return None
        with self.lock:
            token = self.tokens.get(value.strip())
            if token is None or token.revoked or time.time() > token.expires_at:
                return None
            if scope is not None and scope not in token.scopes:
                return None
            return token

    def _unauthorized(self) -> Response:
        return Response.json({"message": "401: Unauthorized", "code": 0}, 401)

    @staticmethod
    def _user_json(user: DiscordUser, scopes: tuple[str, ...]) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": user.id,
            "username": user.username,
            "discriminator": "0",
            "global_name": user.global_name,
            "avatar": user.avatar,
            "mfa_enabled": False,
            "banner": None,
            "accent_color": None,
            "locale": "en-US",
            "flags": 0,
            "premium_type": 0,
            "public_flags": 0,
        }
        if "email" in scopes:
            data["email"] = user.email
            data["verified"] = True
        return data

    def me(self, request: Request) -> Response:
        token = self._bearer(request, "identify")
        if token is None or token.user_id is None:
            return self._unauthorized()
        return Response.json(self._user_json(USERS[token.user_id], token.scopes))

    def my_guilds(self, request: Request) -> Response:
        token = self._bearer(request, "guilds")
        if token is None or token.user_id is None:
            return self._unauthorized()
        user = USERS[token.user_id]
        limit_text = request.arg("limit", "200") or "200"
        if not limit_text.isdigit():
            return self.form_error("limit", "NUMBER_TYPE_COERCE", "Value is not int.")
        limit = int(limit_text)
        if limit < 1:
            return self.form_error(
                "limit",
                "NUMBER_TYPE_MIN",
                "int value should be greater than or equal to 1.",
            )
        if limit > 200:
            return self.form_error(
                "limit",
                "NUMBER_TYPE_MAX",
                "int value should be less than or equal to 200.",
            )
        for name in ("before", "after"):
            value = request.arg(name)
            if value is not None and not SNOWFLAKE.match(value):
                return self.form_error(
                    name, "NUMBER_TYPE_COERCE", "Value is not snowflake."
                )
        with_counts = (request.arg("with_counts") or "").lower() == "true"
        guilds = sorted((GUILDS[g] for g in user.guild_ids), key=lambda g: int(g.id))
        before, after = request.arg("before"), request.arg("after")
        if before is not None:
            guilds = [g for g in guilds if int(g.id) < int(before)][-limit:]
        elif after is not None:
            guilds = [g for g in guilds if int(g.id) > int(after)][:limit]
        else:
            guilds = guilds[:limit]
        return Response.json([self._guild_json(g, user, with_counts) for g in guilds])

    @staticmethod
    def _guild_json(
        guild: DiscordGuild, user: DiscordUser, counts: bool
    ) -> dict[str, Any]:
        owner = guild.id in user.owns
        data: dict[str, Any] = {
            "id": guild.id,
            "name": guild.name,
            "icon": guild.icon,
            "banner": None,
            "owner": owner,
            # Owner: all permissions; member: the @everyone defaults.
            "permissions": "2251799813685247" if owner else "1071698660929",
            "features": list(guild.features),
        }
        if counts:
            data["approximate_member_count"] = guild.member_count
            data["approximate_presence_count"] = guild.member_count // 4
        return data

    def oauth_me(self, request: Request) -> Response:
        token = self._bearer(request, None)
        if token is None:
            return self._unauthorized()
        data: dict[str, Any] = {
            "application": {
                "id": fx.DISCORD_CLIENT_ID,
                "name": fx.DISCORD_APPLICATION_NAME,
                "icon": None,
                "description": "",
                "hook": True,
                "bot_public": False,
                "bot_require_code_grant": False,
                "verify_key": fx.DISCORD_APPLICATION_VERIFY_KEY,
                "flags": 0,
            },
            "scopes": list(token.scopes),
            "expires": datetime.fromtimestamp(token.expires_at, UTC).isoformat(),
        }
        if token.user_id is not None and "identify" in token.scopes:
            user = USERS[token.user_id]
            data["user"] = {
                "id": user.id,
                "username": user.username,
                "avatar": user.avatar,
                "discriminator": "0",
                "global_name": user.global_name,
                "public_flags": 0,
            }
        return Response.json(data)


def _append_query(url: str, params: dict[str, str]) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{urlencode(params)}"
