"""Re-encrypt every stored secret with the first FIELD_ENCRYPTION_KEYS key."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from ...crypto import DecryptionError
from ...services.workspaces import api_key_rotate_encryption


class Command(BaseCommand):
    help = "Re-encrypt every stored API key with the first key of FIELD_ENCRYPTION_KEYS."

    def handle(self, *args: object, **options: object) -> None:
        try:
            count = api_key_rotate_encryption()
        except DecryptionError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Re-encrypted {count} stored secret{'s' if count != 1 else ''} with the first key."
        )
