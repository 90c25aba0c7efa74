from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from integrations.simulators import fixtures as fx
from tests.integrations.simulators.conftest import set_faults, set_settings

REDIRECT = "http://127.0.0.1:8000/testing/oauth/callback"
INVALID_CODE = {
    "error": "invalid_grant",
    "error_description": 'Invalid "code" in request.',
}
CLIENT = (fx.DISCORD_CLIENT_ID, fx.DISCORD_CLIENT_SECRET)


def authorize(sim, http, path: str = "/discord/oauth2/authorize", **params) -> dict:
    query = {
        "response_type": "code",
        "client_id": fx.DISCORD_CLIENT_ID,
        "scope": "identify guilds",
        "state": "st-123",
        "redirect_uri": REDIRECT,
        **params,
    }
    reply = http.get(f"{sim.url}{path}", params=query, allow_redirects=False)
    assert reply.status_code == 302, reply.text
    location = reply.headers["Location"]
    assert location.startswith(query["redirect_uri"] + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def exchange(sim, http, code: str, redirect_uri: str = REDIRECT, **kwargs):
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": fx.DISCORD_CLIENT_ID,
        "client_secret": fx.DISCORD_CLIENT_SECRET,
    }
    return http.post(f"{sim.url}/discord/api/oauth2/token", data=form, **kwargs)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_whole_authorization_code_flow_works_for_the_member(sim, http) -> None:
    params = authorize(sim, http)
    assert params["state"] == "st-123"
    assert len(params["code"]) == 30
    reply = exchange(sim, http, params["code"])
    assert reply.status_code == 200
    token = reply.json()
    assert set(token) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "scope",
    }
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 604800
    assert token["scope"] == "identify guilds"
    me = http.get(
        f"{sim.url}/discord/api/users/@me", headers=bearer(token["access_token"])
    )
    assert me.json()["id"] == fx.DISCORD_MEMBER_USER_ID
    assert me.json()["username"] == fx.DISCORD_MEMBER_USERNAME
    assert me.json()["discriminator"] == "0"
    assert "email" not in me.json()
    guilds = http.get(
        f"{sim.url}/discord/api/users/@me/guilds", headers=bearer(token["access_token"])
    ).json()
    pay2slay = next(g for g in guilds if g["id"] == fx.DISCORD_GUILD_ID)
    assert pay2slay["name"] == fx.DISCORD_GUILD_NAME
    assert isinstance(pay2slay["permissions"], str)
    assert set(pay2slay) == {
        "id",
        "name",
        "icon",
        "banner",
        "owner",
        "permissions",
        "features",
    }


def test_the_v10_prefix_and_the_api_authorize_path_work_too(sim, http) -> None:
    params = authorize(sim, http, path="/discord/api/oauth2/authorize")
    token = http.post(
        f"{sim.url}/discord/api/v10/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": REDIRECT,
        },
        auth=CLIENT,
    ).json()
    me = http.get(
        f"{sim.url}/discord/api/v10/users/@me", headers=bearer(token["access_token"])
    )
    assert me.status_code == 200


def test_a_code_is_single_use_and_a_replay_revokes_its_token(sim, http) -> None:
    code = authorize(sim, http)["code"]
    token = exchange(sim, http, code).json()["access_token"]
    replay = exchange(sim, http, code)
    assert replay.status_code == 400
    assert replay.json() == INVALID_CODE
    me = http.get(f"{sim.url}/discord/api/users/@me", headers=bearer(token))
    assert me.status_code == 401


def test_a_code_expires(sim, http) -> None:
    set_settings(sim, "discord", code_ttl_seconds=0.2)
    code = authorize(sim, http)["code"]
    time.sleep(0.3)
    reply = exchange(sim, http, code)
    assert reply.status_code == 400
    assert reply.json() == INVALID_CODE


def test_a_wrong_redirect_uri_is_an_invalid_grant(sim, http) -> None:
    code = authorize(sim, http)["code"]
    reply = exchange(sim, http, code, redirect_uri="http://localhost/callback")
    assert reply.status_code == 400
    assert reply.json()["error"] == "invalid_grant"
    # The code was not spent by the failed attempt.
    assert exchange(sim, http, code).status_code == 200


