"""Discord workflows."""

from __future__ import annotations

import secrets
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from integrations.http import OutboundError
from integrations.kinds.base import (
    Workflow,
    WorkflowAbort,
    WorkflowContext,
    parse_shape,
    register_workflow,
)
from integrations.kinds.discord.client import DiscordClient, rate_limit_headers
from integrations.kinds.discord.schemas import (
    DiscordUser,
    GuildList,
    OAuthError,
    TokenResponse,
    error_text,
)

DEFAULT_SCOPE = "identify guilds"
# A callback no application registers: the token endpoint must refuse a code
# issued for the real redirect_uri when it is redeemed with this one.
WRONG_REDIRECT_URI = "https://wrong-redirect.invalid/callback"


class OAuthFlowInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: str = Field(default=DEFAULT_SCOPE, min_length=1)
    expect_member: bool = True


def _json(response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _refusal(response) -> str:
    """How a refused request reads in an assertion: status and error code."""
    body = _json(response)
    error = error_text(body)
    return f"{response.status_code} {error}".strip()


@register_workflow
class DiscordOAuthFlow(Workflow):
    """The authorization-code login Pay2Slay performs, step by step, plus the
    refusals a correct OAuth2 server must make."""

    name = "discord_oauth_flow"
    kinds = ("discord",)
    description = (
        "authorize -> code -> form-encoded token exchange -> /users/@me -> "
        "/users/@me/guilds (guild membership); then a replayed code, a JSON "
        "body and a wrong redirect_uri must be refused. The token is revoked."
    )
    input_model = OAuthFlowInput

    def defaults(self, endpoint) -> dict[str, Any]:
        scope = (endpoint.settings or {}).get("scope")
        return {"scope": scope} if scope else {}

    def run(self, ctx: WorkflowContext, data: OAuthFlowInput) -> None:
        settings = ctx.endpoint.settings or {}
        redirect_uri = settings.get("redirect_uri")
        guild_id = str(settings.get("guild_id") or "")
        if not redirect_uri or not guild_id:
            raise ValueError(
                "endpoint settings.redirect_uri and settings.guild_id must be set"
            )
        client = DiscordClient(
            ctx.http, authorize_endpoint=settings.get("authorize_url", "")
        )
        scopes = data.scope.split()
        ctx.require(
            "requested scope includes guilds", "guilds", data.scope, "guilds" in scopes
        )

        code = self._authorize(ctx, client, data.scope, redirect_uri, "authorize")
        exchange = client.exchange_code(code, redirect_uri)
        ctx.notes["token_rate_limit"] = rate_limit_headers(exchange)
        if not ctx.check_equal("token exchange status", 200, exchange.status_code):
            raise WorkflowAbort(f"token exchange refused: {_refusal(exchange)}")
        token = ctx.check_shape("token response", TokenResponse, _json(exchange))
        tokens_to_revoke = [token.access_token]
        try:
            ctx.check(
                "token scopes cover the requested scopes",
                sorted(scopes),
                token.scope,
                set(scopes) <= set(token.scopes),
            )
            ctx.check(
                "refresh_token issued",
                "present",
                "present" if token.refresh_token else "missing",
                bool(token.refresh_token),
            )
            self._identity(ctx, client, token, guild_id, data.expect_member)
            self._negatives(
                ctx, client, data.scope, redirect_uri, code, tokens_to_revoke
            )
        finally:
            for access_token in tokens_to_revoke:
                self._revoke(ctx, client, access_token)

    def _revoke(self, ctx, client, access_token) -> None:
        # Runs in ``finally``: a transport error here must not hide the
        # outcome of the steps before it.
        try:
            revoked = client.revoke(access_token)
        except OutboundError as exc:
            ctx.check("token revoked", 200, str(exc), False)
            return
        ctx.check_equal("token revoked", 200, revoked.status_code)

    # -- steps -------------------------------------------------------------------

    def _authorize(self, ctx, client, scope, redirect_uri, step) -> str:
        """Open the consent URL and return the code from the redirect."""
        state = secrets.token_urlsafe(16)
        url = client.authorize_url(redirect_uri=redirect_uri, scope=scope, state=state)
        redirect = client.follow_authorize(url)
        name = f"{step}: redirects to redirect_uri"
        if not 300 <= redirect.status_code < 400:
            ctx.check(name, redirect_uri, f"HTTP {redirect.status_code}", False)
            hint = (
                " (a live Discord shows its consent page: a logged-in user must "
                "approve)"
                if redirect.status_code == 200
                else ""
            )
            raise WorkflowAbort(
                f"{step} answered {_refusal(redirect.response)} instead of a "
                f"redirect{hint}"
            )
        ctx.require(
            name,
            redirect_uri,
            redirect.redirect_base or "no Location",
            redirect.redirect_base == redirect_uri,
        )
        ctx.require(
            f"{step}: no error in redirect",
            None,
            redirect.error,
            redirect.error is None,
        )
        ctx.require(
            f"{step}: state echoed", state, redirect.state, redirect.state == state
        )
        ctx.require(
            f"{step}: code issued",
            "a code",
            "a code" if redirect.code else None,
            bool(redirect.code),
        )
        return redirect.code

    def _identity(self, ctx, client, token, guild_id, expect_member) -> None:
        me = client.me(token.access_token, token_type=token.token_type)
        if not ctx.check_equal("/users/@me status", 200, me.status_code):
            raise WorkflowAbort(f"/users/@me refused: {_refusal(me)}")
        user = ctx.check_shape("/users/@me", DiscordUser, _json(me))
        ctx.notes["user_id"] = user.id
        ctx.notes["username"] = user.username

        guilds_response = client.my_guilds(
            token.access_token, token_type=token.token_type
        )
        ctx.notes["guilds_rate_limit"] = rate_limit_headers(guilds_response)
        if not ctx.check_equal(
            "/users/@me/guilds status", 200, guilds_response.status_code
        ):
            raise WorkflowAbort(
                f"/users/@me/guilds refused: {_refusal(guilds_response)}"
            )
        guilds = ctx.check_shape("/users/@me/guilds", GuildList, _json(guilds_response))
        member = guild_id in guilds.ids()
        ctx.notes["guild_count"] = len(guilds.root)
        ctx.check_equal(f"member of guild {guild_id}", expect_member, member)

    def _negatives(self, ctx, client, scope, redirect_uri, used_code, tokens) -> None:
        replay = client.exchange_code(used_code, redirect_uri)
        self._refused(
            ctx,
            "replayed code refused with 400 invalid_grant",
            replay,
            tokens,
            status=400,
            error="invalid_grant",
        )

        fresh = self._authorize(ctx, client, scope, redirect_uri, "second authorize")
        as_json = client.exchange_code(fresh, redirect_uri, encoding="json")
        self._refused(ctx, "JSON-encoded token request refused", as_json, tokens)

        fresh = self._authorize(ctx, client, scope, redirect_uri, "third authorize")
        wrong = client.exchange_code(fresh, WRONG_REDIRECT_URI)
        self._refused(
            ctx, "token request with a wrong redirect_uri refused", wrong, tokens
        )

    def _refused(self, ctx, name, response, tokens, *, status=None, error=None) -> None:
        body = _json(response)
        accepted, _ = parse_shape(TokenResponse, body)
        if accepted is not None:
            # The server wrongly issued a token: revoke it with the others.
            tokens.append(accepted.access_token)
        refused = 400 <= response.status_code < 500 and accepted is None
        if status is not None:
            oauth_error, _ = parse_shape(OAuthError, body)
            refused = (
                refused
                and response.status_code == status
                and oauth_error is not None
                and oauth_error.error == error
            )
        expected = f"{status} {error}" if status else "4xx, no token"
        ctx.check(name, expected, _refusal(response), refused)
