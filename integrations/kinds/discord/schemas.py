"""Response shapes of Discord's OAuth2 and user endpoints (PROTOCOLS.md section 2).

Extra fields are allowed (Discord adds fields freely); the rules checked are the
documented ones: ids are snowflakes (numeric strings), ``token_type`` is
``Bearer``, ``permissions`` is a numeric string, a guild page holds at most 200.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    StringConstraints,
)

Snowflake = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,20}$")]
NumericString = Annotated[str, StringConstraints(pattern=r"^[0-9]+$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class TokenResponse(_Model):
    """``POST /oauth2/token``. A client-credentials grant has no refresh token."""

    access_token: str = Field(min_length=1)
    token_type: Literal["Bearer"]
    expires_in: int = Field(gt=0)
    refresh_token: str | None = None
    scope: str

    @property
    def scopes(self) -> list[str]:
        return self.scope.split()


class DiscordUser(_Model):
    """``GET /users/@me``."""

    id: Snowflake
    username: str = Field(min_length=1)
    discriminator: str | None = None
    global_name: str | None = None
    avatar: str | None = None
    bot: bool | None = None


class PartialGuild(_Model):
    id: Snowflake
    name: str
    icon: str | None = None
    owner: bool | None = None
    permissions: NumericString | None = None
    features: list[str] = Field(default_factory=list)


class GuildList(RootModel[list[PartialGuild]]):
    """``GET /users/@me/guilds``: one page, 200 guilds at most."""

    root: list[PartialGuild] = Field(max_length=200)

    def ids(self) -> list[str]:
        return [guild.id for guild in self.root]


class Application(_Model):
    id: Snowflake
    name: str | None = None


class AuthorizationInfo(_Model):
    """``GET /oauth2/@me``: the application, scopes and expiry of a token."""

    application: Application
    scopes: list[str]
    expires: datetime
    user: DiscordUser | None = None


class OAuthError(_Model):
    """RFC 6749 error of the token and revoke endpoints (``invalid_grant``...)."""

    error: str = Field(min_length=1)
    error_description: str | None = None


class ApiError(_Model):
    """Discord API error: ``{code, message, errors?}``."""

    code: int
    message: str
    errors: dict | None = None


class RateLimited(_Model):
    """The body of a 429."""

    message: str
    retry_after: float = Field(ge=0)
    global_: bool = Field(default=False, alias="global")
    code: int | None = None


def error_text(body: object) -> str:
    """A short description of any Discord error body, for messages."""
    if isinstance(body, dict):
        if "error" in body:
            desc = body.get("error_description")
            return f"{body['error']}: {desc}" if desc else str(body["error"])
        if "message" in body:
            return str(body["message"])
    return ""
