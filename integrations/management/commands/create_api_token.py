"""Create (or show, or regenerate) the API token of a user.

    manage.py create_api_token USERNAME [--regenerate]
    manage.py create_api_token USERNAME --create --role tester

Prints only the key, so scripts can capture it:
``TOKEN=$(manage.py create_api_token ci-bot)``. Tokens can also be created in
the admin (Auth Token › Tokens).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework.authtoken.models import Token

from testenv.audit import audit
from testenv.roles import PRODUCT_OWNERS, TESTERS

ROLES = {"tester": TESTERS, "product_owner": PRODUCT_OWNERS, "operator": None}


class Command(BaseCommand):
    help = "Print the API token of a user, creating it (or a new one) if asked."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--regenerate",
            action="store_true",
            help="Replace an existing token (the old key stops working at once).",
        )
        parser.add_argument(
            "--create",
            action="store_true",
            help="Create the user (without a usable password) when missing.",
        )
        parser.add_argument(
            "--role",
            choices=sorted(ROLES),
            help="Give the user this role (operator = staff).",
        )

    @transaction.atomic
    def handle(self, *args, username: str, regenerate: bool, create: bool, role, **kw):
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            if not create:
                raise CommandError(
                    f"No user {username!r}; pass --create to create one."
                )
            user = User.objects.create_user(username=username)
            user.set_unusable_password()
            user.save()
        if role == "operator":
            if not user.is_staff:
                user.is_staff = True
                user.save(update_fields=["is_staff"])
        elif role:
            user.groups.add(Group.objects.get_or_create(name=ROLES[role])[0])
        existing = Token.objects.filter(user=user).first()
        if existing is not None and regenerate:
            existing.delete()
            existing = None
        if existing is None:
            token = Token.objects.create(user=user)
            audit(
                None,
                "token.create",
                ("auth.user", user.pk),
                {"username": username, "regenerated": regenerate, "role": role},
                source="command",
            )
        else:
            token = existing
        self.stdout.write(token.key)
