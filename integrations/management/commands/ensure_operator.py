"""Create the operator (superuser) account once, and the role groups."""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from testenv.roles import ROLE_GROUPS


class Command(BaseCommand):
    help = (
        "Create the operator account from DJANGO_SUPERUSER_USERNAME / _PASSWORD / "
        "_EMAIL, or with a generated password printed once; create the role groups."
    )

    def handle(self, *args, **options) -> None:
        for name in ROLE_GROUPS:
            Group.objects.get_or_create(name=name)
        User = get_user_model()
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME") or "operator"
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL") or f"{username}@localhost"
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD") or ""
        if User.objects.filter(username=username).exists():
            self.stdout.write(
                f"Operator account '{username}' exists (its password was printed when "
                f"it was created; reset it with `manage.py changepassword {username}`)."
            )
            return
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email=email, password=password)
        if generated:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created operator account  username: {username}  "
                    f"password: {password}   (shown once; keep it)"
                )
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created operator account '{username}' with the password from "
                    "DJANGO_SUPERUSER_PASSWORD."
                )
            )
