"""Yunite API simulator, base ``{url}/yunite/api``.

Serves ``GET /v3/app`` and ``POST /v3/guild/{guildId}/registration/links`` with the
``Y-Api-Token`` header. Yunite documents the status codes but not the error
bodies, so errors are a small ``{"error": <reason>, "message": <detail>}``.
Every response carries ``Y-RateLimit-Bucket``, ``-Permits`` and ``-ResetIn``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from integrations.simulators import fixtures as fx
from integrations.simulators.base import (
    BodyError,
    FaultValidator,
    Request,
    Response,
    Service,
    reason_phrase,
)

SNOWFLAKE = re.compile(r"^\d{15,21}$")
EPIC_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_USER_IDS = 100


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError("must be a number >= 0")
    return float(value)


def _token(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("must be a non-empty string")
    return value


def _ids(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("must be a list of guild ids")
    return value


@dataclass(frozen=True)
class YuniteGuild:
    id: str
    name: str
    permissions: tuple[str, ...]
    premium: bool


@dataclass(frozen=True)
class LinkedUser:
    discord_id: str
    discord_name: str
    avatar: str | None
    epic_id: str
    epic_name: str
    date_verified: str
    platform: str
    peripheral: str


GUILDS = (
    YuniteGuild(
        fx.YUNITE_GUILD_ID,
        fx.DISCORD_GUILD_NAME,
        ("READ_REGISTRATION", "READ_CUSTOM_STATE"),
        premium=True,
    ),
    YuniteGuild(
        fx.YUNITE_NO_PREMIUM_GUILD_ID,
        "Pay2Slay Free Tier",
        ("READ_REGISTRATION",),
        premium=False,
    ),
    YuniteGuild(
        fx.YUNITE_NO_PERMISSION_GUILD_ID,
        "Pay2Slay Tournaments",
        ("READ_TOURNAMENTS",),
        premium=True,
    ),
)

LINKED_USERS = (
    LinkedUser(
        fx.YUNITE_LINKED_DISCORD_ID,
        fx.DISCORD_MEMBER_USERNAME,
        "a1b2c3d4e5f60718293a4b5c6d7e8f90",
        fx.YUNITE_LINKED_EPIC_ID,
        fx.YUNITE_LINKED_EPIC_NAME,
        "2024-03-01T12:00:00.000Z",
        "PC",
        "KEYBOARD_MOUSE",
    ),
    LinkedUser(
        fx.YUNITE_SLOW_DISCORD_ID,
        fx.DISCORD_SLOW_USERNAME,
        None,
        fx.YUNITE_SLOW_EPIC_ID,
        fx.YUNITE_SLOW_EPIC_NAME,
        "2024-04-15T08:30:00.000Z",
        "PS4",
        "CONTROLLER",
    ),
    LinkedUser(
        fx.YUNITE_ADMIN_DISCORD_ID,
        fx.DISCORD_ADMIN_USERNAME,
        None,
        fx.YUNITE_ADMIN_EPIC_ID,
        fx.YUNITE_ADMIN_EPIC_NAME,
        "2024-02-10T18:45:00.000Z",
        "SWITCH",
        "CONTROLLER",
    ),
)
# In the guild but never linked an Epic account.
NOT_LINKED_DISCORD_IDS = (fx.YUNITE_NOT_LINKED_DISCORD_ID,)


class YuniteSimulator(Service):
    name = "yunite"
    prefix = "/yunite"
    base_path = "/api"
    nominal_limit = 100
    nominal_window_seconds = 10.0
    default_settings: ClassVar[dict[str, Any]] = {
        "slow_user_delay_seconds": fx.YUNITE_SLOW_DELAY_SECONDS,
        "api_token": fx.YUNITE_API_TOKEN,
        # Guilds that withdrew the app: gone from /v3/app, 403 on links.
        "revoked_guild_ids": [],
    }
    setting_validators: ClassVar[dict[str, FaultValidator]] = {
        "slow_user_delay_seconds": _seconds,
        "api_token": _token,
        "revoked_guild_ids": _ids,
    }

    def routes(self) -> None:
        self.router.add("GET", "/api/v3/app", self.app_info)
        self.router.add(
            "POST", "/api/v3/guild/{guild_id}/registration/links", self.links
        )

    def describe(self) -> dict[str, Any]:
        return {
            "guilds": [
                {"id": g.id, "permissions": list(g.permissions), "premium": g.premium}
                for g in GUILDS
            ],
            "unauthorized_guild": fx.YUNITE_UNAUTHORIZED_GUILD_ID,
            "linked": [u.discord_id for u in LINKED_USERS],
            "not_linked": list(NOT_LINKED_DISCORD_IDS),
            "slow_user": fx.YUNITE_SLOW_DISCORD_ID,
        }

    def error(
        self, request: Request, status: int, message: str | None = None
    ) -> Response:
        return Response.json(
            {
                "error": reason_phrase(status),
                "message": message or reason_phrase(status),
            },
            status,
        )

    def rate_limited(self, request: Request, retry_after: float) -> Response:
        return self.error(request, 429, "You are being rate limited.")

    def decorate(self, request: Request, response: Response) -> None:
        rate = request.rate
        if rate is None:
            return
        bucket = "registration" if "/registration/" in request.path else "app"
        remaining = 0 if rate.limited else rate.remaining
        reset_in = rate.reset_after
        response.set_header("Y-RateLimit-Bucket", bucket)
        response.set_header("Y-RateLimit-Permits", str(remaining))
        response.set_header("Y-RateLimit-ResetIn", str(math.ceil(reset_in)))

    def _guilds(self) -> list[YuniteGuild]:
        revoked = set(self.settings["revoked_guild_ids"])
        return [g for g in GUILDS if g.id not in revoked]

    def _authorized(self, request: Request) -> bool:
        return request.header("Y-Api-Token") == self.settings["api_token"]

    def app_info(self, request: Request) -> Response:
        if not self._authorized(request):
            return self.error(request, 401, "Invalid or missing Y-Api-Token")
        with_names = (request.arg("withGuildNames") or "").lower() == "true"
        guilds = []
        for guild in self._guilds():
            entry: dict[str, Any] = {
                "guildId": guild.id,
                "permissions": list(guild.permissions),
            }
            if with_names:
                entry["guildName"] = guild.name
            guilds.append(entry)
        return Response.json(
            {
                "app": {
                    "id": fx.YUNITE_APP_ID,
                    "name": fx.YUNITE_APP_NAME,
                    "ownerId": fx.YUNITE_APP_OWNER_ID,
                    "imageUrl": None,
                    "verified": False,
                    "publicApp": False,
                },
                "authorizedGuilds": guilds,
            }
        )

    def links(self, request: Request) -> Response:
        if not self._authorized(request):
            return self.error(request, 401, "Invalid or missing Y-Api-Token")
        guild_id = request.params["guild_id"]
        if not SNOWFLAKE.match(guild_id):
            return self.error(request, 400, "Invalid guild id")
        guild = next((g for g in self._guilds() if g.id == guild_id), None)
        if guild is None:
            return self.error(request, 403, "The app is not authorized for this guild")
        if "READ_REGISTRATION" not in guild.permissions:
            return self.error(request, 403, "Missing permission READ_REGISTRATION")
        if not guild.premium:
            return self.error(request, 402, "This guild has no active Premium")
        try:
            body = request.json()
        except BodyError:
            return self.error(request, 400, "Malformed JSON body")
        problem = self._validate(body)
        if problem:
            return self.error(request, 400, problem)
        kind, user_ids = body["type"], body["userIds"]
        users: list[dict[str, Any]] = []
        not_linked: list[str] = []
        not_found: list[str] = []
        slow = False
        for user_id in user_ids:
            linked = next(
                (
                    u
                    for u in LINKED_USERS
                    if (u.discord_id if kind == "DISCORD" else u.epic_id) == user_id
                ),
                None,
            )
            if linked is not None:
                users.append(self._user(linked))
                slow = slow or linked.discord_id == fx.YUNITE_SLOW_DISCORD_ID
            elif kind == "DISCORD" and user_id in NOT_LINKED_DISCORD_IDS:
                not_linked.append(user_id)
            else:
                not_found.append(user_id)
        if slow:
            request.sleep(float(self.settings["slow_user_delay_seconds"]))
        return Response.json(
            {"users": users, "notLinked": not_linked, "notFound": not_found}
        )

    @staticmethod
    def _validate(body: Any) -> str | None:
        if not isinstance(body, dict):
            return "Body must be a JSON object"
        if body.get("type") not in ("DISCORD", "EPIC"):
            return 'type must be "DISCORD" or "EPIC"'
        ids = body.get("userIds")
        if not isinstance(ids, list) or not ids:
            return "userIds must be a non-empty array"
        if len(ids) > MAX_USER_IDS:
            return f"userIds must not contain more than {MAX_USER_IDS} ids"
        pattern = SNOWFLAKE if body["type"] == "DISCORD" else EPIC_ID
        for user_id in ids:
            if not isinstance(user_id, str) or not pattern.match(user_id):
                return f"Invalid user id {user_id!r} for type {body['type']}"
        return None

    @staticmethod
    def _user(user: LinkedUser) -> dict[str, Any]:
        return {
            "discord": {
                "id": user.discord_id,
                "name": user.discord_name,
                "avatar": user.avatar,
            },
            "epic": {"epicID": user.epic_id, "epicName": user.epic_name},
            "dateVerified": user.date_verified,
            "chosenPlatform": user.platform,
            "chosenPeripheral": user.peripheral,
        }
