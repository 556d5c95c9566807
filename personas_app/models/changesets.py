"""Change sets: one edit proposed for many personas, reviewed once, applied in the background.

A ChangeSet holds one ChangeSetItem per persona: the persona's version the change was planned
against (redacted), the proposed version (redacted), the minimal patch, and, encrypted, any secret
the change sets. Items are applied by task workers (services/changesets.py); each item is claimed
in the database before anything is sent, so a persona gets its change exactly once.

Status transitions are methods that check the current status; services/changesets.py runs them in
a transaction and writes the audit record. Reviews and comments mirror those of change requests.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models

from ..persona.review_rules import changed_pointers, document_pointers
from .review_rules import RuleCheck, rule_checks
from .reviews import InvalidTransition, ReviewDecision, missing_reviewers


class ChangeSetStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    OPEN = "open", "Waiting for review"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    APPROVED = "approved", "Approved"
    APPLYING = "applying", "Applying"
    APPLIED = "applied", "Applied"
    PARTIALLY_APPLIED = "partially_applied", "Partly applied"
    FAILED = "failed", "Failed"
    CLOSED = "closed", "Closed"


class ChangeSet(models.Model):
    """One change proposed for many personas of a workspace, reviewed and applied as one."""

    workspace = models.ForeignKey(
        "personas_app.Workspace", on_delete=models.CASCADE, related_name="change_sets"
    )
    title = models.CharField("title", max_length=200)
    description = models.TextField("description", blank=True)
    status = models.CharField(
        "status", max_length=20, choices=ChangeSetStatus.choices, default=ChangeSetStatus.DRAFT
    )
    # The edit as described (services/changesets.py, persona/edits.py), secrets masked; empty for
    # a change set made from files (manage.py personas propose) or a revert.
    edit = models.JSONField("edit", default=list, blank=True)
    source = models.CharField("made from", max_length=20, default="edit")
    reverts = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reverted_by"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_name = models.CharField("author", max_length=150, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    applied_by_name = models.CharField("applied by", max_length=150, blank=True)
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)
    submitted_at = models.DateTimeField("submitted", null=True, blank=True)
    apply_started_at = models.DateTimeField("apply started", null=True, blank=True)
    applied_at = models.DateTimeField("finished applying", null=True, blank=True)
    # When the background watcher last looked at the items (it re-queues abandoned ones).
    watched_at = models.DateTimeField("last checked", null=True, blank=True)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["workspace", "status"], name="cs_ws_status")]

    def __str__(self) -> str:
        return f"Change set #{self.pk} {self.title}"

    # -- Status rules (the service layer runs these in a transaction and audits them) --

    REVIEWABLE = frozenset(
        {ChangeSetStatus.OPEN, ChangeSetStatus.APPROVED, ChangeSetStatus.CHANGES_REQUESTED}
    )
    FINISHED = frozenset(
        {
            ChangeSetStatus.APPLIED,
            ChangeSetStatus.PARTIALLY_APPLIED,
            ChangeSetStatus.FAILED,
            ChangeSetStatus.CLOSED,
        }
    )

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    def _refuse(self, doing: str) -> None:
        if self.status == ChangeSetStatus.APPLYING:
            raise InvalidTransition(
                f"This change set is being applied right now, so it cannot be {doing}."
            )
        if self.status == ChangeSetStatus.CLOSED:
            raise InvalidTransition(f"This change set was closed, so it cannot be {doing}.")
        if self.status in self.FINISHED:
            raise InvalidTransition(
                f"This change set was already applied, so it cannot be {doing}."
            )

    def current_approvers(self) -> set[int]:
        """Ids of the distinct reviewers (never the author) whose approval still counts."""
        return set(
            self.reviews.filter(
                is_current=True, decision=ReviewDecision.APPROVE, reviewer__isnull=False
            )
            .exclude(reviewer_id=self.author_id)
            .values_list("reviewer_id", flat=True)
        )

    def approval_count(self) -> int:
        return len(self.current_approvers())

    def changed_pointers(self) -> set[str]:
        """The places of the personas this change set touches, all items together."""
        found: set[str] = set()
        for kind, ops, proposed in self.items.values_list("kind", "ops", "proposed"):
            if kind == ItemKind.CREATE:
                found |= document_pointers(proposed)
            else:
                found |= changed_pointers(ops or [])
        return found

    def rule_checks(self) -> list[RuleCheck]:
        """The workspace's required-reviewer rules this change set triggers, and who met each."""
        return rule_checks(
            workspace_id=self.workspace_id,
            changed=self.changed_pointers(),
            approver_ids=self.current_approvers(),
            author_id=self.author_id,
        )

    def submit(self, *, now: datetime) -> None:
        """Send a draft (or a change set sent back to its author) to reviewers."""
        if self.status not in {ChangeSetStatus.DRAFT, ChangeSetStatus.CHANGES_REQUESTED}:
            self._refuse("sent for review")
            raise InvalidTransition("This change set is already waiting for review.")
        self.status = ChangeSetStatus.OPEN
        self.submitted_at = now

    def check_reviewable(self) -> None:
        if self.status == ChangeSetStatus.DRAFT:
            raise InvalidTransition(
                "This change set is still a draft: its author has not sent it for review yet."
            )
        if self.status not in self.REVIEWABLE:
            self._refuse("reviewed")

    def settle_reviews(self, *, approvals_required: int) -> None:
        """A request for changes wins; enough approvals approve; else it waits for review."""
        self.check_reviewable()
        if self.reviews.filter(is_current=True, decision=ReviewDecision.REQUEST_CHANGES).exists():
            self.status = ChangeSetStatus.CHANGES_REQUESTED
        elif self.approval_count() >= max(1, approvals_required) and all(
            check.met for check in self.rule_checks()
        ):
            self.status = ChangeSetStatus.APPROVED
        else:
            self.status = ChangeSetStatus.OPEN

    def close(self) -> None:
        if self.is_finished or self.status == ChangeSetStatus.APPLYING:
            self._refuse("closed")
        self.status = ChangeSetStatus.CLOSED

    def check_applicable(self, *, requires_approval: bool, approvals_required: int) -> None:
        """Refuse, in plain words, to apply a change set the workspace's rule does not allow."""
        self._refuse("applied again")
        if self.status == ChangeSetStatus.CHANGES_REQUESTED:
            raise InvalidTransition(
                "A reviewer asked for changes: make a new change set, or close this one."
            )
        if requires_approval:
            needed = max(1, approvals_required)
            have = self.approval_count()
            missing = missing_reviewers(self.rule_checks())
            if have < needed or missing or self.status != ChangeSetStatus.APPROVED:
                raise InvalidTransition(
                    "This workspace needs changes approved before they go live: "
                    f"this change set has {have} of {needed} approval{'s' if needed != 1 else ''}."
                    + missing
                )

    def start_applying(self, *, now: datetime, by_name: str) -> None:
        self.status = ChangeSetStatus.APPLYING
        self.apply_started_at = now
        self.applied_by_name = by_name

    def finish(self, *, now: datetime, sent: int, unchanged: int, problems: int) -> None:
        """Every item is done: applied when none failed, partly when some did, else failed."""
        if self.status != ChangeSetStatus.APPLYING:
            raise InvalidTransition("Only a change set being applied can finish.")
        if not problems:
            self.status = ChangeSetStatus.APPLIED
        elif sent or unchanged:
            self.status = ChangeSetStatus.PARTIALLY_APPLIED
        else:
            self.status = ChangeSetStatus.FAILED
        self.applied_at = now


