"""Response shapes of the Yunite v3 API (PROTOCOLS.md section 1).

Unknown extra fields are allowed everywhere (Yunite may add fields); the rules
checked are the ones the protocol states: Discord ids are snowflakes (numeric
strings), Epic ids are 32 lowercase hex characters, and platform/peripheral
values come from the documented sets.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)

Snowflake = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,20}$")]
EpicId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]

READ_REGISTRATION = "READ_REGISTRATION"


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class YuniteApp(_Model):
    id: str = Field(min_length=1)
    name: str
    ownerId: str | None = None
    imageUrl: str | None = None
    verified: bool | None = None
    publicApp: bool | None = None


class AuthorizedGuild(_Model):
    guildId: Snowflake
    permissions: list[str]


class YuniteAppInfo(_Model):
    """``GET /v3/app``: the app and the guilds that authorized it."""

    app: YuniteApp
    authorizedGuilds: list[AuthorizedGuild]

    def guild(self, guild_id: str) -> AuthorizedGuild | None:
        return next((g for g in self.authorizedGuilds if g.guildId == guild_id), None)


class DiscordAccount(_Model):
    id: Snowflake
    name: str | None = None
    avatar: str | None = None


class EpicAccount(_Model):
    # Pay2Slay reads ``epicID`` or ``epicId``; accept both spellings.
    epicID: EpicId = Field(validation_alias=AliasChoices("epicID", "epicId"))
    epicName: str | None = None


class LinkedUser(_Model):
    discord: DiscordAccount
    epic: EpicAccount
    dateVerified: datetime | None = None
    chosenPlatform: Literal["PC", "PS4", "XB1", "SWITCH", "MOBILE"] | None = None
    chosenPeripheral: Literal["KEYBOARD_MOUSE", "CONTROLLER", "TOUCH"] | None = None


class RegistrationLinks(_Model):
    """``POST /v3/guild/{guildId}/registration/links``."""

    users: list[LinkedUser]
    notLinked: list[str]
    notFound: list[str]

    def classify(self, user_id: str) -> tuple[str, str | None]:
        """Return ``(outcome, epic_id)`` for a Discord id: ``linked`` with its
        Epic id, ``notLinked``, ``notFound``, or ``absent`` when the id is in
        none of the three lists (a protocol violation)."""
        for user in self.users:
            if user.discord.id == user_id:
                return "linked", user.epic.epicID
        if user_id in self.notLinked:
            return "notLinked", None
        if user_id in self.notFound:
            return "notFound", None
        return "absent", None


class YuniteError(_Model):
    """Yunite documents status codes but not error bodies: any small JSON
    object is accepted, and its usual message fields are picked up."""

    error: str | None = None
    message: str | None = None
    code: int | str | None = None

    def describe(self) -> str:
        return self.message or self.error or ""
