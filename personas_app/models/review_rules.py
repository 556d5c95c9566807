"""Required reviewers: a workspace's rules that a change to one part of a persona (the LLM tools,
the system prompt, the voice...) needs an approval from named members or from anyone holding a role.

Which rules a change triggers is decided by persona/review_rules.py (plain data, no Django); this
module stores the rules and says, for one change, which triggered rules a current approval meets.
Change requests and change sets call `rule_checks` from their own status rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import models

from ..persona.review_rules import rule_target_label, triggered_rules
from .workspaces import Membership, Role


class RuleRole(models.TextChoices):
    NONE = "", "No role (only the members named)"
    REVIEWER = "reviewer", "Anyone holding Reviewer or Admin"
    ADMIN = "admin", "Any Admin"


# The roles whose holders meet a rule asking for that role (rule role -> member roles).
ROLES_MEETING: dict[str, frozenset[str]] = {
    RuleRole.NONE: frozenset(),
    RuleRole.REVIEWER: frozenset({Role.REVIEWER, Role.ADMIN}),
    RuleRole.ADMIN: frozenset({Role.ADMIN}),
}
_ROLE_WORDS: dict[str, str] = {
    RuleRole.REVIEWER: "any Reviewer or Admin",
    RuleRole.ADMIN: "any Admin",
}


class ReviewRule(models.Model):
    """A change touching `pointer` needs an approval from one of `reviewers` or from a member
    holding `role` (never from its author), on top of the workspace's approvals count."""

    workspace = models.ForeignKey(
        "personas_app.Workspace", on_delete=models.CASCADE, related_name="review_rules"
    )
    pointer = models.CharField("part of the persona", max_length=200)
    reviewers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+", verbose_name="required reviewers"
    )
    role = models.CharField(
        "or anyone holding", max_length=16, choices=RuleRole.choices, blank=True, default=""
    )
    description = models.CharField("why", max_length=300, blank=True)
    created_at = models.DateTimeField("added", auto_now_add=True)

    class Meta:
        ordering = ["workspace", "pointer", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=RuleRole.values), name="reviewrule_valid_role"
            )
        ]

    def __str__(self) -> str:
        return f"{self.label}: needs an approval from {self.needs}"

    @property
    def label(self) -> str:
        return rule_target_label(self.pointer)

    @property
    def needs(self) -> str:
        """Who meets the rule, in words: "dana or any Admin"."""
        names = sorted(user.get_username() for user in self.reviewers.all())
        if self.role:
            names.append(_ROLE_WORDS[self.role])
        if not names:
            return "nobody (the members it named have left: an admin needs to fix the rule)"
        return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]


@dataclass(frozen=True)
class RuleCheck:
    """One rule a change triggers, and the approvals that meet it (usernames; empty: waiting)."""

    rule_id: int
    label: str
    needs: str
    description: str
    met_by: tuple[str, ...]

    @property
    def met(self) -> bool:
        return bool(self.met_by)

    @property
    def missing(self) -> str:
        """What a refusal says about it: "LLM tools needs an approval from dana or any Admin"."""
        return f"{self.label} needs an approval from {self.needs}"


def rule_checks(
    *, workspace_id: int, changed: Iterable[str], approver_ids: set[int], author_id: int | None
) -> list[RuleCheck]:
    """The rules of the workspace that a change touching `changed` triggers, each with the
    current approvals (never the author's) that meet it: a member it names, or a member whose
    role in the workspace, now, is one it asks for."""
    rules = list(ReviewRule.objects.filter(workspace_id=workspace_id).prefetch_related("reviewers"))
    if not rules:
        return []
    triggered = triggered_rules(changed, {rule.pk: rule.pointer for rule in rules})
    if not triggered:
        return []
    approvers = approver_ids - {author_id}
    members = Membership.objects.filter(workspace_id=workspace_id, user_id__in=approvers)
    roles, names = {}, {}
    for user_id, role, username in members.values_list("user_id", "role", "user__username"):
        roles[user_id], names[user_id] = role, username
    checks = []
    by_id = {rule.pk: rule for rule in rules}
    for rule_id in triggered:
        rule = by_id[rule_id]
        named = {user.pk for user in rule.reviewers.all()}
        meeting = ROLES_MEETING.get(rule.role, frozenset())
        met_by = sorted(
            names[user_id]
            for user_id in approvers
            if user_id in names and (user_id in named or roles.get(user_id) in meeting)
        )
        checks.append(RuleCheck(rule.pk, rule.label, rule.needs, rule.description, tuple(met_by)))
    return checks
