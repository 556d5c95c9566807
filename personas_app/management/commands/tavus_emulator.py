"""Serve the bundled Tavus emulator: python manage.py tavus_emulator --port 8765 --api-key demo-key."""

from __future__ import annotations

import argparse

from django.core.management.base import BaseCommand

from ...devtools.emulator import serve_forever
from ...persona.templates import template_doc

DEMO_TEMPLATES = ("interviewer", "life_coach", "customer_support")


class Command(BaseCommand):
    help = "Serve the Tavus emulator (a stateful stand-in for the Tavus persona API) on loopback."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--api-key", default="demo-key")
        parser.add_argument("--latency-ms", type=int, default=0)
        parser.add_argument(
            "--demo-personas",
            action="store_true",
            help="Start with a few of the account's own personas (the Interviewer, Life coach and "
            "Customer support templates), as make run does.",
        )

    def handle(self, *args: object, **options: object) -> None:
        host, port = str(options["host"]), int(options["port"])  # type: ignore[call-overload]
        self.stdout.write(f"Tavus emulator on http://{host}:{port} (api key from --api-key)")
        personas = [template_doc(key) for key in DEMO_TEMPLATES] if options["demo_personas"] else []
        serve_forever(
            host,
            port,
            str(options["api_key"]),
            int(options["latency_ms"]),  # type: ignore[call-overload]
            personas=personas,
        )
