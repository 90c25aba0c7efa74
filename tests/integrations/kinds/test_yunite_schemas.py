"""Yunite response schemas: the integrity rules, and how a mismatch is reported."""

from __future__ import annotations

import pytest

from integrations.kinds.base import WorkflowAbort, WorkflowContext, parse_shape
from integrations.kinds.yunite.schemas import (
    RegistrationLinks,
    YuniteAppInfo,
)

EPIC = "3f1c9a7e5b2d4c6e8a0b1c2d3e4f5a6b"


def links_body(**overrides):
    body = {
        "users": [
            {
                "discord": {
                    "id": "402183745162739713",
                    "name": "slayer",
                    "avatar": None,
                },
                "epic": {"epicID": EPIC, "epicName": "SlayerOne"},
                "dateVerified": "2024-05-01T12:00:00Z",
                "chosenPlatform": "PC",
                "chosenPeripheral": "KEYBOARD_MOUSE",
            }
        ],
        "notLinked": ["402183745162739714"],
        "notFound": ["402183745162739715"],
    }
    body.update(overrides)
    return body


def test_a_links_response_classifies_each_outcome():
    links = RegistrationLinks.model_validate(links_body())
    assert links.classify("402183745162739713") == ("linked", EPIC)
    assert links.classify("402183745162739714") == ("notLinked", None)
    assert links.classify("402183745162739715") == ("notFound", None)
    assert links.classify("1") == ("absent", None)


def test_the_legacy_epicId_spelling_is_accepted():
    body = links_body()
    body["users"][0]["epic"] = {"epicId": EPIC, "epicName": "SlayerOne"}
    links = RegistrationLinks.model_validate(body)
    assert links.users[0].epic.epicID == EPIC


@pytest.mark.parametrize(
    "epic_id",
    [
        EPIC.upper(),
        EPIC[:-1],
        EPIC + "0",
        "g" * 32,
        "3f1c9a7e-5b2d-4c6e-8a0b-1c2d3e4f5a6b",
    ],
)
def test_an_epic_id_that_is_not_32_lowercase_hex_is_a_format_error(epic_id):
    body = links_body()
    body["users"][0]["epic"]["epicID"] = epic_id
    model, problem = parse_shape(RegistrationLinks, body)
    assert model is None
    assert problem.endswith("at users.0.epic.epicID")


def test_a_discord_id_that_is_not_a_snowflake_is_a_format_error():
    body = links_body()
    body["users"][0]["discord"]["id"] = "slayer#0001"
    _, problem = parse_shape(RegistrationLinks, body)
    assert problem.endswith("at users.0.discord.id")


def test_an_undocumented_platform_is_a_format_error():
    body = links_body()
    body["users"][0]["chosenPlatform"] = "AMIGA"
    _, problem = parse_shape(RegistrationLinks, body)
    assert problem.endswith("at users.0.chosenPlatform")


def test_a_links_response_without_notFound_is_a_format_error():
    body = links_body()
    del body["notFound"]
    _, problem = parse_shape(RegistrationLinks, body)
    assert problem == "Field required at notFound"


def test_app_info_finds_an_authorized_guild_and_its_permissions():
    info = YuniteAppInfo.model_validate(
        {
            "app": {"id": "65f0c0ffee0000000000a001", "name": "Pay2Slay"},
            "authorizedGuilds": [
                {"guildId": "1101234567890123456", "permissions": ["READ_REGISTRATION"]}
            ],
        }
    )
    assert info.guild("1101234567890123456").permissions == ["READ_REGISTRATION"]
    assert info.guild("1101234567890123459") is None


def test_a_workflow_shape_check_fails_a_response_format_assertion_naming_the_path():
    ctx = WorkflowContext(endpoint=None, http=None, test_data={})
    body = links_body()
    body["users"][0]["epic"]["epicID"] = EPIC.upper()
    with pytest.raises(WorkflowAbort, match="users.0.epic.epicID"):
        ctx.check_shape("registration links", RegistrationLinks, body)
    [assertion] = ctx.assertions
    assert assertion.name == "response format: registration links"
    assert assertion.passed is False
    assert "users.0.epic.epicID" in assertion.actual
