"""Persona Studio's models, re-exported so callers import from personas_app.models."""

from __future__ import annotations

from .audit import AppendOnlyError, AuditEvent, Outcome
from .changesets import (
    ChangeSet,
    ChangeSetComment,
    ChangeSetItem,
    ChangeSetReview,
    ChangeSetStatus,
    ItemKind,
    ItemStatus,
)
from .conversations import Conversation
from .invitations import Invitation, InvitationState
from .notifications import (
    DEFAULT_CHANNELS,
    Channel,
    Notification,
    NotificationKind,
    NotificationPreference,
    NotificationSettings,
    PersonaFollow,
)
from .promotion import PersonaLink
from .review_rules import ReviewRule, RuleCheck, RuleRole
from .reviews import ChangeKind, ChangeRequest, ChangeStatus, Comment, Review, ReviewDecision
from .workspaces import ApiKey, Membership, MembershipSource, PersonaLock, Role, Workspace

__all__ = [
    "DEFAULT_CHANNELS",
    "ApiKey",
    "AppendOnlyError",
    "AuditEvent",
    "ChangeKind",
    "ChangeRequest",
    "ChangeSet",
    "ChangeSetComment",
    "ChangeSetItem",
    "ChangeSetReview",
    "ChangeSetStatus",
    "ChangeStatus",
    "Channel",
    "Comment",
    "Conversation",
    "Invitation",
    "InvitationState",
    "ItemKind",
    "ItemStatus",
    "Membership",
    "MembershipSource",
    "Notification",
    "NotificationKind",
    "NotificationPreference",
    "NotificationSettings",
    "Outcome",
    "PersonaFollow",
    "PersonaLink",
    "PersonaLock",
    "Review",
    "ReviewDecision",
    "ReviewRule",
    "Role",
    "RuleCheck",
    "RuleRole",
    "Workspace",
]
