from __future__ import annotations

import re
import time

import pytest
import requests

from integrations.simulators import fixtures as fx
from tests.integrations.simulators.conftest import set_faults, set_settings

AUTH = {"Y-Api-Token": fx.YUNITE_API_TOKEN}


def links_url(sim, guild_id: str = fx.YUNITE_GUILD_ID) -> str:
    return f"{sim.url}/yunite/api/v3/guild/{guild_id}/registration/links"


def test_it_classifies_linked_not_linked_and_not_found_ids(sim, http) -> None:
    ids = [
        fx.YUNITE_LINKED_DISCORD_ID,
        fx.YUNITE_NOT_LINKED_DISCORD_ID,
        fx.YUNITE_NOT_FOUND_DISCORD_ID,
    ]
    reply = http.post(
        links_url(sim), json={"type": "DISCORD", "userIds": ids}, headers=AUTH
    )
    assert reply.status_code == 200
    body = reply.json()
    assert body["notLinked"] == [fx.YUNITE_NOT_LINKED_DISCORD_ID]
    assert body["notFound"] == [fx.YUNITE_NOT_FOUND_DISCORD_ID]
    (user,) = body["users"]
    assert user["discord"]["id"] == fx.YUNITE_LINKED_DISCORD_ID
    assert set(user["discord"]) == {"id", "name", "avatar"}
    assert user["epic"] == {
        "epicID": fx.YUNITE_LINKED_EPIC_ID,
        "epicName": fx.YUNITE_LINKED_EPIC_NAME,
    }
    assert re.fullmatch(r"[0-9a-f]{32}", user["epic"]["epicID"])
    assert user["chosenPlatform"] in {"PC", "PS4", "XB1", "SWITCH", "MOBILE"}
    assert user["chosenPeripheral"] in {"KEYBOARD_MOUSE", "CONTROLLER", "TOUCH"}
    assert user["dateVerified"].endswith("Z")


def test_it_looks_up_by_epic_id_too(sim, http) -> None:
    body = {"type": "EPIC", "userIds": [fx.YUNITE_LINKED_EPIC_ID, "0" * 32]}
    reply = http.post(links_url(sim), json=body, headers=AUTH).json()
    assert reply["users"][0]["discord"]["id"] == fx.YUNITE_LINKED_DISCORD_ID
    assert reply["notFound"] == ["0" * 32]


def test_app_info_lists_the_authorized_guilds_and_permissions(sim, http) -> None:
    body = http.get(f"{sim.url}/yunite/api/v3/app", headers=AUTH).json()
    assert body["app"] == {
        "id": fx.YUNITE_APP_ID,
        "name": fx.YUNITE_APP_NAME,
        "ownerId": fx.YUNITE_APP_OWNER_ID,
        "imageUrl": None,
        "verified": False,
        "publicApp": False,
    }
    guilds = {g["guildId"]: g for g in body["authorizedGuilds"]}
    assert "READ_REGISTRATION" in guilds[fx.YUNITE_GUILD_ID]["permissions"]
    assert fx.YUNITE_UNAUTHORIZED_GUILD_ID not in guilds
    assert "guildName" not in guilds[fx.YUNITE_GUILD_ID]
    named = http.get(
        f"{sim.url}/yunite/api/v3/app?withGuildNames=true", headers=AUTH
    ).json()
    assert named["authorizedGuilds"][0]["guildName"] == fx.DISCORD_GUILD_NAME


def test_every_response_carries_the_rate_limit_headers(sim, http) -> None:
    reply = http.get(f"{sim.url}/yunite/api/v3/app", headers=AUTH)
    assert reply.headers["Y-RateLimit-Bucket"] == "app"
    assert int(reply.headers["Y-RateLimit-Permits"]) > 0
    assert int(reply.headers["Y-RateLimit-ResetIn"]) >= 0
    denied = http.get(f"{sim.url}/yunite/api/v3/app")
    assert "Y-RateLimit-Permits" in denied.headers