def test_the_token_endpoint_accepts_only_form_bodies(sim, http) -> None:
    code = authorize(sim, http)["code"]
    reply = http.post(
        f"{sim.url}/discord/api/oauth2/token",
        json={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
        },
        auth=CLIENT,
    )
    assert reply.status_code == 400
    assert reply.json()["error"] == "invalid_request"
    assert set(reply.json()) == {"error", "error_description"}


@pytest.mark.parametrize("auth", [("x", "y"), (fx.DISCORD_CLIENT_ID, "wrong"), None])
def test_bad_client_credentials_are_invalid_client(sim, http, auth) -> None:
    reply = http.post(
        f"{sim.url}/discord/api/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "identify"},
        auth=auth,
    )
    assert reply.status_code == 401
    assert reply.json() == {"error": "invalid_client"}


def test_client_credentials_give_an_application_token_without_a_user(sim, http) -> None:
    reply = http.post(
        f"{sim.url}/discord/api/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "identify"},
        auth=CLIENT,
    )
    token = reply.json()
    assert "refresh_token" not in token
    assert token["scope"] == "identify"
    info = http.get(
        f"{sim.url}/discord/api/oauth2/@me", headers=bearer(token["access_token"])
    )
    assert info.json()["application"]["id"] == fx.DISCORD_CLIENT_ID
    assert info.json()["scopes"] == ["identify"]
    assert "user" not in info.json()
    assert info.json()["expires"].endswith("+00:00")
    me = http.get(
        f"{sim.url}/discord/api/users/@me", headers=bearer(token["access_token"])
    )
    assert me.status_code == 401


def test_unsupported_grants_and_scopes_are_refused(sim, http) -> None:
    url = f"{sim.url}/discord/api/oauth2/token"
    assert http.post(url, data={"grant_type": "password"}, auth=CLIENT).json() == {
        "error": "unsupported_grant_type"
    }
    bad_scope = http.post(
        url, data={"grant_type": "client_credentials", "scope": "bot"}, auth=CLIENT
    )
    assert bad_scope.json()["error"] == "invalid_scope"


def test_a_refresh_rotates_the_refresh_token(sim, http) -> None:
    token = exchange(sim, http, authorize(sim, http)["code"]).json()
    url = f"{sim.url}/discord/api/oauth2/token"
    form = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
    fresh = http.post(url, data=form, auth=CLIENT)
    assert fresh.status_code == 200
    assert fresh.json()["refresh_token"] != token["refresh_token"]
    again = http.post(url, data=form, auth=CLIENT)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_revoking_a_token_logs_it_out(sim, http) -> None:
    token = exchange(sim, http, authorize(sim, http)["code"]).json()["access_token"]
    reply = http.post(
        f"{sim.url}/discord/api/oauth2/token/revoke",
        data={"token": token, "token_type_hint": "access_token"},
        auth=CLIENT,
    )
    assert reply.status_code == 200
    me = http.get(f"{sim.url}/discord/api/users/@me", headers=bearer(token))
    assert me.status_code == 401
    assert me.json() == {"message": "401: Unauthorized", "code": 0}


def test_a_bad_bearer_token_is_401(sim, http) -> None:
    reply = http.get(f"{sim.url}/discord/api/users/@me", headers=bearer("nope"))
    assert reply.status_code == 401
    assert reply.json() == {"message": "401: Unauthorized", "code": 0}


def test_the_non_member_can_be_chosen_and_lacks_the_guild(sim, http) -> None:
    code = authorize(sim, http, sim_user=fx.DISCORD_NON_MEMBER_USER_ID)["code"]
    token = exchange(sim, http, code).json()["access_token"]
    guilds = http.get(
        f"{sim.url}/discord/api/users/@me/guilds", headers=bearer(token)
    ).json()
    assert fx.DISCORD_GUILD_ID not in {g["id"] for g in guilds}


def test_the_consenting_user_can_be_set_through_control(sim, http) -> None:
    set_settings(sim, "discord", consent_user_id=fx.DISCORD_UNLINKED_MEMBER_USER_ID)
    token = exchange(sim, http, authorize(sim, http)["code"]).json()["access_token"]
    me = http.get(f"{sim.url}/discord/api/users/@me", headers=bearer(token)).json()
    assert me["id"] == fx.DISCORD_UNLINKED_MEMBER_USER_ID


