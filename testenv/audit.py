"""Audit records: who changed what and when (SPEC §5).

Every modifying API route and admin action calls ``audit`` inside the same
transaction as the change, so a rolled-back change leaves no record and a
committed one always has its record.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

# Keys whose values never reach the audit log (credentials written through the
# API, tokens, passwords): the record says that they changed, not to what.
SECRET_KEY_PARTS = ("credential", "password", "secret", "token", "api_key")
REDACTED = "[redacted]"


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: REDACTED
            if any(part in str(key).lower() for part in SECRET_KEY_PARTS)
            else _redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact(item) for item in value]
    return value


def _target(target: models.Model | tuple[str, Any]) -> tuple[str, str]:
    if isinstance(target, models.Model):
        return target._meta.label_lower, str(target.pk)
    target_type, target_id = target
    return str(target_type), str(target_id)


def audit(
    actor: Any,
    action: str,
    target: models.Model | tuple[str, Any],
    changes: dict[str, Any] | None = None,
    source: str = "api",
):
    """Record that ``actor`` did ``action`` to ``target`` and return the event.

    ``target`` is a model instance or a ``(type, id)`` pair; ``changes`` is any
    JSON-able dict (datetimes and UUIDs are fine), with secrets redacted by key.
    An anonymous or missing actor is stored as null (the webhook, the system).
    """
    from integrations.models import AuditEvent

    target_type, target_id = _target(target)
    if not getattr(actor, "is_authenticated", False):
        actor = None
    payload = json.loads(json.dumps(_redact(changes or {}), cls=DjangoJSONEncoder))
    return AuditEvent.objects.create(
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        changes=payload,
        source=source,
    )


__all__ = ["audit"]