@pytest.mark.parametrize(
    ("guild_id", "token", "body", "status"),
    [
        (fx.YUNITE_GUILD_ID, "wrong-token", None, 401),
        (fx.YUNITE_NO_PREMIUM_GUILD_ID, fx.YUNITE_API_TOKEN, None, 402),
        (fx.YUNITE_UNAUTHORIZED_GUILD_ID, fx.YUNITE_API_TOKEN, None, 403),
        (fx.YUNITE_NO_PERMISSION_GUILD_ID, fx.YUNITE_API_TOKEN, None, 403),
        (
            fx.YUNITE_GUILD_ID,
            fx.YUNITE_API_TOKEN,
            {"type": "STEAM", "userIds": ["1"]},
            400,
        ),
        (
            fx.YUNITE_GUILD_ID,
            fx.YUNITE_API_TOKEN,
            {"type": "DISCORD", "userIds": []},
            400,
        ),
        (fx.YUNITE_GUILD_ID, fx.YUNITE_API_TOKEN, {"type": "DISCORD"}, 400),
        ("not-a-guild", fx.YUNITE_API_TOKEN, None, 400),
    ],
)
def test_errors_are_keyed_on_the_status_code_with_a_small_json_body(
    sim, http, guild_id, token, body, status
) -> None:
    body = body or {"type": "DISCORD", "userIds": [fx.YUNITE_LINKED_DISCORD_ID]}
    reply = http.post(
        links_url(sim, guild_id), json=body, headers={"Y-Api-Token": token}
    )
    assert reply.status_code == status
    assert set(reply.json()) == {"error", "message"}


def test_a_malformed_json_body_is_a_400(sim, http) -> None:
    reply = http.post(
        links_url(sim),
        data="{not json",
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert reply.status_code == 400


def test_an_unknown_route_is_a_404(sim, http) -> None:
    reply = http.get(f"{sim.url}/yunite/api/v3/guilds/1/members/2", headers=AUTH)
    assert reply.status_code == 404
    assert reply.json()["error"] == "Not Found"


def test_rate_limited_answers_429_with_reset_in(sim, http) -> None:
    set_faults(sim, "yunite", rate_limited=True, retry_after=7)
    reply = http.post(
        links_url(sim),
        json={"type": "DISCORD", "userIds": [fx.YUNITE_LINKED_DISCORD_ID]},
        headers=AUTH,
    )
    assert reply.status_code == 429
    assert reply.headers["Y-RateLimit-ResetIn"] == "7"
    assert reply.headers["Y-RateLimit-Permits"] == "0"
    assert reply.headers["Y-RateLimit-Bucket"] == "registration"


def test_the_slow_user_answers_after_a_delay(sim, http) -> None:
    set_settings(sim, "yunite", slow_user_delay_seconds=0.6)
    body = {"type": "DISCORD", "userIds": [fx.YUNITE_SLOW_DISCORD_ID]}
    with pytest.raises(requests.ReadTimeout):
        requests.post(links_url(sim), json=body, headers=AUTH, timeout=0.3)
    started = time.monotonic()
    reply = http.post(links_url(sim), json=body, headers=AUTH)
    assert time.monotonic() - started >= 0.6
    assert reply.json()["users"][0]["epic"]["epicID"] == fx.YUNITE_SLOW_EPIC_ID


def test_a_guild_that_revoked_the_app_disappears_and_is_forbidden(sim, http) -> None:
    set_settings(sim, "yunite", revoked_guild_ids=[fx.YUNITE_GUILD_ID])
    app = http.get(f"{sim.url}/yunite/api/v3/app", headers=AUTH).json()
    assert fx.YUNITE_GUILD_ID not in {g["guildId"] for g in app["authorizedGuilds"]}
    body = {"type": "DISCORD", "userIds": [fx.YUNITE_LINKED_DISCORD_ID]}
    assert http.post(links_url(sim), json=body, headers=AUTH).status_code == 403
