"""Invitations to join a workspace by email, with a role.

The link's token is never stored: only its SHA-256 hash is, so a copy of the database cannot be
used to accept an invitation. An invitation is used once, expires after INVITATION_VALID_DAYS, and
can be revoked; its state is worked out from those three dates.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from .workspaces import Role, Workspace

INVITATION_VALID_DAYS = 7


class InvitationState(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"


def invitation_token_hash(token: str) -> str:
    """The hash stored for a link's token (SHA-256: the token is random, so no salt is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_invitation_token() -> tuple[str, str]:
    """A fresh token for a link and the hash to store: (token, hash)."""
    token = secrets.token_urlsafe(32)
    return token, invitation_token_hash(token)


def invitation_expiry(now: datetime) -> datetime:
    """When an invitation sent at `now` stops working."""
    return now + timedelta(days=INVITATION_VALID_DAYS)


class Invitation(models.Model):
    """An email address invited into a workspace with a role, until accepted, revoked or expired."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField("email address", max_length=254)
    role = models.CharField("role", max_length=16, choices=Role.choices, default=Role.EDITOR)
    token_hash = models.CharField("token hash", max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    invited_by_name = models.CharField("invited by", max_length=150, blank=True)
    created_at = models.DateTimeField("invited", auto_now_add=True)
    sent_at = models.DateTimeField("last sent", default=timezone.now)
    expires_at = models.DateTimeField("expires")
    accepted_at = models.DateTimeField("accepted", null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_by_name = models.CharField("accepted by", max_length=150, blank=True)
    revoked_at = models.DateTimeField("revoked", null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["workspace", "-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=[r.value for r in Role]), name="invitation_valid_role"
            ),
            models.CheckConstraint(
                condition=models.Q(accepted_at__isnull=True) | models.Q(revoked_at__isnull=True),
                name="invitation_not_accepted_and_revoked",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.workspace} ({self.role}, {self.state})"

    @property
    def state(self) -> InvitationState:
        if self.revoked_at is not None:
            return InvitationState.REVOKED
        if self.accepted_at is not None:
            return InvitationState.ACCEPTED
        if timezone.now() >= self.expires_at:
            return InvitationState.EXPIRED
        return InvitationState.PENDING

    @property
    def is_pending(self) -> bool:
        return self.state == InvitationState.PENDING

    def refusal(self) -> str:
        """Why this invitation's link can no longer be used ("" while it is pending)."""
        state = self.state
        if state == InvitationState.REVOKED:
            return "This invitation was withdrawn by a workspace admin. Ask them for a new one."
        if state == InvitationState.ACCEPTED:
            return "This invitation has already been used. Log in to reach the workspace."
        if state == InvitationState.EXPIRED:
            return (
                f"This invitation expired on {self.expires_at:%d %B %Y}. "
                "Ask a workspace admin to send it again."
            )
        return ""
