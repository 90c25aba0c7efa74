"""Yunite workflows."""

from __future__ import annotations

import re
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from integrations.kinds.base import (
    Workflow,
    WorkflowAbort,
    WorkflowContext,
    parse_shape,
    register_workflow,
)
from integrations.kinds.yunite.client import YuniteClient, rate_limit_headers
from integrations.kinds.yunite.probe import STATUS_REASONS
from integrations.kinds.yunite.schemas import (
    EpicId,
    RegistrationLinks,
    Snowflake,
    YuniteError,
)

EPIC_ID_RE = re.compile(r"[0-9a-f]{32}")

Outcome = Literal["linked", "notLinked", "notFound"]

# settings.test_users key -> the outcome that identity must produce.
TEST_USER_OUTCOMES: dict[str, str] = {
    "linked": "linked",
    "not_linked": "notLinked",
    "not_found": "notFound",
}


class UserLookupInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    discord_user_id: Snowflake
    # Unset: taken from settings.test_users when the id is one of them.
    expected_outcome: Outcome | None = None
    expected_epic_id: EpicId | None = None


def _test_users(endpoint) -> dict[str, Any]:
    users = (endpoint.settings or {}).get("test_users") or {}
    return users if isinstance(users, dict) else {}


@register_workflow
class YuniteUserLookup(Workflow):
    """Look a Discord id up through the registration-links API and check that
    it is classified as expected (linked with the right Epic id, not linked,
    or not found)."""

    name = "yunite_user_lookup"
    kinds = ("yunite",)
    description = (
        "POST registration/links for one Discord id; assert 200, the response "
        "format, and the linked / notLinked / notFound outcome."
    )
    input_model = UserLookupInput

    def defaults(self, endpoint) -> dict[str, Any]:
        linked = _test_users(endpoint).get("linked")
        return {"discord_user_id": str(linked)} if linked else {}

    def expectation(
        self, endpoint, data: UserLookupInput
    ) -> tuple[str | None, str | None]:
        """The expected (outcome, epic id): the input's, else the configured
        test identity's when the id is one of ``settings.test_users``."""
        outcome, epic_id = data.expected_outcome, data.expected_epic_id
        if outcome is None:
            users = _test_users(endpoint)
            for key, known in TEST_USER_OUTCOMES.items():
                if users.get(key) and str(users[key]) == data.discord_user_id:
                    outcome = known
                    break
            if outcome == "linked" and epic_id is None:
                epic_id = users.get("expected_epic_id") or None
        return outcome, epic_id

    def run(self, ctx: WorkflowContext, data: UserLookupInput) -> None:
        guild_id = str((ctx.endpoint.settings or {}).get("guild_id") or "")
        if not guild_id:
            raise ValueError("endpoint settings.guild_id is not set")
        user_id = data.discord_user_id
        expected_outcome, expected_epic = self.expectation(ctx.endpoint, data)

        started = time.monotonic()
        response = YuniteClient(ctx.http).registration_links(guild_id, [user_id])
        ctx.notes["latency_ms"] = int((time.monotonic() - started) * 1000)
        ctx.notes["rate_limit"] = rate_limit_headers(response)
        ctx.notes["guild_id"] = guild_id

        code = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        if not ctx.check_equal("HTTP status", 200, code):
            error, _ = parse_shape(YuniteError, body)
            detail = error.describe() if error else ""
            reason = STATUS_REASONS.get(code, f"HTTP {code}")
            if code == 429:
                reset_in = ctx.notes["rate_limit"].get("Y-RateLimit-ResetIn")
                reason = "rate limited (429), retries exhausted" + (
                    f"; resets in {reset_in} s" if reset_in else ""
                )
            raise WorkflowAbort(
                f"Yunite: {reason}" + (f" ({detail})" if detail else "")
            )

        links = ctx.check_shape("registration links", RegistrationLinks, body)
        listed_in = [
            name
            for name, ids in (
                ("users", [u.discord.id for u in links.users]),
                ("notLinked", links.notLinked),
                ("notFound", links.notFound),
            )
            if user_id in ids
        ]
        ctx.require(
            "the id is listed in exactly one of users / notLinked / notFound",
            "one list",
            listed_in or "none",
            len(listed_in) == 1,
        )
        outcome, epic_id = links.classify(user_id)
        ctx.notes["outcome"] = outcome
        if epic_id:
            ctx.notes["epic_id"] = epic_id
            ctx.check(
                "epicID is 32 lowercase hex",
                "32 lowercase hex",
                epic_id,
                bool(EPIC_ID_RE.fullmatch(epic_id)),
            )
        if expected_outcome is None:
            ctx.notes["expectation"] = "none configured; outcome recorded only"
            return
        ctx.check_equal("outcome", expected_outcome, outcome)
        if expected_outcome == "linked" and expected_epic:
            ctx.check_equal("epicID", expected_epic, epic_id)
