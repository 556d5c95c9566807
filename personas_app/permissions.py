"""Who may do what: the role matrix and the rule for every workspace URL, in one place.

WorkspaceAccessMiddleware looks up URL_RULES by URL name for every view under /w/<slug>/, so no view
repeats a permission check. docs/permissions.md describes the same matrix in words; a test fails when a
URL has no rule. No Django imports beyond models' Role.
"""

from __future__ import annotations

from enum import StrEnum

from .models.workspaces import Role


class Perm(StrEnum):
    VIEW = "view"  # read personas, history, audit, conversations
    EDIT = "edit"  # draft and propose changes; apply when no approval is needed; try personas
    REVIEW = "review"  # approve or request changes on others' change requests
    ADMIN = "admin"  # members, API keys, workspace settings


ROLE_PERMISSIONS: dict[str, frozenset[Perm]] = {
    Role.VIEWER: frozenset({Perm.VIEW}),
    Role.EDITOR: frozenset({Perm.VIEW, Perm.EDIT}),
    Role.REVIEWER: frozenset({Perm.VIEW, Perm.EDIT, Perm.REVIEW}),
    Role.ADMIN: frozenset({Perm.VIEW, Perm.EDIT, Perm.REVIEW, Perm.ADMIN}),
}

PERM_DENIED_MESSAGES: dict[Perm, str] = {
    Perm.VIEW: "You are not a member of this workspace.",
    Perm.EDIT: "Your role in this workspace is Viewer: you can read personas but not change them. "
    "Ask a workspace admin for the Editor role.",
    Perm.REVIEW: "Only reviewers and admins can review changes in this workspace.",
    Perm.ADMIN: "Only workspace admins can manage members, API keys and settings.",
}

# Every URL name under /w/<slug>/ and the permission it needs. Writes (POST) that need more than
# the page itself are listed as their own URL names.
URL_RULES: dict[str, Perm] = {
    # personas
    "persona_list": Perm.VIEW,
    "persona_detail": Perm.VIEW,
    "persona_export": Perm.VIEW,
    "persona_create": Perm.EDIT,
    "persona_create_preview": Perm.EDIT,
    "persona_edit": Perm.EDIT,
    "persona_edit_preview": Perm.EDIT,
    "persona_migrate_legacy": Perm.EDIT,
    "persona_delete": Perm.EDIT,
    "picker_replicas": Perm.VIEW,
    "picker_documents": Perm.VIEW,
    "picker_objectives": Perm.VIEW,
    "picker_guardrails": Perm.VIEW,
    # history and audit
    "persona_history": Perm.VIEW,
    "persona_version": Perm.VIEW,
    "persona_compare": Perm.VIEW,
    "persona_revert": Perm.EDIT,
    "audit_list": Perm.VIEW,
    "audit_export": Perm.VIEW,
    # reviews
    "review_queue": Perm.VIEW,
    "review_detail": Perm.VIEW,
    "review_edit": Perm.EDIT,
    "review_submit": Perm.EDIT,
    "review_comment": Perm.VIEW,
    "review_decide": Perm.REVIEW,
    "review_apply": Perm.EDIT,
    "review_close": Perm.EDIT,
    "review_refresh": Perm.EDIT,
    # change sets (one edit for many personas)
    "changeset_list": Perm.VIEW,
    "changeset_detail": Perm.VIEW,
    "changeset_new": Perm.EDIT,
    "changeset_preview": Perm.EDIT,
    "changeset_submit": Perm.EDIT,
    "changeset_comment": Perm.VIEW,
    "changeset_decide": Perm.REVIEW,
    "changeset_apply": Perm.EDIT,
    "changeset_close": Perm.EDIT,
    "changeset_revert": Perm.EDIT,
    # conversations
    "conversation_start": Perm.EDIT,
    "conversation_status": Perm.VIEW,
    "conversation_end": Perm.EDIT,
    "conversation_list": Perm.VIEW,
    "conversation_end_mine": Perm.EDIT,
    # promotion between workspaces (the other workspace's role is checked by the service)
    "persona_link": Perm.EDIT,
    "persona_unlink": Perm.EDIT,
    "persona_promote": Perm.VIEW,
    "persona_promote_propose": Perm.EDIT,
    # workspace administration
    "member_list": Perm.ADMIN,
    "member_add": Perm.ADMIN,
    "member_role": Perm.ADMIN,
    "member_remove": Perm.ADMIN,
    "key_list": Perm.ADMIN,
    "key_add": Perm.ADMIN,
    "key_test": Perm.ADMIN,
    "key_rotate": Perm.ADMIN,
    "key_activate": Perm.ADMIN,
    "key_revoke": Perm.ADMIN,
    "workspace_settings": Perm.ADMIN,
    # required reviewers
    "review_rule_create": Perm.ADMIN,
    "review_rule_delete": Perm.ADMIN,
    # notifications
    "persona_follow": Perm.VIEW,
    # invitations by email
    "invitation_create": Perm.ADMIN,
    "invitation_resend": Perm.ADMIN,
    "invitation_revoke": Perm.ADMIN,
}

# App URLs outside any workspace that answer visitors who are not logged in: an invitation's link
# (the token in it is the only credential; the page decides what the visitor may do).
ANONYMOUS_URLS: frozenset[str] = frozenset({"invitation_accept"})


def role_can(role: str | None, perm: Perm) -> bool:
    return role is not None and perm in ROLE_PERMISSIONS.get(role, frozenset())
