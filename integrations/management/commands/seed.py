"""``manage.py seed``: one SIMULATED endpoint per kind, pointing at the simulators."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from integrations.seed import seed


class Command(BaseCommand):
    help = (
        "Create one SIMULATED endpoint per kind on the simulators (SIMULATOR_URL). "
        "Existing endpoints are kept unless --reset."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--simulator-url",
            default=settings.SIMULATOR_URL,
            help="where the simulators listen (default: SIMULATOR_URL)",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="overwrite the seed endpoints with their seed values",
        )

    def handle(self, *args, **options) -> None:
        results = seed(options["simulator_url"], reset=options["reset"])
        created = [endpoint.name for endpoint, action in results if action != "kept"]
        if created:
            self.stdout.write(
                self.style.SUCCESS(f"Seeded {len(created)} endpoint(s): ")
                + ", ".join(created)
            )
        else:
            self.stdout.write("Seed endpoints already present (use --reset to renew).")
