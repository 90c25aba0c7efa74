"""Validators for integration endpoints."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

http_url_validator = URLValidator(schemes=["http", "https"])


def host_is_production(host: str) -> bool:
    """True when ``host`` is in PRODUCTION_HOSTS (``*.suffix`` matches subdomains)."""
    host = (host or "").lower().rstrip(".")
    for pattern in settings.PRODUCTION_HOSTS:
        pattern = pattern.lower().rstrip(".")
        if pattern.startswith("*."):
            if host == pattern[2:] or host.endswith(pattern[1:]):
                return True
        elif host == pattern:
            return True
    return False


def validate_not_production(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if host_is_production(host):
        raise ValidationError(
            "%(host)s is a production host (PRODUCTION_HOSTS); testenv refuses "
            "to call it.",
            code="production_host",
            params={"host": host},
        )


def validate_endpoint_url(url: str) -> None:
    http_url_validator(url)
    validate_not_production(url)
