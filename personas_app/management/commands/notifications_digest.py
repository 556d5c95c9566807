"""Send everyone's daily notification digest now (for teams that prefer cron to the workers).

    python manage.py notifications_digest

Each user who chose the daily digest gets one email listing the day's notifications they chose to
get by email and that were not emailed yet. Not needed with task workers running: each user's
digest is then a task of its own (services.notifications.notifications_digest_user_task) at
NOTIFICATIONS_DIGEST_HOUR. Both may run: a notification is emailed once, whichever sends it first.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from ...services.notifications import notifications_digest_send


class Command(BaseCommand):
    help = "Email each user who chose the daily digest one summary of the day's notifications."

    def handle(self, *args: object, **options: Any) -> None:
        sent = notifications_digest_send()
        self.stdout.write(f"Sent {sent} digest email{'s' if sent != 1 else ''}.")
