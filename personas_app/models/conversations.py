"""Test conversations started from the dashboard, so forgotten ones can be found and ended."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Conversation(models.Model):
    """A Tavus conversation someone started from a persona page."""

    workspace = models.ForeignKey(
        "personas_app.Workspace", on_delete=models.CASCADE, related_name="conversations"
    )
    conversation_id = models.CharField("conversation id", max_length=64)
    conversation_name = models.CharField("name", max_length=255, blank=True)
    conversation_url = models.URLField("join link", max_length=500, blank=True)
    persona_id = models.CharField("persona id", max_length=64)
    persona_name = models.CharField("persona name", max_length=255, blank=True)
    replica_id = models.CharField("replica id", max_length=64, blank=True)
    status = models.CharField("status", max_length=20, default="active")
    test_mode = models.BooleanField("test mode", default=False)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_by_name = models.CharField("started by", max_length=150, blank=True)
    started_at = models.DateTimeField("started", auto_now_add=True)
    ended_at = models.DateTimeField("ended", null=True, blank=True)
    ended_by_name = models.CharField("ended by", max_length=150, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "conversation_id"], name="conversation_unique_id"
            )
        ]
        indexes = [models.Index(fields=["workspace", "status"], name="conv_ws_status")]

    def __str__(self) -> str:
        return self.conversation_name or self.conversation_id

    @property
    def is_active(self) -> bool:
        return self.ended_at is None and self.status != "ended"
