"""Create (once) the demo user and demo workspace used by `make run`.

With TAVUS_API_KEY set, the demo workspace talks to real Tavus; otherwise to the bundled emulator at
--emulator-url with the emulator's demo key.
"""

from __future__ import annotations

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from ...models import Membership, Role, Workspace
from ...services.workspaces import (
    api_key_activate,
    api_key_add,
    api_key_rotate,
    workspace_create,
)

DEMO_USER, DEMO_PASSWORD, DEMO_SLUG = "demo", "demo-password", "demo"


class Command(BaseCommand):
    help = "Create the demo user and workspace for local use (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--emulator-url", default="http://127.0.0.1:8765")
        parser.add_argument("--emulator-key", default="demo-key")

    def handle(self, *args: object, **options: object) -> None:
        User = get_user_model()
        user = User.objects.filter(username=DEMO_USER).first()
        if user is None:
            user = User.objects.create_user(DEMO_USER, "demo@example.com", DEMO_PASSWORD)
        real_key = os.environ.get("TAVUS_API_KEY", "").strip()
        base_url = "" if real_key else str(options["emulator_url"])
        secret = real_key or str(options["emulator_key"])
        workspace = Workspace.objects.filter(slug=DEMO_SLUG).first()
        if workspace is None:
            workspace = workspace_create(
                name="Demo", slug=DEMO_SLUG, base_url=base_url, created_by=user
            )
        Membership.objects.update_or_create(
            workspace=workspace, user=user, defaults={"role": Role.ADMIN}
        )
        if workspace.tavus_base_url != base_url:
            workspace.tavus_base_url = base_url
            workspace.save(update_fields=["tavus_base_url"])
        key = workspace.api_keys.filter(label="demo").first()
        if key is None:
            api_key_add(workspace=workspace, label="demo", secret=secret, actor=user, activate=True)
        else:
            if key.is_revoked or key.last4 != secret[-4:]:
                key = api_key_rotate(workspace=workspace, key=key, secret=secret, actor=user)
            if not key.is_active:
                api_key_activate(workspace=workspace, key=key, actor=user)
        target = "real Tavus" if real_key else f"the emulator at {base_url}"
        self.stdout.write(f"Demo workspace “{workspace.slug}” talks to {target}.")
