"""Copies admin change records into the audit trail."""

from __future__ import annotations

from typing import Any

from integrations.models import AuditEvent

ACTIONS = {1: "create", 2: "update", 3: "delete"}


def mirror_admin_log_entry(
    sender: Any, instance: Any, created: bool, **kwargs: Any
) -> None:
    if not created:
        return
    content_type = instance.content_type
    AuditEvent.objects.create(
        actor_id=instance.user_id,
        action=ACTIONS.get(instance.action_flag, "change"),
        target_type=(
            f"{content_type.app_label}.{content_type.model}" if content_type else ""
        ),
        target_id=str(instance.object_id or "")[:64],
        changes={
            "message": instance.get_change_message(),
            "repr": instance.object_repr,
        },
        source="admin",
        at=instance.action_time,
    )
