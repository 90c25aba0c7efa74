"""Pay2Slay admin workflows."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from integrations.kinds.admin.client import (
    AdminLoginResult,
    NoFixtureHook,
    P2SAdminClient,
    fixture_hook_url,
)
from integrations.kinds.admin.schemas import (
    AdminLogin,
    AuditPage,
    DetailError,
)
from integrations.kinds.base import (
    Workflow,
    WorkflowAbort,
    WorkflowContext,
    parse_shape,
    register_workflow,
)
from integrations.workflows import WorkflowSkipped

REMOVE_ADMIN_FIXTURE = "remove_admin_fixture"


class AdminUserCreationInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Lower case: Pay2Slay stores admin emails lower-cased.
    email: str = Field(
        pattern=r"^[a-z0-9._+-]+@[a-z0-9.-]+\.[a-z]{2,}$", max_length=254
    )


def _json(response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _detail(response) -> str:
    error, _ = parse_shape(DetailError, _json(response))
    return error.describe() if error else ""


def _require_2xx(ctx: WorkflowContext, name: str, response) -> None:
    code = response.status_code
    ok = 200 <= code < 300
    ctx.check(name, "2xx", code, ok)
    if not ok:
        detail = _detail(response)
        raise WorkflowAbort(f"{name}: HTTP {code}" + (f" ({detail})" if detail else ""))


@register_workflow
class AdminUserCreation(Workflow):
    """Create a test admin, log in as it, find the login in the audit log,
    deactivate it, and see the next login refused. Session cleanup removes
    the admin row (compensation ``remove_admin_fixture``)."""

    name = "admin_user_creation"
    kinds = ("admin",)
    description = (
        "Insert an active admin fixture; POST /admin/login gives 200 and the "
        "p2s_admin cookie; GET /admin/audit lists the admin_login event; after "
        "deactivation the login is refused with 401."
    )
    input_model = AdminUserCreationInput

    def defaults(self, endpoint) -> dict[str, Any]:
        # A fresh address per run: fixtures of earlier runs (not cleaned up
        # yet) never collide with this one.
        domain = (endpoint.settings or {}).get("fixture_email_domain") or "example.org"
        return {"email": f"testenv-admin-{uuid.uuid4().hex[:10]}@{domain}"}

    def run(self, ctx: WorkflowContext, data: AdminUserCreationInput) -> None:
        email = data.email
        hook = fixture_hook_url(ctx.endpoint)
        if hook is None:
            raise WorkflowSkipped(
                "no admin fixture hook: Pay2Slay has no API that creates admin "
                "users; set settings.fixture_hook_url"
            )
        client = P2SAdminClient(ctx.http, hook_url=hook)
        ctx.notes["email"] = email

        # Registered before the insert: if the insert reached the service but
        # its answer was lost, cleanup still removes the row (a 404 is fine).
        ctx.register_compensation(
            REMOVE_ADMIN_FIXTURE, {"email": email}, f"remove admin fixture {email}"
        )
        created = client.put_admin_fixture(email, active=True)
        _require_2xx(ctx, "admin fixture inserted", created)

        login = client.login(email)
        self._check_login_accepted(ctx, email, login)
        self._check_audit(ctx, client, email, login.cookie)

        deactivated = client.put_admin_fixture(email, active=False)
        _require_2xx(ctx, "admin fixture deactivated", deactivated)
        refused = client.login(email)
        ctx.check_equal(
            "login of the deactivated admin refused", 401, refused.status_code
        )
        ctx.check(
            "no p2s_admin cookie for the deactivated admin",
            None,
            "a cookie" if refused.cookie else None,
            refused.cookie is None,
        )

    def _check_login_accepted(
        self, ctx: WorkflowContext, email: str, login: AdminLoginResult
    ) -> None:
        if not ctx.check_equal("admin login status", 200, login.status_code):
            detail = _detail(login.response)
            raise WorkflowAbort(
                f"admin login refused: HTTP {login.status_code}"
                + (f" ({detail})" if detail else "")
            )
        body = ctx.check_shape("admin login", AdminLogin, _json(login.response))
        ctx.check_equal("login answers with the admin's email", email, body.email)
        ctx.require(
            "p2s_admin cookie issued",
            "a cookie",
            "a cookie" if login.cookie else None,
            bool(login.cookie),
        )

    def _check_audit(
        self, ctx: WorkflowContext, client: P2SAdminClient, email: str, cookie: str
    ) -> None:
        response = client.audit(
            cookie, action="admin_login", actor_email=email, limit=50
        )
        _require_2xx(ctx, "audit log readable", response)
        page = ctx.check_shape("audit page", AuditPage, _json(response))
        events = [
            entry
            for entry in page.items
            if entry.action == "admin_login"
            and email in (entry.actor_email, entry.target_id)
        ]
        ctx.notes["audit_events"] = len(events)
        ctx.check(
            "audit log lists the admin_login of this admin",
            f"admin_login by {email}",
            f"{len(events)} matching of {len(page.items)} listed",
            len(events) >= 1,
        )

    def compensate(self, endpoint, http, action: str, payload: dict) -> dict[str, Any]:
        """``remove_admin_fixture``: delete the admin row (already gone is fine)."""
        if action != REMOVE_ADMIN_FIXTURE:
            return super().compensate(endpoint, http, action, payload)
        email = payload["email"]
        hook = fixture_hook_url(endpoint)
        if hook is None:
            raise NoFixtureHook(
                f"cannot remove admin fixture {email}: no fixture hook configured"
            )
        response = P2SAdminClient(http, hook_url=hook).remove_admin_fixture(email)
        if response.status_code == 404:
            return {"email": email, "removed": False, "reason": "already gone"}
        if not 200 <= response.status_code < 300:
            raise RuntimeError(
                f"removing admin fixture {email} failed: HTTP {response.status_code}"
            )
        return {"email": email, "removed": True}
