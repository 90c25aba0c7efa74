"""Pay2Slay app simulator, base ``{url}/p2s``: the admin API and the wallet links.

FastAPI-shaped: errors are ``{"detail": ...}``, validation failures 422 with a
list of ``{type, loc, msg}``. Admin rows cannot be created through the app (as in
Pay2Slay); the control API inserts them. ``/admin/reverify`` asks the Yunite
simulator over HTTP, and payouts and ``/api/donate-info`` use the shared Banano
ledger, so faults injected there show up here.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, ClassVar

from integrations.simulators import fixtures as fx
from integrations.simulators.banano_codec import raw_to_ban
from integrations.simulators.base import (
    BodyError,
    FaultValidator,
    Request,
    Response,
    Service,
    iso_z,
    reason_phrase,
)
from integrations.simulators.ledger import Ledger, LedgerError

YUNITE_TIMEOUT_SECONDS = 10.0
MAX_AUDIT_LIMIT = 200


def _check_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _check_names(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("must be a list of Discord usernames")
    return value


@dataclass
class P2SUser:
    discord_id: str
    discord_username: str
    epic_id: str | None
    last_verified_at: str | None = None
    last_verified_status: str | None = None
    last_verified_source: str | None = None
    accrued_rewards_ban: float = 0.0
    wallets: list[str] = field(default_factory=list)


@dataclass
class Payout:
    id: int
    discord_id: str
    address: str
    amount_raw: int
    status: str
    tx_hash: str | None = None
    error_detail: str | None = None


def _validation_error(
    loc: list[Any], msg: str, kind: str, value: Any = None
) -> Response:
    entry: dict[str, Any] = {"type": kind, "loc": loc, "msg": msg}
    if value is not None:
        entry["input"] = value
    return Response.json({"detail": [entry]}, 422)


class Pay2SlaySimulator(Service):
    name = "admin"
    prefix = "/p2s"
    default_settings: ClassVar[dict[str, Any]] = {
        "operator_seed_configured": True,
        "admin_discord_usernames": list(fx.P2S_ADMIN_DISCORD_USERNAMES),
    }
    setting_validators: ClassVar[dict[str, FaultValidator]] = {
        "operator_seed_configured": _check_bool,
        "admin_discord_usernames": _check_names,
    }

    @property
    def ledger(self) -> Ledger:
        return self.hub.ledger

    def routes(self) -> None:
        add = self.router.add
        add("GET", "/healthz", self.healthz)
        add("POST", "/admin/login", self.login)
        add("POST", "/admin/logout", self.logout)
        add("GET", "/admin/audit", self.audit)
        add("GET", "/admin/stats", self.stats)
        add("GET", "/admin/health/extended", self.health_extended)
        add("POST", "/admin/reverify", self.reverify)
        add("POST", "/admin/payouts/retry", self.retry_payout)
        add("GET POST", "/admin/payout/config", self.payout_config)
        add("GET", "/admin/config/operator-seed/status", self.seed_status)
        add("POST", "/admin/config/operator-seed", self.set_seed)
        add("POST", "/link/wallet", self.link_wallet)
        add("GET", "/me/status", self.me_status)
        add("GET", "/api/donate-info", self.donate_info)

    def control_routes(self) -> None:
        add = self.control_router.add
        add("GET", "/admin_users", self.control_list_admins)
        add("POST", "/admin_users", self.control_upsert_admin)
        add("DELETE", "/admin_users/{email}", self.control_delete_admin)
        add("POST", "/sessions", self.control_session)

    def seed(self) -> None:
        with self.lock:
            now = iso_z()
            self.admin_users: dict[str, dict[str, Any]] = {
                fx.P2S_ADMIN_EMAIL: {
                    "email": fx.P2S_ADMIN_EMAIL,
                    "is_active": True,
                    "created_at": now,
                },
                fx.P2S_INACTIVE_ADMIN_EMAIL: {
                    "email": fx.P2S_INACTIVE_ADMIN_EMAIL,
                    "is_active": False,
                    "created_at": now,
                },
            }
            self.users: dict[str, P2SUser] = {
                discord_id: P2SUser(
                    discord_id,
                    username,
                    epic_id,
                    last_verified_at="2024-03-01T12:00:00Z" if epic_id else None,
                    last_verified_status="verified" if epic_id else None,
                    last_verified_source="oauth" if epic_id else None,
                    accrued_rewards_ban=1.25 if epic_id else 0.0,
                )
                for discord_id, username, epic_id in fx.P2S_USERS
            }
            self.sessions: dict[str, str] = {}
            self.admin_sessions: dict[str, str] = {}
            self.audit_rows: list[dict[str, Any]] = []
            self.payouts: dict[int, Payout] = {
                fx.P2S_SENT_PAYOUT_ID: Payout(
                    fx.P2S_SENT_PAYOUT_ID,
                    fx.DISCORD_MEMBER_USER_ID,
                    fx.BANANO_RECIPIENT_ACCOUNT,
                    fx.P2S_FAILED_PAYOUT_AMOUNT_RAW,
                    "sent",
                    tx_hash=fx.P2S_SENT_PAYOUT_TX_HASH,
                ),
                fx.P2S_FAILED_PAYOUT_ID: Payout(
                    fx.P2S_FAILED_PAYOUT_ID,
                    fx.DISCORD_MEMBER_USER_ID,
                    fx.BANANO_RECIPIENT_ACCOUNT,
                    fx.P2S_FAILED_PAYOUT_AMOUNT_RAW,
                    "failed",
                    error_detail="node timeout",
                ),
            }
            self.payout_config: dict[str, Any] = dict(fx.P2S_DEFAULT_PAYOUT_CONFIG)
            self.seed_updated_at = "2024-01-02T09:00:00Z"

    def describe(self) -> dict[str, Any]:
        with self.lock:
            return {
                "admin_users": list(self.admin_users.values()),
                "users": [u.discord_username for u in self.users.values()],
                "audit_rows": len(self.audit_rows),
                "payouts": {p.id: p.status for p in self.payouts.values()},
            }

    # -- shapes ---------------------------------------------------------------

    def error(
        self, request: Request, status: int, message: str | None = None
    ) -> Response:
        return Response.json({"detail": message or reason_phrase(status)}, status)

    def rate_limited(self, request: Request, retry_after: float) -> Response:
        scope = self.fault("rate_limit_scope") or "ip"
        response = Response.json({"detail": "rate_limited", "scope": scope}, 429)
        response.set_header("Retry-After", str(int(retry_after + 0.999)))
        return response

    def unauthorized(self) -> Response:
        return Response.json({"detail": "Unauthorized"}, 401)

    @staticmethod
    def _body(request: Request, *, optional: bool = False) -> dict[str, Any] | Response:
        if not request.body.strip():
            if optional:
                return {}
            return _validation_error(["body"], "Field required", "missing")
        try:
            data = request.json()
        except BodyError:
            return _validation_error(["body", 0], "JSON decode error", "json_invalid")
        if not isinstance(data, dict):
            return _validation_error(
                ["body"], "Input should be a valid dictionary", "dict_type", data
            )
        return data

    def _audit(
        self,
        action: str,
        actor: str | None,
        target_type: str,
        target_id: str,
        summary: str,
    ) -> None:
        with self.lock:
            self.audit_rows.append(
                {
                    "id": len(self.audit_rows) + 1,
                    "action": action,
                    "actor_email": actor,
                    "target_type": target_type,
                    "target_id": target_id,
                    "summary": summary,
                    "created_at": iso_z(),
                }
            )

    def _session_user(self, request: Request) -> P2SUser | None:
        token = request.cookies.get(fx.P2S_SESSION_COOKIE)
        with self.lock:
            discord_id = self.sessions.get(token or "")
            return self.users.get(discord_id) if discord_id else None

    def _admin(self, request: Request) -> str | None:
        token = request.cookies.get(fx.P2S_ADMIN_COOKIE)
        with self.lock:
            email = self.admin_sessions.get(token or "")
            if email is None:
                return None
            if email.endswith("@discord"):
                name = email.removesuffix("@discord")
                return (
                    email if name in self.settings["admin_discord_usernames"] else None
                )
            row = self.admin_users.get(email)
            return email if row and row["is_active"] else None

    # -- public ---------------------------------------------------------------

    def healthz(self, request: Request) -> Response:
        return Response.json({"status": "ok"})

    def donate_info(self, request: Request) -> Response:
        address = fx.BANANO_OPERATOR_ACCOUNT
        try:
            with self.ledger.lock:
                # Like Pay2Slay: receive pending donations before reporting.
                self.ledger.receive_all(address)
                balance = float(raw_to_ban(self.ledger.balance(address)))
                pending = float(raw_to_ban(self.ledger.receivable_total(address)))
        except LedgerError:
            return Response.json({"address": address, "balance": None, "pending": None})
        return Response.json(
            {"address": address, "balance": balance, "pending": pending}
        )

    # -- admin ----------------------------------------------------------------

    def login(self, request: Request) -> Response:
        body = self._body(request, optional=True)
        if isinstance(body, Response):
            return body
        email = body.get("email")
        result: dict[str, Any] | None = None
        user = self._session_user(request)
        with self.lock:
            if (
                user
                and user.discord_username in self.settings["admin_discord_usernames"]
            ):
                result = {
                    "email": f"{user.discord_username}@discord",
                    "discord_username": user.discord_username,
                }
            elif isinstance(email, str):
                row = self.admin_users.get(email.strip().lower())
                if row and row["is_active"]:
                    result = {"email": row["email"]}
            if result is None:
                self._audit(
                    "admin_login_failed",
                    email if isinstance(email, str) else None,
                    "admin_user",
                    email if isinstance(email, str) else "",
                    "login refused",
                )
                return self.unauthorized()
            token = secrets.token_urlsafe(24)
            self.admin_sessions[token] = result["email"]
            self._audit(
                "admin_login", result["email"], "admin_user", result["email"], "login"
            )
        return Response.json(
            result,
            200,
            [
                (
                    "Set-Cookie",
                    f"{fx.P2S_ADMIN_COOKIE}={token}; HttpOnly; Path=/; SameSite=lax",
                )
            ],
        )

    def logout(self, request: Request) -> Response:
        token = request.cookies.get(fx.P2S_ADMIN_COOKIE)
        with self.lock:
            self.admin_sessions.pop(token or "", None)
        return Response.json(
            {"ok": True},
            200,
            [
                (
                    "Set-Cookie",
                    f"{fx.P2S_ADMIN_COOKIE}=; Max-Age=0; Path=/; SameSite=lax",
                )
            ],
        )

    def audit(self, request: Request) -> Response:
        if self._admin(request) is None:
            return self.unauthorized()
        limit_text = request.arg("limit", "50") or "50"
        offset_text = request.arg("offset", "0") or "0"
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_AUDIT_LIMIT:
            return _validation_error(
                ["query", "limit"],
                f"Input should be less than or equal to {MAX_AUDIT_LIMIT}",
                "less_than_equal",
                limit_text,
            )
        if not offset_text.isdigit():
            return _validation_error(
                ["query", "offset"],
                "Input should be greater than or equal to 0",
                "greater_than_equal",
                offset_text,
            )
        limit, offset = int(limit_text), int(offset_text)
        with self.lock:
            rows = list(reversed(self.audit_rows))
        for name in ("action", "actor_email", "target_type"):
            value = request.arg(name)
            if value:
                rows = [r for r in rows if r[name] == value]
        return Response.json(
            {
                "items": rows[offset : offset + limit],
                "total": len(rows),
                "limit": limit,
                "offset": offset,
            }
        )

    def stats(self, request: Request) -> Response:
        if self._admin(request) is None:
            return self.unauthorized()
        with self.lock:
            payouts = list(self.payouts.values())
            return Response.json(
                {
                    "users_total": len(self.users),
                    "users_linked": sum(1 for u in self.users.values() if u.wallets),
                    "users_verified": sum(1 for u in self.users.values() if u.epic_id),
                    "payouts_total": len(payouts),
                    "payouts_sent": sum(1 for p in payouts if p.status == "sent"),
                    "payouts_failed": sum(1 for p in payouts if p.status == "failed"),
                    "accrued_rewards_ban": round(
                        sum(u.accrued_rewards_ban for u in self.users.values()), 8
                    ),
                    "audit_events": len(self.audit_rows),
                }
            )

    def health_extended(self, request: Request) -> Response:
        if self._admin(request) is None:
            return self.unauthorized()
        balance = self.ledger.balance(fx.BANANO_OPERATOR_ACCOUNT)
        return Response.json(
            {
                "status": "ok",
                "database": "ok",
                "operator_seed_configured": self.settings["operator_seed_configured"],
                "operator_balance_ban": float(raw_to_ban(balance)),
                "node": {"reachable": True, "block_count": self.ledger.block_count()},
                "scheduler": {"running": True},
                "uptime_seconds": int(time.time() - self.started_at),
            }
        )

    def _lookup_epic(self, discord_id: str) -> str | None:
        """Ask the Yunite simulator over HTTP, exactly as Pay2Slay does."""
        url = (
            f"{self.hub.url}/yunite/api/v3/guild/{fx.YUNITE_GUILD_ID}"
            "/registration/links"
        )
        payload = json.dumps({"type": "DISCORD", "userIds": [discord_id]}).encode()
        call = urllib.request.Request(
            url,
            data=payload,
            method="POST",
            headers={
                "Y-Api-Token": fx.YUNITE_API_TOKEN,
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(call, timeout=YUNITE_TIMEOUT_SECONDS) as reply:
                data = json.loads(reply.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise
        if discord_id in data.get("notLinked", []) or discord_id in data.get(
            "notFound", []
        ):
            return None
        for entry in data.get("users", []):
            if entry.get("discord", {}).get("id") == discord_id:
                epic = entry.get("epic", {})
                return epic.get("epicID") or epic.get("epicId")
        return None

    def reverify(self, request: Request) -> Response:
        actor = self._admin(request)
        if actor is None:
            return self.unauthorized()
        body = self._body(request)
        if isinstance(body, Response):
            return body
        discord_id = body.get("discord_id")
        if not isinstance(discord_id, str | int) or isinstance(discord_id, bool):
            return _validation_error(
                ["body", "discord_id"], "Field required", "missing", body
            )
        discord_id = str(discord_id)
        with self.lock:
            user = self.users.get(discord_id)
        if user is None:
            return Response.json({"detail": "User not found"}, 404)
        try:
            epic_id = self._lookup_epic(discord_id)
        except (OSError, ValueError, urllib.error.URLError):
            # Pay2Slay lets the Yunite error escape: FastAPI answers a bare 500.
            return Response.text("Internal Server Error", 500)
        with self.lock:
            user.epic_id = epic_id
            user.last_verified_at = iso_z()
            user.last_verified_status = "verified" if epic_id else "unlinked"
            user.last_verified_source = "admin"
            self._audit("admin_reverify", actor, "user", discord_id, f"epic={epic_id}")
        return Response.json(
            {"status": "accepted", "discord_id": discord_id, "epic_account_id": epic_id}
        )

    def retry_payout(self, request: Request) -> Response:
        actor = self._admin(request)
        if actor is None:
            return self.unauthorized()
        body = self._body(request)
        if isinstance(body, Response):
            return body
        payout_id = body.get("payout_id")
        if isinstance(payout_id, bool) or not isinstance(payout_id, int | str):
            return _validation_error(
                ["body", "payout_id"], "Field required", "missing", body
            )
        try:
            payout_key = int(payout_id)
        except ValueError:
            return _validation_error(
                ["body", "payout_id"],
                "Input should be a valid integer",
                "int_parsing",
                payout_id,
            )
        with self.lock:
            payout = self.payouts.get(payout_key)
            if payout is None:
                return Response.json({"detail": "Payout not found"}, 404)
            if payout.status == "sent":
                return Response.json(
                    {
                        "status": "already_sent",
                        "payout_id": payout.id,
                        "tx_hash": payout.tx_hash,
                    }
                )
            if not self.settings["operator_seed_configured"]:
                return Response.json({"detail": "Operator seed not configured"}, 500)
            try:
                block = self.ledger.send(
                    fx.BANANO_OPERATOR_ACCOUNT, payout.address, payout.amount_raw
                )
            except LedgerError as exc:
                payout.status, payout.error_detail = "failed", exc.message
            else:
                payout.status, payout.tx_hash, payout.error_detail = (
                    "sent",
                    block.hash,
                    None,
                )
            self._audit("payout_retry", actor, "payout", str(payout.id), payout.status)
            return Response.json(
                {
                    "status": payout.status,
                    "payout_id": payout.id,
                    "tx_hash": payout.tx_hash,
                    "error_detail": payout.error_detail,
                }
            )

    def payout_config(self, request: Request) -> Response:
        actor = self._admin(request)
        if actor is None:
            return self.unauthorized()
        if request.method == "GET":
            with self.lock:
                return Response.json(dict(self.payout_config))
        body = self._body(request)
        if isinstance(body, Response):
            return body
        unknown = set(body) - set(fx.P2S_DEFAULT_PAYOUT_CONFIG)
        if unknown:
            return Response.json({"detail": f"Unknown fields: {sorted(unknown)}"}, 400)
        for key, value in body.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                return _validation_error(
                    ["body", key], "Input should be a valid number", "float_type", value
                )
        if "ban_per_kill" in body and body["ban_per_kill"] <= 0:
            return Response.json({"detail": "ban_per_kill must be > 0"}, 400)
        for key, value in body.items():
            if key.endswith("_cap") and value < 0:
                return Response.json({"detail": f"{key} must be >= 0"}, 400)
        with self.lock:
            self.payout_config.update(body)
            self._audit(
                "payout_config_update",
                actor,
                "payout_config",
                "global",
                json.dumps(body, sort_keys=True),
            )
            return Response.json(dict(self.payout_config))

    def seed_status(self, request: Request) -> Response:
        if self._admin(request) is None:
            return self.unauthorized()
        configured = bool(self.settings["operator_seed_configured"])
        return Response.json(
            {
                "configured": configured,
                "address": fx.BANANO_OPERATOR_ACCOUNT if configured else None,
                "set_by": fx.P2S_OPERATOR_SEED_SET_BY if configured else None,
                "updated_at": self.seed_updated_at if configured else None,
            }
        )

    def set_seed(self, request: Request) -> Response:
        actor = self._admin(request)
        if actor is None:
            return self.unauthorized()
        body = self._body(request)
        if isinstance(body, Response):
            return body
        seed = body.get("seed")
        valid = isinstance(seed, str) and len(seed) == 64
        if valid:
            try:
                bytes.fromhex(seed)
            except ValueError:
                valid = False
        if not valid:
            return Response.json(
                {"success": False, "message": "Seed must be 64 hex characters"}, 400
            )
        with self.lock:
            self.settings["operator_seed_configured"] = True
            self.seed_updated_at = iso_z()
            self._audit(
                "operator_seed_set", actor, "secure_config", "operator_seed", ""
            )
        return Response.json({"success": True, "message": "Operator seed saved"})

    # -- wallet links ---------------------------------------------------------

    def link_wallet(self, request: Request) -> Response:
        user = self._session_user(request)
        if user is None:
            return self.unauthorized()
        body = self._body(request)
        if isinstance(body, Response):
            return body
        address = body.get("banano_address")
        if address is None:
            return _validation_error(
                ["body", "banano_address"], "Field required", "missing", body
            )
        # Pay2Slay checks the shape only, deliberately not the checksum.
        if (
            not isinstance(address, str)
            or not address.startswith("ban_")
            or any(ch.isspace() for ch in address)
            or not 20 <= len(address) <= 120
        ):
            return Response.json({"detail": "Invalid Banano address"}, 400)
        with self.lock:
            if address in user.wallets:
                user.wallets.remove(address)
            user.wallets.append(address)  # the newest link is the primary one
        return Response.json({"linked": True, "address": address})

    def me_status(self, request: Request) -> Response:
        user = self._session_user(request)
        if user is None:
            return self.unauthorized()
        with self.lock:
            cap = self.payout_config
            return Response.json(
                {
                    "discord_username": user.discord_username,
                    "linked": bool(user.wallets),
                    "wallet_address": user.wallets[-1] if user.wallets else None,
                    "last_verified_at": user.last_verified_at,
                    "last_verified_status": user.last_verified_status,
                    "last_verified_source": user.last_verified_source,
                    "accrued_rewards_ban": user.accrued_rewards_ban,
                    "cap_status": {
                        "daily_cap": cap["daily_payout_cap"],
                        "weekly_cap": cap["weekly_payout_cap"],
                        "daily_used": 0,
                        "weekly_used": 0,
                    },
                    "solana_wallet": None,
                    "jpmt_balance": None,
                    "jpmt_verified": False,
                }
            )

    # -- control --------------------------------------------------------------

    def control_list_admins(self, request: Request) -> Response:
        with self.lock:
            return Response.json({"admin_users": list(self.admin_users.values())})

    def control_upsert_admin(self, request: Request) -> Response:
        try:
            body = request.json()
        except BodyError:
            return Response.json({"error": "body must be JSON"}, 400)
        if not isinstance(body, dict):
            return Response.json({"error": "body must be a JSON object"}, 400)
        email = body.get("email")
        is_active = body.get("is_active", True)
        if not isinstance(email, str) or "@" not in email:
            return Response.json({"error": "email is required"}, 400)
        if not isinstance(is_active, bool):
            return Response.json({"error": "is_active must be true or false"}, 400)
        email = email.strip().lower()
        with self.lock:
            created = email not in self.admin_users
            row = self.admin_users.setdefault(
                email, {"email": email, "is_active": is_active, "created_at": iso_z()}
            )
            row["is_active"] = is_active
            return Response.json(dict(row), 201 if created else 200)

    def control_delete_admin(self, request: Request) -> Response:
        email = request.params["email"].strip().lower()
        with self.lock:
            if self.admin_users.pop(email, None) is None:
                return Response.json({"error": f"no admin user {email}"}, 404)
        return Response.empty(204)

    def control_session(self, request: Request) -> Response:
        try:
            body = request.json()
        except BodyError:
            return Response.json({"error": "body must be JSON"}, 400)
        name = body.get("discord_username") if isinstance(body, dict) else None
        with self.lock:
            user = next(
                (u for u in self.users.values() if u.discord_username == name), None
            )
            if user is None:
                known = sorted(u.discord_username for u in self.users.values())
                return Response.json(
                    {"error": f"no Pay2Slay user {name!r}", "known": known}, 404
                )
            token = secrets.token_urlsafe(24)
            self.sessions[token] = user.discord_id
        return Response.json(
            {
                "cookie_name": fx.P2S_SESSION_COOKIE,
                "cookie_value": token,
                "discord_id": user.discord_id,
                "discord_username": user.discord_username,
            },
            201,
        )