def test_the_email_scope_adds_email_and_verified(sim, http) -> None:
    code = authorize(sim, http, scope="identify email")["code"]
    token = exchange(sim, http, code).json()["access_token"]
    me = http.get(f"{sim.url}/discord/api/users/@me", headers=bearer(token)).json()
    assert me["email"] == fx.DISCORD_MEMBER_EMAIL
    assert me["verified"] is True


def test_guilds_need_the_guilds_scope(sim, http) -> None:
    token = exchange(sim, http, authorize(sim, http, scope="identify")["code"]).json()
    reply = http.get(
        f"{sim.url}/discord/api/users/@me/guilds", headers=bearer(token["access_token"])
    )
    assert reply.status_code == 401


def test_guilds_page_with_before_after_limit_and_counts(sim, http) -> None:
    token = exchange(sim, http, authorize(sim, http)["code"]).json()["access_token"]
    url = f"{sim.url}/discord/api/users/@me/guilds"
    everything = [g["id"] for g in http.get(url, headers=bearer(token)).json()]
    assert everything == sorted(everything, key=int)
    assert len(everything) == 4
    first = http.get(url, params={"limit": 1}, headers=bearer(token)).json()
    assert [g["id"] for g in first] == everything[:1]
    after = http.get(
        url, params={"after": everything[0], "limit": 2}, headers=bearer(token)
    )
    assert [g["id"] for g in after.json()] == everything[1:3]
    before = http.get(url, params={"before": everything[-1]}, headers=bearer(token))
    assert [g["id"] for g in before.json()] == everything[:-1]
    counts = http.get(url, params={"with_counts": "true"}, headers=bearer(token)).json()
    assert counts[0]["approximate_member_count"] > 0
    too_many = http.get(url, params={"limit": 201}, headers=bearer(token))
    assert too_many.status_code == 400
    assert too_many.json()["code"] == 50035


def test_unknown_clients_and_unregistered_redirects_get_a_400(sim, http) -> None:
    url = f"{sim.url}/discord/oauth2/authorize"
    base = {"response_type": "code", "scope": "identify", "redirect_uri": REDIRECT}
    unknown = http.get(url, params={**base, "client_id": "1"}, allow_redirects=False)
    assert unknown.status_code == 400
    assert unknown.json()["code"] == 10002
    bad_redirect = http.get(
        url,
        params={
            **base,
            "client_id": fx.DISCORD_CLIENT_ID,
            "redirect_uri": "https://evil.example/cb",
        },
        allow_redirects=False,
    )
    assert bad_redirect.status_code == 400
    assert bad_redirect.json()["code"] == 50035


def test_a_refusal_and_a_bad_scope_redirect_with_an_error(sim, http) -> None:
    denied = authorize(sim, http, sim_deny="true")
    assert denied["error"] == "access_denied"
    assert denied["state"] == "st-123"
    bad_scope = authorize(sim, http, scope="identify nonsense")
    assert bad_scope["error"] == "invalid_scope"


def test_every_response_carries_discords_rate_limit_headers(sim, http) -> None:
    reply = http.get(f"{sim.url}/discord/api/users/@me", headers=bearer("x"))
    for name in ("Limit", "Remaining", "Reset", "Reset-After", "Bucket"):
        assert f"X-RateLimit-{name}" in reply.headers
    assert float(reply.headers["X-RateLimit-Reset"]) > time.time() - 1
    assert "." in reply.headers["X-RateLimit-Reset-After"]


def test_a_429_has_retry_after_scope_and_the_documented_body(sim, http) -> None:
    set_faults(sim, "discord", rate_limited=True, retry_after=1.5)
    reply = http.get(f"{sim.url}/discord/api/users/@me", headers=bearer("x"))
    assert reply.status_code == 429
    assert reply.json() == {
        "message": "You are being rate limited.",
        "retry_after": 1.5,
        "global": False,
    }
    assert reply.headers["Retry-After"] == "2"
    assert reply.headers["X-RateLimit-Scope"] == "user"
    assert reply.headers["X-RateLimit-Remaining"] == "0"
    assert "X-RateLimit-Global" not in reply.headers
    set_faults(sim, "discord", rate_limit_scope="global")
    reply = http.get(f"{sim.url}/discord/api/users/@me", headers=bearer("x"))
    assert reply.json()["global"] is True
    assert reply.headers["X-RateLimit-Global"] == "true"
