"""Pay2Slay admin response schemas and how a mismatch is reported."""

from __future__ import annotations

import pytest

from integrations.kinds.admin.schemas import (
    AdminLogin,
    AuditPage,
    DetailError,
)
from integrations.kinds.base import WorkflowAbort, WorkflowContext, parse_shape


def test_a_login_answer_carries_an_email_and_optionally_a_discord_username():
    assert AdminLogin.model_validate({"email": "admin@example.org"}).email
    login = AdminLogin.model_validate(
        {"email": "p2s_owner@discord", "discord_username": "p2s_owner"}
    )
    assert login.discord_username == "p2s_owner"
    _, problem = parse_shape(AdminLogin, {"email": "not an email"})
    assert problem.endswith("at email")


def test_an_audit_page_lists_rows_with_an_action():
    page = AuditPage.model_validate(
        {
            "items": [
                {
                    "id": 1,
                    "action": "admin_login",
                    "actor_email": "admin@example.org",
                    "target_type": "admin_user",
                    "target_id": "admin@example.org",
                }
            ],
            "total": 1,
        }
    )
    assert page.items[0].action == "admin_login"
    _, problem = parse_shape(AuditPage, {"items": [{"actor_email": "a@b.c"}]})
    assert problem == "Field required at items.0.action"
    _, problem = parse_shape(AuditPage, [{"action": "admin_login"}])
    assert problem.endswith("at $")


def test_fastapi_errors_are_described_for_messages():
    assert DetailError.model_validate({"detail": "Unauthorized"}).describe() == (
        "Unauthorized"
    )
    validation = DetailError.model_validate(
        {"detail": [{"type": "missing", "loc": ["body"], "msg": "Field required"}]}
    )
    assert validation.describe() == "Field required"
    limited = DetailError.model_validate({"detail": "rate_limited", "scope": "ip"})
    assert limited.scope == "ip"


def test_a_workflow_shape_check_aborts_naming_the_path():
    ctx = WorkflowContext(endpoint=None, http=None, test_data={})
    with pytest.raises(WorkflowAbort, match="at items.0.action"):
        ctx.check_shape("audit page", AuditPage, {"items": [{}]})
    assert ctx.assertions[0].passed is False
