"""Workspaces, their members (with roles) and their Tavus API keys.

A workspace is one Tavus account seen by one team. Everything else in the dashboard is scoped to it.
Keys are stored encrypted (crypto.seal); only their last four characters are ever shown.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    EDITOR = "editor", "Editor"
    REVIEWER = "reviewer", "Reviewer"
    ADMIN = "admin", "Admin"


class MembershipSource(models.TextChoices):
    """Who made a membership: a person (the members page, an invitation) or single sign-on (the
    provider's groups mapped by OIDC_GROUP_ROLES). Sign-in only ever changes its own."""

    MANUAL = "manual", "Added by hand"
    SSO = "sso", "Single sign-on"


class Workspace(models.Model):
    """One team's or environment's view of one Tavus account."""

    name = models.CharField("name", max_length=100)
    slug = models.SlugField("short name in URLs", max_length=50, unique=True)
    tavus_base_url = models.URLField("Tavus API address", max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField("created", auto_now_add=True)
    requires_approval = models.BooleanField("changes need approval", default=False)
    # When the background check of followed personas is due (services/follows.py); null: none.
    follow_check_due_at = models.DateTimeField(
        "followed personas checked next", null=True, blank=True
    )
    approvals_required = models.PositiveSmallIntegerField("approvals needed", default=1)
    conversation_max_minutes = models.PositiveIntegerField(
        "end test conversations after (minutes)", default=30
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(approvals_required__gte=1),
                name="workspace_approvals_at_least_one",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def base_url(self) -> str:
        return self.tavus_base_url or settings.TAVUS_API_BASE_URL

    # -- The approval policy: the one place that says what review a change needs ---------------

    def sends_to_review(self, *, asked: bool = False) -> bool:
        """Whether a change goes to review as a change request instead of straight to Tavus:
        always when the workspace requires approval, otherwise when its author asked for it."""
        return self.requires_approval or asked

    def may_apply_change(self, *, can_edit: bool, is_author: bool, can_review: bool) -> bool:
        """Whether a member may apply a change request: anyone who can edit, or, when changes
        need approval, only its author or a reviewer (the approvals are checked by the change
        request itself, ChangeRequest.check_applicable)."""
        if not can_edit:
            return False
        return is_author or can_review if self.requires_approval else True


class Membership(models.Model):
    """A user's role in a workspace."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField("role", max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField("added", auto_now_add=True)
    source = models.CharField(
        "added by",
        max_length=8,
        choices=MembershipSource.choices,
        default=MembershipSource.MANUAL,
    )

    class Meta:
        ordering = ["workspace", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="membership_unique_user"),
            models.CheckConstraint(
                condition=models.Q(role__in=[r.value for r in Role]), name="membership_valid_role"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"


class ApiKey(models.Model):
    """A named Tavus API key of a workspace; at most one is active."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_keys")
    label = models.CharField("name", max_length=60)
    secret_sealed = models.TextField("encrypted key", blank=True, editable=False)
    last4 = models.CharField("last four characters", max_length=4, blank=True)
    is_active = models.BooleanField("active", default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_name = models.CharField("added by", max_length=150, blank=True)
    created_at = models.DateTimeField("added", auto_now_add=True)
    rotated_at = models.DateTimeField("last rotated", null=True, blank=True)
    revoked_at = models.DateTimeField("revoked", null=True, blank=True)

    class Meta:
        ordering = ["workspace", "label"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "label"], name="apikey_unique_label"),
            models.UniqueConstraint(
                fields=["workspace"],
                condition=models.Q(is_active=True),
                name="apikey_one_active_per_workspace",
            ),
            models.CheckConstraint(
                condition=~models.Q(is_active=True, secret_sealed=""),
                name="apikey_active_has_secret",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} (…{self.last4})" if self.last4 else f"{self.label} (revoked)"

    @property
    def is_revoked(self) -> bool:
        return not self.secret_sealed


class PersonaLock(models.Model):
    """One row per persona that has been changed through the dashboard: an apply holds it (a
    lease: held_by, held_until, taken with a conditional UPDATE) from the live re-read to the
    recorded result, so applies to one persona run one after another and each rebases on what the
    previous one left. No database transaction stays open across the calls to Tavus."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    persona_id = models.CharField("persona id", max_length=64)
    held_by = models.CharField("held by", max_length=64, blank=True)
    # A holder that died lets go when this passes (services.personas.apply_lease).
    held_until = models.DateTimeField("held until", null=True, blank=True)

    class Meta:
        ordering = ["workspace", "persona_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "persona_id"], name="personalock_unique_persona"
            )
        ]

    def __str__(self) -> str:
        return f"{self.persona_id} in {self.workspace}"
