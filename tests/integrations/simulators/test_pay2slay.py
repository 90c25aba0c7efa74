"""The Pay2Slay app simulator: admin API and wallet links."""

from __future__ import annotations

import pytest
import requests

from integrations.simulators import fixtures as fx
from integrations.simulators.banano_codec import RAW_PER_BAN
from tests.integrations.simulators.conftest import (
    requests_seen,
    set_faults,
    set_settings,
)


def login(sim, http, email: str = fx.P2S_ADMIN_EMAIL) -> requests.Response:
    return http.post(f"{sim.url}/p2s/admin/login", json={"email": email})


def session_for(sim, http, username: str = fx.DISCORD_MEMBER_USERNAME) -> str:
    reply = http.post(
        f"{sim.url}/_control/admin/sessions", json={"discord_username": username}
    )
    assert reply.status_code == 201
    assert reply.json()["cookie_name"] == fx.P2S_SESSION_COOKIE
    return reply.json()["cookie_value"]


def test_healthz_is_ok(sim, http) -> None:
    assert http.get(f"{sim.url}/p2s/healthz").json() == {"status": "ok"}


def test_an_active_admin_logs_in_and_the_login_is_audited(sim, http) -> None:
    reply = login(sim, http)
    assert reply.status_code == 200
    assert reply.json() == {"email": fx.P2S_ADMIN_EMAIL}
    assert "HttpOnly" in reply.headers["Set-Cookie"]
    assert http.cookies.get(fx.P2S_ADMIN_COOKIE)
    audit = http.get(f"{sim.url}/p2s/admin/audit", params={"action": "admin_login"})
    assert audit.status_code == 200
    (event,) = audit.json()["items"]
    assert event["actor_email"] == fx.P2S_ADMIN_EMAIL
    assert event["target_type"] == "admin_user"


def test_the_admin_user_workflow_insert_login_deactivate_remove(sim, http) -> None:
    email = "qa-admin@example.org"
    assert login(sim, http, email).status_code == 401
    created = http.post(
        f"{sim.url}/_control/admin/admin_users",
        json={"email": email, "is_active": True},
    )
    assert created.status_code == 201
    assert login(sim, http, email).status_code == 200
    assert http.get(f"{sim.url}/p2s/admin/stats").status_code == 200
    updated = http.post(
        f"{sim.url}/_control/admin/admin_users",
        json={"email": email, "is_active": False},
    )
    assert updated.status_code == 200
    refused = login(sim, http, email)
    assert refused.status_code == 401
    assert refused.json() == {"detail": "Unauthorized"}
    # The deactivated admin's earlier cookie no longer opens the admin API.
    assert http.get(f"{sim.url}/p2s/admin/stats").status_code == 401
    deleted = http.delete(f"{sim.url}/_control/admin/admin_users/{email}")
    assert deleted.status_code == 204
    assert (
        http.delete(f"{sim.url}/_control/admin/admin_users/{email}").status_code == 404
    )


def test_an_inactive_or_unknown_admin_and_an_empty_body_get_401(sim, http) -> None:
    assert login(sim, http, fx.P2S_INACTIVE_ADMIN_EMAIL).status_code == 401
    assert http.post(f"{sim.url}/p2s/admin/login").status_code == 401


def test_a_discord_admin_session_logs_in_without_an_email(sim, http) -> None:
    token = session_for(sim, http, fx.DISCORD_ADMIN_USERNAME)
    reply = http.post(
        f"{sim.url}/p2s/admin/login", cookies={fx.P2S_SESSION_COOKIE: token}
    )
    assert reply.json() == {
        "email": f"{fx.DISCORD_ADMIN_USERNAME}@discord",
        "discord_username": fx.DISCORD_ADMIN_USERNAME,
    }


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/audit"),
        ("GET", "/admin/stats"),
        ("GET", "/admin/health/extended"),
        ("POST", "/admin/reverify"),
        ("POST", "/admin/payouts/retry"),
        ("GET", "/admin/payout/config"),
        ("POST", "/admin/payout/config"),
        ("GET", "/admin/config/operator-seed/status"),
    ],
)
def test_admin_routes_need_the_admin_cookie(sim, http, method, path) -> None:
    reply = http.request(method, f"{sim.url}/p2s{path}", json={})
    assert reply.status_code == 401
    assert reply.json() == {"detail": "Unauthorized"}


