"""Single sign-on: the workspace roles a person's provider groups give them, written at each sign-in.

OIDC_GROUP_ROLES maps a provider group to a role in a workspace. At every sign-in the memberships
that sign-in made (source "sso") follow the groups the provider sends: made, raised, lowered, or
removed when no mapped group is left. Memberships made by hand are never touched. The rules of the
members page hold: a workspace keeps its last admin, and enough approvers. Each change is audited
(actor "system", the groups in the note). No HTTP here: personas_app.sso talks to the provider.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from ..models import Membership, MembershipSource, Role, Workspace
from .audit import audit_record
from .workspaces import WorkspaceError, membership_change_check

logger = logging.getLogger(__name__)

_RANK = {role: rank for rank, role in enumerate(Role.values)}  # viewer < editor < reviewer < admin


@dataclass(frozen=True)
class _Grant:
    role: str
    groups: tuple[str, ...]


def _granted(
    groups: Iterable[str], mapping: Iterable[tuple[str, str, str]]
) -> tuple[dict[str, _Grant], set[str]]:
    """The role each workspace gets from `groups` (the highest when several groups map to one
    workspace), and every workspace slug the mapping names."""
    have = set(groups)
    granted: dict[str, _Grant] = {}
    slugs: set[str] = set()
    for group, slug, role in mapping:
        slugs.add(slug)
        if group not in have:
            continue
        current = granted.get(slug)
        if current is None or _RANK[role] > _RANK[current.role]:
            granted[slug] = _Grant(role, (group,))
        elif role == current.role:
            granted[slug] = _Grant(role, (*current.groups, group))
    return granted, slugs


def _note(grant: _Grant | None) -> str:
    if grant is None:
        return "by single sign-on: no mapped group left"
    return f"by single sign-on: group {', '.join(grant.groups)}"


def _sync_one(
    *, workspace: Workspace, user: AbstractBaseUser, grant: _Grant | None, request_id: str
) -> None:
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update().filter(workspace=workspace, user=user).first()
        )
        username = user.get_username()
        if membership is None:
            if grant is None:
                return
            Membership.objects.create(
                workspace=workspace, user=user, role=grant.role, source=MembershipSource.SSO
            )
            audit_record(
                workspace=workspace,
                request_id=request_id,
                actor=None,
                action="member.added",
                target=username,
                note=f"role {grant.role}, {_note(grant)}",
            )
            return
        if membership.source != MembershipSource.SSO:
            return
        if grant is None:
            membership_change_check(workspace=workspace, membership=membership, role=None)
            membership.delete()
            audit_record(
                workspace=workspace,
                request_id=request_id,
                actor=None,
                action="member.removed",
                target=username,
                note=_note(None),
            )
            return
        if membership.role == grant.role:
            return
        membership_change_check(workspace=workspace, membership=membership, role=grant.role)
        old = membership.role
        membership.role = grant.role
        membership.save(update_fields=["role"])
        audit_record(
            workspace=workspace,
            request_id=request_id,
            actor=None,
            action="member.role_changed",
            target=username,
            note=f"{old} → {grant.role}, {_note(grant)}",
        )


def sso_memberships_sync(
    *,
    user: AbstractBaseUser,
    groups: Iterable[str],
    mapping: Iterable[tuple[str, str, str]],
    request_id: str = "",
) -> None:
    """Make the user's single-sign-on memberships match their groups under `mapping`
    ((group, workspace slug, role) triples, settings.OIDC_GROUP_ROLES).

    A change the workspace rules refuse (its last admin, its last approvers) is left as it was and
    logged; the sign-in goes on. A slug that names no workspace is logged and skipped.
    """
    mapping = list(mapping)
    granted, slugs = _granted(groups, mapping)
    workspaces = {ws.slug: ws for ws in Workspace.objects.filter(slug__in=slugs)}
    for slug in sorted(slugs):
        workspace = workspaces.get(slug)
        if workspace is None:
            logger.warning("OIDC_GROUP_ROLES names a workspace that does not exist: %s", slug)
            continue
        try:
            _sync_one(
                workspace=workspace, user=user, grant=granted.get(slug), request_id=request_id
            )
        except WorkspaceError as exc:
            logger.warning(
                "Single sign-on left %s's role in %s as it was: %s",
                user.get_username(),
                slug,
                exc,
            )