class ItemKind(models.TextChoices):
    EDIT = "edit", "Edit persona"
    CREATE = "create", "Create persona"


class ItemStatus(models.TextChoices):
    WAITING = "waiting", "Waiting"
    SENT = "sent", "Sent"
    NO_CHANGE = "no_change", "No change"
    CONFLICT = "conflict", "Conflict"
    FAILED = "failed", "Failed"


class ChangeSetItem(models.Model):
    """One persona of a change set: what it was, what it becomes, and how applying it went.

    Claimed in the database (claimed_by, claimed_at) before anything is sent; an item that is no
    longer "waiting" is never sent again.
    """

    change_set = models.ForeignKey(ChangeSet, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField("kind", max_length=10, choices=ItemKind.choices, default=ItemKind.EDIT)
    persona_id = models.CharField("persona id", max_length=64, blank=True)
    persona_name = models.CharField("persona name", max_length=255, blank=True)
    # Redacted documents: the live version the patch was planned against, and the proposed one.
    base = models.JSONField("base version", null=True, blank=True)
    proposed = models.JSONField("proposed version", null=True, blank=True)
    ops = models.JSONField("JSON Patch", default=list, blank=True)
    # Secrets this item sets ({json pointer: value}), encrypted (crypto.seal).
    secrets_sealed = models.TextField("encrypted secrets", blank=True, editable=False)
    status = models.CharField(
        "status", max_length=12, choices=ItemStatus.choices, default=ItemStatus.WAITING
    )
    message = models.TextField("message", blank=True)
    claimed_by = models.CharField("claimed by", max_length=64, blank=True)
    claimed_at = models.DateTimeField("claimed", null=True, blank=True)
    attempts = models.PositiveSmallIntegerField("attempts", default=0)
    # The id of the background task queued last for this item (django-tasks result id).
    task_id = models.CharField("task", max_length=64, blank=True)
    sent_at = models.DateTimeField("sent", null=True, blank=True)
    audit_event = models.ForeignKey(
        "personas_app.AuditEvent",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        related_name="+",
    )

    class Meta:
        ordering = ["change_set", "persona_name", "id"]
        indexes = [models.Index(fields=["change_set", "status"], name="csitem_cs_status")]
        constraints = [
            models.UniqueConstraint(
                fields=["change_set", "persona_id"],
                condition=~models.Q(persona_id=""),
                name="csitem_unique_persona",
            )
        ]

    def __str__(self) -> str:
        return f"{self.persona_name or self.persona_id} ({self.get_status_display()})"

    @property
    def request_id(self) -> str:
        """The request id every audit record of this item's apply shares."""
        return f"cs-{self.change_set_id}-{self.pk}"

    @property
    def is_claimed(self) -> bool:
        return self.status == ItemStatus.WAITING and bool(self.claimed_by)


class ChangeSetReview(models.Model):
    """A reviewer's decision on a change set."""

    change_set = models.ForeignKey(ChangeSet, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    reviewer_name = models.CharField("reviewer", max_length=150)
    decision = models.CharField("decision", max_length=20, choices=ReviewDecision.choices)
    created_at = models.DateTimeField("time", auto_now_add=True)
    is_current = models.BooleanField("counts", default=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.reviewer_name}: {self.get_decision_display()}"


class ChangeSetComment(models.Model):
    """A comment on a whole change set, or on one of its personas."""

    change_set = models.ForeignKey(ChangeSet, on_delete=models.CASCADE, related_name="comments")
    item = models.ForeignKey(
        ChangeSetItem, null=True, blank=True, on_delete=models.CASCADE, related_name="comments"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    author_name = models.CharField("author", max_length=150)
    body = models.TextField("comment")
    created_at = models.DateTimeField("time", auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.author_name}: {self.body[:40]}"
