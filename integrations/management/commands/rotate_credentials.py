"""Re-encrypt every stored secret with the newest FIELD_ENCRYPTION_KEYS key."""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from integrations.crypto import CredentialError, rotate_token
from integrations.models import IntegrationEndpoint, NotificationChannel

# (model, encrypted field) pairs holding Fernet tokens.
ENCRYPTED_FIELDS = (
    (IntegrationEndpoint, "credentials_encrypted"),
    (NotificationChannel, "url_encrypted"),
)


class Command(BaseCommand):
    help = (
        "Re-encrypt endpoint credentials and notification URLs with the first "
        "key of FIELD_ENCRYPTION_KEYS. Run after putting a new key first; then "
        "the old keys can be removed."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Report what would be re-encrypted without writing.",
        )

    def handle(self, *args: Any, dry_run: bool = False, **options: Any) -> None:
        keys = settings.FIELD_ENCRYPTION_KEYS
        if not keys:
            raise CommandError(
                "FIELD_ENCRYPTION_KEYS is empty (the DEBUG development key is in "
                "use): there is nothing to rotate to."
            )
        newest = Fernet(keys[0].encode())
        failures: list[str] = []
        counts: dict[str, int] = {}
        with transaction.atomic():
            for model, field in ENCRYPTED_FIELDS:
                label = f"{model._meta.label}.{field}"
                rotated = 0
                rows = model.objects.exclude(**{field: ""}).only("pk", field)
                for row in rows.select_for_update().iterator():
                    token = getattr(row, field)
                    try:
                        # A token already under the newest key needs no write.
                        newest.decrypt(token.encode())
                        continue
                    except InvalidToken:
                        pass
                    try:
                        new_token = rotate_token(token)
                    except CredentialError:
                        # Never print the token: it is the secret, encrypted or not.
                        failures.append(f"{label} pk={row.pk}")
                        continue
                    if not dry_run:
                        model.objects.filter(pk=row.pk).update(**{field: new_token})
                    rotated += 1
                counts[label] = rotated
            if failures:
                raise CommandError(
                    "cannot decrypt with any configured key (nothing was "
                    "written): " + ", ".join(failures)
                )
        verb = "would re-encrypt" if dry_run else "re-encrypted"
        for label, rotated in counts.items():
            self.stdout.write(f"{label}: {verb} {rotated}")
