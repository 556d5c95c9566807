"""Send the daily notification digests (run once a day, from cron or a scheduler).

    python manage.py notifications_digest

Each user who chose the daily digest gets one email listing the day's notifications they chose to
get by email and that were not emailed yet. The same work runs as the task
services.notifications.notifications_digest_task.
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
