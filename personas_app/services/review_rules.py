"""Required-reviewer rules of a workspace: add and remove them (admins), each write audited.

A rule names a part of the persona (one of persona.review_rules.RULE_TARGETS) and who must approve
a change touching it: named members able to review (Reviewer or Admin), and/or anyone holding a
role. Which rules a change triggers, and whether they are met, is the models' job
(models/review_rules.py); nothing here renders HTML or reads requests.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction

from ..models import (
    ChangeRequest,
    ChangeSet,
    ChangeSetStatus,
    ChangeStatus,
    Membership,
    ReviewRule,
    RuleRole,
    Workspace,
)
from ..permissions import Perm, role_can
from ..persona.review_rules import RULE_TARGETS, rule_target_label
from .audit import audit_record

__all__ = ["ReviewRuleError", "review_rule_add", "review_rule_remove"]


class ReviewRuleError(Exception):
    """A rule that cannot be saved as asked; `field` is the form field the message belongs to."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _require_admin(workspace: Workspace, actor: AbstractBaseUser) -> None:
    role = (
        Membership.objects.filter(workspace=workspace, user_id=actor.pk)
        .values_list("role", flat=True)
        .first()
    )
    if not role_can(role, Perm.ADMIN):
        raise PermissionDenied("Only workspace admins can change the required reviewers.")


def _settle_waiting(workspace: Workspace) -> None:
    """The rules changed: changes waiting for review or approved take the status the rules give
    them now (an approved change missing a new rule's reviewer waits again, and the reverse)."""
    needed = workspace.approvals_required
    waiting = [ChangeStatus.OPEN, ChangeStatus.APPROVED]
    for cr in ChangeRequest.objects.select_for_update().filter(
        workspace=workspace, status__in=waiting
    ):
        before = cr.status
        cr.settle_reviews(approvals_required=needed)
        if cr.status != before:
            cr.save(update_fields=["status", "updated_at"])
    for cs in ChangeSet.objects.select_for_update().filter(
        workspace=workspace, status__in=[ChangeSetStatus.OPEN, ChangeSetStatus.APPROVED]
    ):
        before = cs.status
        cs.settle_reviews(approvals_required=needed)
        if cs.status != before:
            cs.save(update_fields=["status", "updated_at"])


def review_rule_add(
    *,
    workspace: Workspace,
    actor: AbstractBaseUser,
    pointer: str,
    reviewer_ids: Sequence[int],
    role: str,
    description: str = "",
    request_id: str = "",
) -> ReviewRule:
    """Add a rule: a change touching `pointer` needs an approval from one of the members
    `reviewer_ids` (each able to review) or from anyone holding `role`."""
    _require_admin(workspace, actor)
    if pointer not in RULE_TARGETS:
        raise ReviewRuleError("Choose a part of the persona from the list.", field="pointer")
    if role not in RuleRole.values:
        raise ReviewRuleError("Choose one of the roles in the list.", field="role")
    wanted = set(reviewer_ids)
    if not wanted and not role:
        raise ReviewRuleError(
            "Name at least one member, or choose a role, whose approval the rule asks for.",
            field="reviewers",
        )
    members = Membership.objects.filter(workspace=workspace, user_id__in=wanted).select_related(
        "user"
    )
    able = {m.user_id: m.user for m in members if role_can(m.role, Perm.REVIEW)}
    if wanted - set(able):
        raise ReviewRuleError(
            "Only members who can review (Reviewers and Admins) can be required reviewers.",
            field="reviewers",
        )
    with transaction.atomic():
        rule = ReviewRule.objects.create(
            workspace=workspace, pointer=pointer, role=role, description=description.strip()
        )
        rule.reviewers.set(able.values())
        _settle_waiting(workspace)
        audit_record(
            workspace=workspace,
            request_id=request_id,
            actor=actor,
            action="workspace.review_rule_added",
            target=rule_target_label(pointer),
            note=str(rule),
        )
    return rule


def review_rule_remove(
    *, workspace: Workspace, rule: ReviewRule, actor: AbstractBaseUser, request_id: str = ""
) -> None:
    """Remove a rule: changes waiting for review no longer need the approval it asked for."""
    _require_admin(workspace, actor)
    if rule.workspace_id != workspace.pk:
        raise ReviewRuleError("That rule is not part of this workspace.")
    with transaction.atomic():
        note = str(rule)
        rule.delete()
        _settle_waiting(workspace)
        audit_record(
            workspace=workspace,
            request_id=request_id,
            actor=actor,
            action="workspace.review_rule_removed",
            target=rule_target_label(rule.pointer),
            note=note,
        )
