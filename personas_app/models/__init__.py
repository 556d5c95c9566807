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
from .reviews import ChangeKind, ChangeRequest, ChangeStatus, Comment, Review, ReviewDecision
from .workspaces import ApiKey, Membership, PersonaLock, Role, Workspace

__all__ = [
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
    "Comment",
    "Conversation",
    "Invitation",
    "InvitationState",
    "ItemKind",
    "ItemStatus",
    "Membership",
    "Outcome",
    "PersonaLock",
    "Review",
    "ReviewDecision",
    "Role",
    "Workspace",
]
