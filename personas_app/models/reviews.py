"""Change requests: a proposed create, edit, delete or revert that teammates review, then apply.

Status transitions are methods on ChangeRequest that check the current status; the service layer
(services/reviews.py) runs them in a transaction and writes the audit record.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models

from ..persona.review_rules import changed_pointers, document_pointers
from .review_rules import RuleCheck, rule_checks


class InvalidTransition(Exception):
    """A change request cannot move from its current status to the one asked for (plain message)."""


class ApplyInProgress(InvalidTransition):
    """Someone else (or an earlier click) is applying this change right now."""


class ChangeKind(models.TextChoices):
    CREATE = "create", "Create persona"
    EDIT = "edit", "Edit persona"
    DELETE = "delete", "Delete persona"
    REVERT = "revert", "Revert persona"


class ChangeStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    OPEN = "open", "Waiting for review"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    APPROVED = "approved", "Approved"
    APPLYING = "applying", "Applying"
    APPLIED = "applied", "Applied"
    FAILED = "failed", "Failed"
    CONFLICT = "conflict", "Conflict"
    CLOSED = "closed", "Closed"


def missing_reviewers(checks: list[RuleCheck]) -> str:
    """The end of a refusal naming each required reviewer still missing ("" when none is)."""
    waiting = [check.missing for check in checks if not check.met]
    if not waiting:
        return ""
    return " Still missing (required reviewers): " + "; ".join(waiting) + "."


class ChangeRequest(models.Model):
    """A proposed change to a persona, with the version it was made from."""

    workspace = models.ForeignKey(
        "personas_app.Workspace", on_delete=models.CASCADE, related_name="change_requests"
    )
    kind = models.CharField("kind", max_length=10, choices=ChangeKind.choices)
    status = models.CharField(
        "status", max_length=20, choices=ChangeStatus.choices, default=ChangeStatus.DRAFT
    )
    title = models.CharField("title", max_length=200)
    description = models.TextField("description", blank=True)
    persona_id = models.CharField("persona id", max_length=64, blank=True)
    persona_name = models.CharField("persona name", max_length=255, blank=True)
    # Redacted documents: the version the change was made from and the proposed result.
    base_document = models.JSONField("base version", null=True, blank=True)
    proposed_document = models.JSONField("proposed version", null=True, blank=True)
    ops = models.JSONField("JSON Patch", default=list, blank=True)
    # Secrets the change sets ({json pointer: value}), encrypted; reviewers only see that they
    # change.
    secrets_sealed = models.TextField("encrypted secrets", blank=True, editable=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_name = models.CharField("author", max_length=150, blank=True)
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)
    submitted_at = models.DateTimeField("submitted", null=True, blank=True)
    applied_at = models.DateTimeField("applied", null=True, blank=True)
    applied_by_name = models.CharField("applied by", max_length=150, blank=True)
    last_error = models.TextField("last error", blank=True)
    result_persona_id = models.CharField("created persona id", max_length=64, blank=True)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["workspace", "status"], name="cr_ws_status")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    # -- Status rules (the service layer runs these in a transaction and audits them) --

    # Statuses the author may still edit the proposal in.
    EDITABLE = frozenset(
        {
            ChangeStatus.DRAFT,
            ChangeStatus.OPEN,
            ChangeStatus.CHANGES_REQUESTED,
            ChangeStatus.APPROVED,
            ChangeStatus.FAILED,
            ChangeStatus.CONFLICT,
        }
    )
    # Statuses a reviewer may decide in.
    REVIEWABLE = frozenset(
        {ChangeStatus.OPEN, ChangeStatus.APPROVED, ChangeStatus.CHANGES_REQUESTED}
    )
    FINISHED = frozenset({ChangeStatus.APPLIED, ChangeStatus.CLOSED})

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def is_editable(self) -> bool:
        return self.status in self.EDITABLE

    @property
    def is_reviewable(self) -> bool:
        return self.status in self.REVIEWABLE

    def _refuse_finished(self, doing: str) -> None:
        if self.status == ChangeStatus.APPLIED:
            raise InvalidTransition(f"This change was already applied, so it cannot be {doing}.")
        if self.status == ChangeStatus.CLOSED:
            raise InvalidTransition(f"This change was closed, so it cannot be {doing}.")
        if self.status == ChangeStatus.APPLYING:
            raise InvalidTransition(
                f"This change is being applied right now, so it cannot be {doing}."
            )

    def current_approvers(self) -> set[int]:
        """Ids of the distinct reviewers (never the author) whose approval still counts."""
        return {
            reviewer_id
            for reviewer_id in self.reviews.filter(
                is_current=True, decision=ReviewDecision.APPROVE, reviewer__isnull=False
            )
            .exclude(reviewer_id=self.author_id)
            .values_list("reviewer_id", flat=True)
        }

    def approval_count(self) -> int:
        return len(self.current_approvers())

    def changed_pointers(self) -> set[str]:
        """The places of the persona this change touches: all a new persona holds, all a deleted
        one held, else what the patch touches."""
        if self.kind == ChangeKind.CREATE:
            return document_pointers(self.proposed_document)
        if self.kind == ChangeKind.DELETE:
            return document_pointers(self.base_document)
        return changed_pointers(self.ops or [])

    def rule_checks(self) -> list[RuleCheck]:
        """The workspace's required-reviewer rules this change triggers, and who met each."""
        return rule_checks(
            workspace_id=self.workspace_id,
            changed=self.changed_pointers(),
            approver_ids=self.current_approvers(),
            author_id=self.author_id,
        )

    def has_current_change_request(self) -> bool:
        return self.reviews.filter(
            is_current=True, decision=ReviewDecision.REQUEST_CHANGES
        ).exists()

    def edit(self) -> None:
        """The author changed the proposal: drafts stay drafts, sent-back ones wait for a resubmit,
        and anything already reviewed goes back to review (its approvals no longer count)."""
        if not self.is_editable:
            self._refuse_finished("edited")
            raise InvalidTransition("This change cannot be edited now.")
        if self.status in {ChangeStatus.DRAFT, ChangeStatus.CHANGES_REQUESTED}:
            return
        self.status = ChangeStatus.OPEN if self.submitted_at else ChangeStatus.DRAFT

    def submit(self, *, now: datetime) -> None:
        """Send a draft (or a change sent back to its author) to reviewers."""
        if self.status not in {ChangeStatus.DRAFT, ChangeStatus.CHANGES_REQUESTED}:
            self._refuse_finished("sent for review")
            if self.status == ChangeStatus.OPEN:
                raise InvalidTransition("This change is already waiting for review.")
            raise InvalidTransition(
                f"A change that is “{self.get_status_display()}” cannot be sent for review."
            )
        self.status = ChangeStatus.OPEN
        self.submitted_at = now

    def check_reviewable(self) -> None:
        if self.status == ChangeStatus.DRAFT:
            raise InvalidTransition(
                "This change is still a draft: its author has not sent it for review yet."
            )
        if not self.is_reviewable:
            self._refuse_finished("reviewed")
            raise InvalidTransition(
                f"A change that is “{self.get_status_display()}” cannot be reviewed. "
                "Its author needs to update it first."
            )

    def settle_reviews(self, *, approvals_required: int) -> None:
        """Set the status from the reviews that still count: any request for changes wins,
        then enough approvals, with every required reviewer's among them, make it approved,
        else it keeps waiting for review."""
        self.check_reviewable()
        if self.has_current_change_request():
            self.status = ChangeStatus.CHANGES_REQUESTED
        elif self.approval_count() >= max(1, approvals_required) and all(
            check.met for check in self.rule_checks()
        ):
            self.status = ChangeStatus.APPROVED
        else:
            self.status = ChangeStatus.OPEN

    def close(self) -> None:
        if self.is_finished or self.status == ChangeStatus.APPLYING:
            self._refuse_finished("closed")
        self.status = ChangeStatus.CLOSED

    def applicable_statuses(self, *, requires_approval: bool) -> frozenset[str]:
        """The statuses this change may be applied from under the workspace's rule."""
        if requires_approval:
            return frozenset({ChangeStatus.APPROVED, ChangeStatus.FAILED})
        return frozenset(
            {ChangeStatus.DRAFT, ChangeStatus.OPEN, ChangeStatus.APPROVED, ChangeStatus.FAILED}
        )

    def check_applicable(self, *, requires_approval: bool, approvals_required: int) -> None:
        """Refuse, in plain words, to apply a change the workspace's rule does not allow yet."""
        if self.status == ChangeStatus.APPLYING:
            raise ApplyInProgress("This change is already being applied.")
        self._refuse_finished("applied again")
        if self.status == ChangeStatus.CONFLICT:
            raise InvalidTransition(
                "The persona was changed in the same places since this change was made. "
                "Update the change from the live version first."
            )
        if self.status == ChangeStatus.CHANGES_REQUESTED:
            raise InvalidTransition(
                "A reviewer asked for changes: update the change and send it for review again."
            )
        if requires_approval:
            needed = max(1, approvals_required)
            have = self.approval_count()
            missing = missing_reviewers(self.rule_checks())
            if (
                have < needed
                or missing
                or self.status not in self.applicable_statuses(requires_approval=True)
            ):
                raise InvalidTransition(
                    "This workspace needs changes approved before they go live: "
                    f"this one has {have} of {needed} approval{'s' if needed != 1 else ''}."
                    + missing
                )

    def mark_applied(self, *, now: datetime, by_name: str, result_persona_id: str = "") -> None:
        if self.status != ChangeStatus.APPLYING:
            raise InvalidTransition("Only a change being applied can be marked applied.")
        self.status = ChangeStatus.APPLIED
        self.applied_at = now
        self.applied_by_name = by_name
        self.last_error = ""
        if result_persona_id:
            self.result_persona_id = result_persona_id
            self.persona_id = result_persona_id

    def mark_failed(self, *, error: str) -> None:
        if self.status != ChangeStatus.APPLYING:
            raise InvalidTransition("Only a change being applied can fail.")
        self.status = ChangeStatus.FAILED
        self.last_error = error

    def mark_conflict(self) -> None:
        if self.status != ChangeStatus.APPLYING:
            raise InvalidTransition("Only a change being applied can run into a conflict.")
        self.status = ChangeStatus.CONFLICT
        self.last_error = ""

    def rebased(self) -> None:
        """The change was brought up to date with the live persona: back to draft or review."""
        if not self.is_editable:
            self._refuse_finished("updated")
            raise InvalidTransition("This change cannot be updated now.")
        if self.status == ChangeStatus.CHANGES_REQUESTED:
            return
        self.status = ChangeStatus.OPEN if self.submitted_at else ChangeStatus.DRAFT
        self.last_error = ""


class ReviewDecision(models.TextChoices):
    APPROVE = "approve", "Approved"
    REQUEST_CHANGES = "request_changes", "Requested changes"


class Review(models.Model):
    """A reviewer's decision on a change request."""

    change_request = models.ForeignKey(
        ChangeRequest, on_delete=models.CASCADE, related_name="reviews"
    )
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    reviewer_name = models.CharField("reviewer", max_length=150)
    decision = models.CharField("decision", max_length=20, choices=ReviewDecision.choices)
    created_at = models.DateTimeField("time", auto_now_add=True)
    is_current = models.BooleanField("counts", default=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.reviewer_name}: {self.get_decision_display()}"


class Comment(models.Model):
    """A comment on a whole change request, or on one of its operations."""

    change_request = models.ForeignKey(
        ChangeRequest, on_delete=models.CASCADE, related_name="comments"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    author_name = models.CharField("author", max_length=150)
    body = models.TextField("comment")
    op_index = models.PositiveIntegerField("operation", null=True, blank=True)
    created_at = models.DateTimeField("time", auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.author_name}: {self.body[:40]}"
