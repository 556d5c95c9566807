"""Notifications: what happened that concerns a user, shown in the app and sent by email.

A Notification is made by services/notifications.py, only for members of its workspace, never for
the person who acted. Each user chooses per kind how to hear about it (NotificationPreference; no
row means the kind's default, DEFAULT_CHANNELS) and whether emails come at once or in one daily
digest (NotificationSettings). PersonaFollow rows say who follows which persona. Notifications
hold titles, names and a link only: never a persona value, a patch or a comment's text.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class NotificationKind(models.TextChoices):
    REVIEW_REQUESTED = "review_requested", "A change is waiting for your review"
    COMMENT = "comment", "Someone commented on your change"
    APPROVED = "approved", "Your change was approved"
    CHANGES_REQUESTED = "changes_requested", "A reviewer asked for changes to your change"
    APPLIED = "applied", "Your change was applied"
    APPLY_FAILED = "apply_failed", "Your change could not be applied"
    PERSONA_CHANGED_OUTSIDE = (
        "persona_changed_outside",
        "A persona you follow was changed outside the dashboard",
    )


class Channel(models.TextChoices):
    IN_APP = "in_app", "In the app"
    EMAIL = "email", "By email"
    BOTH = "both", "In the app and by email"
    OFF = "off", "Off"


# What a user gets before choosing: what blocks someone else (a review) or needs fixing (a failed
# apply) comes both ways; the rest only in the app.
DEFAULT_CHANNELS: dict[str, str] = {
    kind: Channel.BOTH
    if kind in {NotificationKind.REVIEW_REQUESTED, NotificationKind.APPLY_FAILED}
    else Channel.IN_APP
    for kind in NotificationKind.values
}


class Notification(models.Model):
    """One thing that happened, for one user: a line in their list and, if they chose, an email."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    workspace = models.ForeignKey(
        "personas_app.Workspace", on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField("kind", max_length=32, choices=NotificationKind.choices)
    title = models.CharField("title", max_length=300)
    text = models.CharField("details", max_length=500, blank=True)
    link = models.CharField("page", max_length=500)
    actor_name = models.CharField("by", max_length=150, blank=True)
    created_at = models.DateTimeField("time", default=timezone.now)
    # An email-only notification is kept (it is what the email task and the digest send) but
    # never shown in the app.
    in_app = models.BooleanField("shown in the app", default=True)
    by_email = models.BooleanField("sent by email", default=False)
    read_at = models.DateTimeField("read", null=True, blank=True)
    emailed_at = models.DateTimeField("emailed", null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "-id"], name="notification_list"),
            # The bell's count, on every page: one count over this partial index.
            models.Index(
                fields=["recipient"],
                condition=models.Q(in_app=True, read_at__isnull=True),
                name="notification_unread",
            ),
            models.Index(
                fields=["created_at"],
                condition=models.Q(by_email=True, emailed_at__isnull=True),
                name="notification_email_pending",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=NotificationKind.values), name="notification_kind"
            )
        ]

    def __str__(self) -> str:
        return f"{self.recipient}: {self.title}"

    @property
    def is_unread(self) -> bool:
        return self.read_at is None


class NotificationPreference(models.Model):
    """How one user wants to hear about one kind of notification."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField("kind", max_length=32, choices=NotificationKind.choices)
    channel = models.CharField("how", max_length=10, choices=Channel.choices)

    class Meta:
        ordering = ["user", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="notificationpref_unique_kind"),
            models.CheckConstraint(
                condition=models.Q(channel__in=Channel.values), name="notificationpref_channel"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.kind} → {self.channel}"


class NotificationSettings(models.Model):
    """A user's choices that hold for every kind: one daily digest instead of immediate emails."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_settings"
    )
    daily_digest = models.BooleanField("one daily email instead of one per notification")
    # When this user's digest task is due; null when none is scheduled. Set by one conditional
    # UPDATE (services.notifications), so concurrent notifications schedule one task.
    digest_due_at = models.DateTimeField("next digest", null=True, blank=True)

    class Meta:
        ordering = ["user"]
        verbose_name_plural = "notification settings"

    def __str__(self) -> str:
        return f"{self.user}: {'daily digest' if self.daily_digest else 'emails at once'}"


class PersonaFollow(models.Model):
    """A user follows a persona: they hear when it is changed outside the dashboard."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="persona_follows"
    )
    workspace = models.ForeignKey(
        "personas_app.Workspace", on_delete=models.CASCADE, related_name="+"
    )
    persona_id = models.CharField("persona id", max_length=64)
    created_at = models.DateTimeField("since", auto_now_add=True)

    class Meta:
        ordering = ["workspace", "persona_id", "user"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "persona_id", "user"], name="personafollow_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} follows {self.persona_id} in {self.workspace}"
