"""Discord response schemas: the integrity rules, and how a mismatch is reported."""

from __future__ import annotations

import pytest

from integrations.kinds.base import WorkflowAbort, WorkflowContext, parse_shape
from integrations.kinds.discord.schemas import (
    AuthorizationInfo,
    GuildList,
    OAuthError,
    RateLimited,
    TokenResponse,
    error_text,
)

TOKEN = {
    "access_token": "6qrZcUqja7812RVdnEKjpzOL4CvHBFG",
    "token_type": "Bearer",
    "expires_in": 604800,
    "refresh_token": "D43f5y0ahjqew82jZ4NViEr2YafMKhue",
    "scope": "identify guilds",
}


def guild(**overrides):
    entry = {
        "id": "1101234567890123456",
        "name": "Pay2Slay",
        "icon": None,
        "owner": False,
        "permissions": "104324673",
        "features": [],
    }
    entry.update(overrides)
    return entry


def test_a_token_response_lists_its_scopes():
    token = TokenResponse.model_validate(TOKEN)
    assert token.scopes == ["identify", "guilds"]


def test_a_client_credentials_token_needs_no_refresh_token():
    body = {k: v for k, v in TOKEN.items() if k != "refresh_token"}
    assert TokenResponse.model_validate(body).refresh_token is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("token_type", "bearer"),
        ("token_type", "Bot"),
        ("expires_in", 0),
        ("access_token", ""),
    ],
)
def test_a_token_response_breaking_a_rule_is_a_format_error(field, value):
    _, problem = parse_shape(TokenResponse, {**TOKEN, field: value})
    assert problem.endswith(f"at {field}")


def test_a_guild_id_that_is_not_a_snowflake_is_a_format_error_naming_its_index():
    body = [guild(), guild(id="pay2slay")]
    _, problem = parse_shape(GuildList, body)
    assert problem.endswith("at 1.id")


def test_guild_permissions_must_be_a_numeric_string():
    _, problem = parse_shape(GuildList, [guild(permissions=104324673)])
    assert problem.endswith("at 0.permissions")


def test_a_guild_page_holds_at_most_200_guilds():
    too_many = [guild(id=str(10**17 + n)) for n in range(201)]
    _, problem = parse_shape(GuildList, too_many)
    assert problem is not None
    assert GuildList.model_validate(too_many[:200]).ids()[0] == str(10**17)


def test_authorization_info_exposes_the_application_id():
    info = AuthorizationInfo.model_validate(
        {
            "application": {"id": "1208355813421154304", "name": "Pay2Slay"},
            "scopes": ["identify"],
            "expires": "2030-01-01T00:00:00+00:00",
        }
    )
    assert info.application.id == "1208355813421154304"
    _, problem = parse_shape(AuthorizationInfo, {"application": {"id": "x"}})
    assert problem.endswith("at application.id")


def test_error_bodies_are_described_for_messages():
    oauth = {
        "error": "invalid_grant",
        "error_description": 'Invalid "code" in request.',
    }
    assert OAuthError.model_validate(oauth).error == "invalid_grant"
    assert error_text(oauth) == 'invalid_grant: Invalid "code" in request.'
    assert (
        error_text({"message": "401: Unauthorized", "code": 0}) == "401: Unauthorized"
    )
    assert error_text("<html>") == ""
    limited = RateLimited.model_validate(
        {"message": "You are being rate limited.", "retry_after": 1.5, "global": True}
    )
    assert limited.global_ is True


def test_a_workflow_shape_check_aborts_with_the_path_of_the_mismatch():
    ctx = WorkflowContext(endpoint=None, http=None, test_data={})
    with pytest.raises(WorkflowAbort, match="token_type"):
        ctx.check_shape("token response", TokenResponse, {**TOKEN, "token_type": "mac"})
    assert ctx.assertions[0].name == "response format: token response"
    assert ctx.assertions[0].passed is False
