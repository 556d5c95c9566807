"""The append-only audit log: one AuditEvent per action the dashboard takes or sees.

Rows are written only by services/audit.py. They can never be changed or deleted: save() refuses an
update, delete() and the queryset's update()/delete() raise, and on PostgreSQL a trigger rejects
UPDATE and DELETE (migration 0002). Snapshots and ops are redacted before they get here.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models


class AppendOnlyError(Exception):
    """Raised on any attempt to change or delete an audit record."""


class AuditQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("Audit records cannot be changed.")

    def delete(self) -> NoReturn:
        raise AppendOnlyError("Audit records cannot be deleted.")


class Outcome(models.TextChoices):
    OK = "ok", "Succeeded"
    ERROR = "error", "Failed"


class AuditEvent(models.Model):
    """Who did what to which persona (or key, or member), when, and what it looked like before and after."""

    workspace = models.ForeignKey(
        "personas_app.Workspace", on_delete=models.PROTECT, related_name="audit_events"
    )
    created_at = models.DateTimeField("time", db_index=False)
    request_id = models.CharField("request id", max_length=36, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    actor_name = models.CharField("who", max_length=150, blank=True)
    action = models.CharField("action", max_length=64)
    outcome = models.CharField("outcome", max_length=8, choices=Outcome.choices, default=Outcome.OK)
    persona_id = models.CharField("persona id", max_length=64, blank=True)
    persona_name = models.CharField("persona name", max_length=255, blank=True)
    target = models.CharField("subject", max_length=255, blank=True)
    http_status = models.PositiveSmallIntegerField("Tavus status", null=True, blank=True)
    error_message = models.TextField("error", blank=True)
    payload = models.JSONField("sent to Tavus", null=True, blank=True)
    before = models.JSONField("before", null=True, blank=True)
    after = models.JSONField("after", null=True, blank=True)
    note = models.TextField("note", blank=True)
    change_request_id = models.BigIntegerField("change request", null=True, blank=True)
    change_set_id = models.BigIntegerField("change set", null=True, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = "audit event"
        indexes = [
            # Keyset pagination: every listing walks one of these in id order.
            models.Index(fields=["workspace", "-id"], name="audit_ws_id"),
            models.Index(fields=["workspace", "persona_id", "-id"], name="audit_ws_persona_id"),
            # The last version the dashboard knows of a persona (every live page reads it): a
            # partial index holding versions only, so the read stays on it whatever the
            # table's size and statistics.
            models.Index(
                fields=["workspace", "persona_id", "-id"],
                name="audit_ws_persona_version",
                condition=models.Q(outcome="ok", after__isnull=False),
            ),
            models.Index(fields=["workspace", "action", "-id"], name="audit_ws_action_id"),
            models.Index(fields=["workspace", "actor_name", "-id"], name="audit_ws_actor_id"),
            # "who" and "what" together: without it, a rare action by a busy actor scans their rows.
            models.Index(
                fields=["workspace", "actor_name", "action", "-id"], name="audit_ws_actor_action_id"
            ),
            models.Index(fields=["workspace", "created_at"], name="audit_ws_time"),
            # A change request's own history (review page); partial: most rows have none.
            models.Index(
                fields=["workspace", "change_request_id", "id"],
                name="audit_ws_cr_id",
                condition=models.Q(change_request_id__isnull=False),
            ),
            # A change set's own history; partial, as above.
            models.Index(
                fields=["workspace", "change_set_id", "id"],
                name="audit_ws_cs_id",
                condition=models.Q(change_set_id__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name or 'system'} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise AppendOnlyError("Audit records cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("Audit records cannot be deleted.")

    @property
    def is_version(self) -> bool:
        """A successful change (or outside change) that produced a persona snapshot."""
        return self.outcome == Outcome.OK and self.after is not None
