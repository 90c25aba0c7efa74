"""Users, tokens, cookies and endpoints the scenarios need (after django.setup())."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import Group, User

from integrations.models import IntegrationEndpoint
from testenv.roles import TESTERS


def tester(username: str = "bench-tester") -> User:
    user, created = User.objects.get_or_create(
        username=username, defaults={"email": f"{username}@example.org"}
    )
    if created:
        user.set_password("bench-password-1")
        user.save()
    user.groups.add(Group.objects.get_or_create(name=TESTERS)[0])
    return user


def api_token(user: User) -> str:
    """A DRF token: ``Authorization: Token <key>``."""
    from rest_framework.authtoken.models import Token

    return Token.objects.get_or_create(user=user)[0].key


def session_cookie(user: User) -> str:
    """A logged-in Django session for ``user``, as a Cookie header value."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}"


def http_endpoints(
    count: int,
    url: str,
    *,
    prefix: str = "bench-http",
    next_check_at: datetime | None = None,
    **fields,
) -> list[int]:
    """``count`` generic-http endpoints checking ``url``; their ids in order."""
    fields.setdefault("check_interval_seconds", 20)
    fields.setdefault("timeout_seconds", 10)
    fields.setdefault("retry_attempts", 0)
    IntegrationEndpoint.objects.bulk_create(
        [
            IntegrationEndpoint(
                name=f"{prefix}-{index:04d}",
                kind="http",
                mode=IntegrationEndpoint.Mode.SIMULATED,
                base_url=url,
                health_check_url=url,
                next_check_at=next_check_at,
                **fields,
            )
            for index in range(count)
        ],
        batch_size=500,
    )
    return list(
        IntegrationEndpoint.objects.filter(name__startswith=f"{prefix}-")
        .order_by("name")
        .values_list("pk", flat=True)
    )
