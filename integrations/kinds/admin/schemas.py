"""Response shapes of Pay2Slay's ``/healthz`` and ``/admin/*`` (PROTOCOLS.md section 5).

Pay2Slay is a FastAPI app: errors are ``{"detail": <str or list>}``. PROTOCOLS.md
states the login and health bodies; it does not state the audit page or the
extended-health body, so those models require only what testenv reads (the
audit rows' ``action``/``actor_email``/``target_id`` under ``items``, as the
built-in simulator serves them) and allow everything else.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class Healthz(_Model):
    """``GET /healthz``: ``{"status": "ok"}`` when the app is up."""

    status: str


class AdminLogin(_Model):
    """``POST /admin/login`` 200 (the ``p2s_admin`` cookie comes with it)."""

    email: str = Field(min_length=3, pattern=r"^[^@\s]+@[^@\s]+$")
    discord_username: str | None = None


class AuditEntry(_Model):
    action: str = Field(min_length=1)
    actor_email: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    summary: str | None = None
    created_at: str | None = None


class AuditPage(_Model):
    """``GET /admin/audit``: newest first, ``limit`` at most 200."""

    items: list[AuditEntry] = Field(max_length=200)
    total: int | None = Field(default=None, ge=0)
    limit: int | None = None
    offset: int | None = None


class HealthExtended(_Model):
    """``GET /admin/health/extended``: a JSON object; ``status`` when given."""

    status: str | None = None


class Reverify(_Model):
    """``POST /admin/reverify`` 200."""

    status: str
    discord_id: str
    epic_account_id: str | None = None


class DetailError(_Model):
    """FastAPI error body: a message, or a list of validation errors (422)."""

    detail: str | list[Any]
    scope: str | None = None  # the app's own rate limiter adds it to a 429

    def describe(self) -> str:
        if isinstance(self.detail, str):
            return self.detail
        messages = [
            str(item.get("msg", item)) if isinstance(item, dict) else str(item)
            for item in self.detail
        ]
        return "; ".join(messages)
