"""Audit actions in plain words, for the audit page, its action filter and the persona timeline.

`AUDIT_ACTIONS` lists the actions the dashboard writes (dotted names, see models/audit.py) with a
past-tense phrase; `action_label` reads any action, known or not. Pure module: standard library
only, no Django.
"""

from __future__ import annotations

__all__ = ["ACTION_GROUPS", "AUDIT_ACTIONS", "action_label", "version_title"]

# action -> what happened, as in "alice <phrase>".
AUDIT_ACTIONS: dict[str, str] = {
    "persona.created": "created the persona",
    "persona.patched": "changed the persona",
    "persona.reverted": "reverted the persona to an earlier version",
    "persona.deleted": "deleted the persona",
    "persona.changed_outside": "noticed a change made outside the dashboard",
    "persona.first_seen": "saw the persona for the first time",
    "persona.linked": "linked the persona to its counterpart in another workspace",
    "persona.unlinked": "removed the link to the persona's counterpart in another workspace",
    "persona.promotion_proposed": "proposed the persona's settings in another workspace",
    "key.added": "added an API key",
    "key.rotated": "replaced an API key's secret",
    "key.activated": "made an API key the active one",
    "key.revoked": "revoked an API key",
    "member.added": "added a member",
    "member.role_changed": "changed a member's role",
    "member.removed": "removed a member",
    "member.invited": "invited someone by email",
    "invitation.resent": "sent an invitation again",
    "invitation.revoked": "revoked an invitation",
    "invitation.accepted": "accepted an invitation",
    "review.created": "drafted a change request",
    "review.submitted": "sent a change for review",
    "review.approved": "approved a change",
    "review.changes_requested": "asked for changes",
    "review.commented": "commented on a change",
    "review.applied": "applied a reviewed change",
    "review.updated": "updated a change request",
    "review.apply_failed": "tried to apply a reviewed change",
    "review.conflict": "found a conflict in a change",
    "review.closed": "closed a change request",
    "changeset.created": "drafted a change set",
    "changeset.submitted": "sent a change set for review",
    "changeset.approved": "approved a change set",
    "changeset.changes_requested": "asked for changes to a change set",
    "changeset.commented": "commented on a change set",
    "changeset.closed": "closed a change set",
    "changeset.apply_started": "started applying a change set",
    "changeset.applied": "finished applying a change set",
    "changeset.apply_finished": "finished applying a change set, with problems",
    "changeset.item_conflict": "found a conflict applying a change set",
    "changeset.item_failed": "failed to apply a change set to a persona",
    "changeset.item_verified": "checked that a persona holds a change set's change",
    "conversation.started": "started a test conversation",
    "conversation.ended": "ended a test conversation",
    "workspace.settings_changed": "changed the workspace settings",
    "workspace.review_rule_added": "added a required-reviewer rule",
    "workspace.review_rule_removed": "removed a required-reviewer rule",
}

# For the action filter: (group title, [(action, label)]).
ACTION_GROUPS: list[tuple[str, list[tuple[str, str]]]] = [
    (
        title,
        [(action, label) for action, label in AUDIT_ACTIONS.items() if action.startswith(prefix)],
    )
    for prefix, title in (
        ("persona.", "Personas"),
        ("review.", "Reviews"),
        ("changeset.", "Change sets"),
        ("key.", "API keys"),
        ("member.", "Members"),
        ("invitation.", "Invitations"),
        ("conversation.", "Conversations"),
        ("workspace.", "Workspace"),
    )
]

# Timeline headings for a persona's versions.
_VERSION_TITLES: dict[str, str] = {
    "persona.created": "Created",
    "persona.patched": "Changed",
    "persona.reverted": "Reverted",
    "persona.deleted": "Deleted",
    "persona.changed_outside": "Changed outside the dashboard",
    "persona.first_seen": "First seen by the dashboard",
}


# A change request's events in a persona's timeline: only what sent something to Tavus says so.
_REVIEW_TITLES: dict[str, str] = {
    "review.applied": "Applied from a review",
    "review.apply_failed": "A reviewed change failed to apply",
    "review.conflict": "A reviewed change met a conflict (nothing sent)",
    "review.updated": "A change request was updated from the live version",
    "review.created": "A change was drafted",
    "review.submitted": "A change was sent for review",
    "review.closed": "A change request was closed",
}


def action_label(action: str) -> str:
    """What happened, in plain words; unknown actions are spelled out from their dotted name."""
    if action in AUDIT_ACTIONS:
        return AUDIT_ACTIONS[action]
    subject, _, verb = action.partition(".")
    words = f"{verb} {subject}" if verb else subject
    return words.replace("_", " ").strip() or "did something"


def version_title(action: str) -> str:
    """Heading of one entry in a persona's timeline."""
    if action in _VERSION_TITLES:
        return _VERSION_TITLES[action]
    if action in _REVIEW_TITLES:
        return _REVIEW_TITLES[action]
    label = action_label(action)
    return label[:1].upper() + label[1:]