def test_audit_pages_and_caps_the_limit_at_200(sim, http) -> None:
    for _ in range(3):
        login(sim, http)
    page = http.get(f"{sim.url}/p2s/admin/audit", params={"limit": 2, "offset": 1})
    assert page.json()["total"] == 3
    assert len(page.json()["items"]) == 2
    too_many = http.get(f"{sim.url}/p2s/admin/audit", params={"limit": 201})
    assert too_many.status_code == 422
    assert too_many.json()["detail"][0]["loc"] == ["query", "limit"]


def test_stats_and_extended_health(sim, http) -> None:
    login(sim, http)
    stats = http.get(f"{sim.url}/p2s/admin/stats").json()
    assert stats["users_total"] == len(fx.P2S_USERS)
    health = http.get(f"{sim.url}/p2s/admin/health/extended").json()
    assert health["status"] == "ok"
    assert health["operator_seed_configured"] is True


def test_reverify_asks_the_yunite_simulator(sim, http) -> None:
    login(sim, http)
    before = requests_seen(sim, "yunite")
    reply = http.post(
        f"{sim.url}/p2s/admin/reverify", json={"discord_id": fx.DISCORD_MEMBER_USER_ID}
    )
    assert reply.json() == {
        "status": "accepted",
        "discord_id": fx.DISCORD_MEMBER_USER_ID,
        "epic_account_id": fx.YUNITE_LINKED_EPIC_ID,
    }
    assert requests_seen(sim, "yunite") == before + 1
    unlinked = http.post(
        f"{sim.url}/p2s/admin/reverify",
        json={"discord_id": fx.DISCORD_UNLINKED_MEMBER_USER_ID},
    )
    assert unlinked.json()["epic_account_id"] is None
    unknown = http.post(f"{sim.url}/p2s/admin/reverify", json={"discord_id": "1"})
    assert unknown.status_code == 404
    missing = http.post(f"{sim.url}/p2s/admin/reverify", json={})
    assert missing.status_code == 422


def test_reverify_fails_with_a_500_when_yunite_is_down(sim, http) -> None:
    login(sim, http)
    set_faults(sim, "yunite", forced_status=503)
    reply = http.post(
        f"{sim.url}/p2s/admin/reverify", json={"discord_id": fx.DISCORD_MEMBER_USER_ID}
    )
    assert reply.status_code == 500


def test_retrying_a_failed_payout_sends_it_once(sim, http) -> None:
    login(sim, http)
    url = f"{sim.url}/p2s/admin/payouts/retry"
    sent = http.post(url, json={"payout_id": fx.P2S_FAILED_PAYOUT_ID}).json()
    assert sent["status"] == "sent"
    assert sent["error_detail"] is None
    assert len(sent["tx_hash"]) == 64
    again = http.post(url, json={"payout_id": fx.P2S_FAILED_PAYOUT_ID}).json()
    assert again == {
        "status": "already_sent",
        "payout_id": fx.P2S_FAILED_PAYOUT_ID,
        "tx_hash": sent["tx_hash"],
    }
    balance = http.post(
        f"{sim.url}/banano/",
        json={"action": "account_balance", "account": fx.BANANO_OPERATOR_ACCOUNT},
    ).json()["balance"]
    assert (
        int(balance) == fx.BANANO_OPERATOR_BALANCE_RAW - fx.P2S_FAILED_PAYOUT_AMOUNT_RAW
    )
    assert http.post(url, json={"payout_id": 999}).status_code == 404


