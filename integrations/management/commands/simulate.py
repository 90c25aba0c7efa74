"""Run every simulator in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations.simulators.server import SimulatorServer


def _cold_start(value: str) -> tuple[str, float]:
    service, sep, seconds = value.partition("=")
    try:
        number = float(seconds)
    except ValueError:
        number = -1.0
    if not sep or not service or number < 0:
        raise ValueError(f"expected SERVICE=SECONDS, got {value!r}")
    return service, number


class Command(BaseCommand):
    help = (
        "Serve the simulators of Yunite, Discord, the Banano node, the Pippin wallet, "
        "the Pay2Slay app, GitHub and a generic HTTP target on one port, with the "
        "fault-injection control API under /_control."
    )
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument(
            "--cold-start",
            action="append",
            default=[],
            metavar="SERVICE=SECONDS",
            help="start SERVICE slow for SECONDS (e.g. banano=20); repeatable",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            cold_start = dict(_cold_start(v) for v in options["cold_start"])
            server = SimulatorServer(
                options["host"], options["port"], cold_start=cold_start
            )
        except (ValueError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        done = threading.Event()

        def _stop(signum: int, frame: object) -> None:
            done.set()

        previous = {
            sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        server.start()
        try:
            self.stdout.write(f"Simulators listening on {server.url}")
            width = max(len(name) for name in [*server.services, "authorize"])
            for name, url in server.service_urls().items():
                self.stdout.write(f"  {name.ljust(width)}  {url}")
            discord = server.services["discord"].base_url.removesuffix("/api")
            self.stdout.write(
                f"  {'authorize'.ljust(width)}  {discord}/oauth2/authorize"
            )
            self.stdout.write(f"  {'control'.ljust(width)}  {server.url}/_control")
            for name, seconds in cold_start.items():
                self.stdout.write(f"  {name} cold-starts for {seconds:g} s")
            self.stdout.flush()
            while not done.wait(0.5):
                pass
        finally:
            server.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.stdout.write("Simulators stopped")
