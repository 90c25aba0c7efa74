"""GitHub webhook deliveries: signature check, replay guard, issue events.

Order of checks: the signature over the raw body first (nothing is parsed or
stored before it passes), then the delivery id (a replay is answered 204 and
changes nothing), then the event. Only ``issues`` events for the configured
repository touch reports.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from feedback import services
from feedback.models import WebhookDelivery
from integrations.kinds.github.client import issue_ref_from_json

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="
HANDLED_ACTIONS = frozenset({"closed", "reopened"})


class SignatureMissing(Exception):
    """No X-Hub-Signature-256 header (HTTP 401)."""


class SignatureInvalid(Exception):
    """A signature that does not match, or no secret configured (HTTP 403)."""


def expected_signature(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify_signature(body: bytes, header: str | None) -> None:
    """Raise unless ``header`` is the HMAC-SHA256 of the raw ``body`` under
    ``settings.GITHUB_WEBHOOK_SECRET`` (compared in constant time)."""
    if not header:
        raise SignatureMissing("X-Hub-Signature-256 is missing")
    secret = settings.GITHUB_WEBHOOK_SECRET
    if not secret:
        # Without a secret nothing can be verified: refuse everything rather
        # than accept unsigned state changes.
        raise SignatureInvalid("GITHUB_WEBHOOK_SECRET is not configured")
    if not hmac.compare_digest(
        expected_signature(secret, body).encode(), header.strip().encode()
    ):
        raise SignatureInvalid("X-Hub-Signature-256 does not match the body")


@dataclass(frozen=True)
class DeliveryResult:
    replay: bool = False
    changed: bool = False
    ignored_reason: str = ""


def _repository_matches(payload: dict[str, Any]) -> bool:
    full_name = str((payload.get("repository") or {}).get("full_name") or "")
    return full_name.lower() == settings.GITHUB_REPO.lower()


def handle_delivery(
    *, event: str, delivery_id: str, payload: dict[str, Any]
) -> DeliveryResult:
    """Record the delivery and apply it; a delivery id seen before changes
    nothing. The record and the report change commit together."""
    action = str(payload.get("action") or "")
    issue_data = (
        payload.get("issue") if isinstance(payload.get("issue"), dict) else None
    )
    number = issue_data.get("number") if issue_data else None
    with transaction.atomic():
        try:
            with transaction.atomic():
                WebhookDelivery.objects.create(
                    delivery_id=delivery_id,
                    event=event[:50],
                    action=action[:50],
                    issue_number=number
                    if isinstance(number, int) and number > 0
                    else None,
                )
        except IntegrityError:
            logger.info("webhook delivery %s replayed; ignored", delivery_id)
            return DeliveryResult(replay=True)
        if event != "issues":
            return DeliveryResult(ignored_reason=f"event {event!r} not handled")
        if action not in HANDLED_ACTIONS:
            return DeliveryResult(ignored_reason=f"action {action!r} not handled")
        if issue_data is None or not isinstance(number, int):
            return DeliveryResult(ignored_reason="no issue in the payload")
        if not _repository_matches(payload):
            return DeliveryResult(ignored_reason="another repository")
        report = services.feedback_apply_issue_state(
            issue=issue_ref_from_json(issue_data),
            source="webhook",
            delivery_id=delivery_id,
        )
    return DeliveryResult(changed=report is not None)


def parse_payload(body: bytes) -> dict[str, Any]:
    """The JSON payload; ``ValueError`` when it is not a JSON object."""
    data = json.loads(body.decode("utf-8"))
    if not isinstance(data, dict):
        raise ValueError("the payload is not a JSON object")
    return data