def test_retrying_without_an_operator_seed_is_a_500(sim, http) -> None:
    login(sim, http)
    set_settings(sim, "admin", operator_seed_configured=False)
    reply = http.post(
        f"{sim.url}/p2s/admin/payouts/retry",
        json={"payout_id": fx.P2S_FAILED_PAYOUT_ID},
    )
    assert reply.status_code == 500
    status = http.get(f"{sim.url}/p2s/admin/config/operator-seed/status").json()
    assert status == {
        "configured": False,
        "address": None,
        "set_by": None,
        "updated_at": None,
    }


def test_the_payout_config_validates_its_values(sim, http) -> None:
    login(sim, http)
    url = f"{sim.url}/p2s/admin/payout/config"
    assert http.get(url).json() == fx.P2S_DEFAULT_PAYOUT_CONFIG
    assert http.post(url, json={"ban_per_kill": 0}).status_code == 400
    assert http.post(url, json={"daily_payout_cap": -1}).status_code == 400
    updated = http.post(url, json={"ban_per_kill": 0.1})
    assert updated.status_code == 200
    assert updated.json()["ban_per_kill"] == 0.1


def test_the_operator_seed_status_names_the_operator_address(sim, http) -> None:
    login(sim, http)
    status = http.get(f"{sim.url}/p2s/admin/config/operator-seed/status").json()
    assert status["configured"] is True
    assert status["address"] == fx.BANANO_OPERATOR_ACCOUNT


def test_linking_a_wallet_checks_shape_not_checksum(sim, http) -> None:
    url = f"{sim.url}/p2s/link/wallet"
    assert http.post(
        url, json={"banano_address": fx.BANANO_RECIPIENT_ACCOUNT}
    ).json() == {"detail": "Unauthorized"}
    cookies = {fx.P2S_SESSION_COOKIE: session_for(sim, http)}
    for bad in (fx.NANO_EXAMPLE_ACCOUNT, "ban_1abc def" + "1" * 20, "ban_123"):
        reply = http.post(url, json={"banano_address": bad}, cookies=cookies)
        assert reply.status_code == 400
        assert reply.json() == {"detail": "Invalid Banano address"}
    unchecked = http.post(
        url,
        json={"banano_address": fx.BANANO_INVALID_CHECKSUM_ACCOUNT},
        cookies=cookies,
    )
    assert unchecked.json() == {
        "linked": True,
        "address": fx.BANANO_INVALID_CHECKSUM_ACCOUNT,
    }
    linked = http.post(
        url, json={"banano_address": fx.P2S_MEMBER_WALLET_ADDRESS}, cookies=cookies
    )
    assert linked.status_code == 200
    status = http.get(f"{sim.url}/p2s/me/status", cookies=cookies).json()
    assert status["wallet_address"] == fx.P2S_MEMBER_WALLET_ADDRESS
    assert status["linked"] is True
    assert status["discord_username"] == fx.DISCORD_MEMBER_USERNAME
    assert {"last_verified_at", "accrued_rewards_ban", "cap_status"} <= set(status)


def test_me_status_needs_a_session(sim, http) -> None:
    assert http.get(f"{sim.url}/p2s/me/status").status_code == 401


def test_donate_info_receives_pending_donations_first(sim, http) -> None:
    info = http.get(f"{sim.url}/p2s/api/donate-info").json()
    expected = (
        fx.BANANO_OPERATOR_BALANCE_RAW + fx.BANANO_OPERATOR_RECEIVABLE_RAW
    ) / RAW_PER_BAN
    assert info == {
        "address": fx.BANANO_OPERATOR_ACCOUNT,
        "balance": expected,
        "pending": 0.0,
    }


def test_the_apps_rate_limiter_answers_its_own_429(sim, http) -> None:
    set_faults(sim, "admin", rate_limited=True)
    reply = http.get(f"{sim.url}/p2s/healthz")
    assert reply.status_code == 429
    assert reply.json() == {"detail": "rate_limited", "scope": "ip"}


def test_unknown_routes_look_like_fastapi(sim, http) -> None:
    assert http.get(f"{sim.url}/p2s/nope").json() == {"detail": "Not Found"}
    reply = http.delete(f"{sim.url}/p2s/healthz")
    assert reply.status_code == 405
    assert reply.json() == {"detail": "Method Not Allowed"}
