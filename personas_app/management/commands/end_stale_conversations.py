"""End test conversations that ran past their workspace's limit (for cron).

    python manage.py end_stale_conversations [--dry-run]

Each one ended is audited as "conversation.ended" by the system, with the limit in the note.
Exits non-zero when some could not be ended (those failures are audited too).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ...models import Conversation
from ...services.conversations import conversations_end_stale, conversations_stale


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


class Command(BaseCommand):
    help = (
        "End conversations started from the dashboard that are still running after their "
        "workspace's limit (Settings → end test conversations after N minutes)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="List the conversations that would be ended, and end none.",
        )

    def handle(self, *args: object, **options: Any) -> None:
        now = timezone.now()
        if options["dry_run"]:
            stale = conversations_stale(now=now)
            for conversation in stale:
                minutes = int((now - conversation.started_at).total_seconds() // 60)
                self.stdout.write(
                    f"{conversation.workspace.slug}: {conversation} ({conversation.conversation_id}), "
                    f"persona {conversation.persona_name or conversation.persona_id}, "
                    f"started by {conversation.started_by_name or 'unknown'}, "
                    f"running {_plural(minutes, 'minute')}"
                )
            self.stdout.write(f"Would end {_plural(len(stale), 'stale conversation')} (dry run)")
            return

        failures: list[str] = []

        def report(conversation: Conversation, exc: Exception) -> None:
            failures.append(conversation.conversation_id)
            message = getattr(exc, "user_message", None) or str(exc)
            self.stderr.write(
                f"Could not end {conversation.workspace.slug}: {conversation} "
                f"({conversation.conversation_id}): {message}"
            )

        count = conversations_end_stale(now=now, on_error=report)
        self.stdout.write(f"Ended {_plural(count, 'stale conversation')}")
        if failures:
            # A non-zero exit makes cron report it; the failures are in the audit log too.
            raise CommandError(f"{_plural(len(failures), 'conversation')} could not be ended.")
