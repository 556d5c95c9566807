"""Workspaces, members and Tavus API keys: the writes, each audited, and the Tavus client factory.

Only this module decrypts a workspace's API key, and only to hand it to a TavusClient.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from ..crypto import DecryptionError, reseal, seal, unseal
from ..logging import remember_secret
from ..models import (
    ApiKey,
    ChangeRequest,
    Membership,
    MembershipSource,
    ReviewRule,
    Role,
    Workspace,
)
from ..tavus import TavusAuthError, TavusClient, TavusError, TavusRateLimited, TavusUnavailable
from .audit import audit_record


class WorkspaceError(Exception):
    """A workspace operation that cannot be done, with a message for the user; `field` names
    the form field the message belongs next to, when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NoActiveKey(WorkspaceError):
    """The workspace has no active Tavus API key."""


@functools.lru_cache(maxsize=64)
def _unseal_key(sealed: str) -> str:
    """unseal(sealed), decrypted once per process for the last 64 keys in use.

    Keyed by the sealed text, so a key that is rotated, replaced or re-encrypted is a new entry and
    a revoked one is never looked up again (its sealed text is no longer read). The plain key is
    held in this process's memory only, as the log scrubber already holds it.
    """
    secret = unseal(sealed)
    remember_secret(secret)
    return secret


class TavusAddressRefused(NoActiveKey):
    """The workspace's Tavus address is not on TAVUS_ALLOWED_BASE_URLS: no key is sent there."""


_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def tavus_address_allowed(url: str) -> bool:
    """Whether a workspace may send its key to `url`: one of TAVUS_ALLOWED_BASE_URLS (scheme,
    host, port and path as written), or, where TAVUS_ALLOW_LOOPBACK is on (development: the
    local emulator), an http(s) address on this machine."""
    url = url.strip().rstrip("/")
    if url in settings.TAVUS_ALLOWED_BASE_URLS:
        return True
    parts = urlsplit(url)
    return (
        settings.TAVUS_ALLOW_LOOPBACK
        and parts.scheme in {"http", "https"}
        and parts.hostname in _LOOPBACK_HOSTS
    )


def _refused_address(workspace: Workspace) -> TavusAddressRefused:
    return TavusAddressRefused(
        f"The workspace's Tavus address ({workspace.base_url}) is not one this server may send "
        "keys to, so nothing was sent. An admin can set an allowed address in the workspace "
        "settings (TAVUS_ALLOWED_BASE_URLS lists them)."
    )


def tavus_client_for(workspace: Workspace) -> TavusClient:
    """A Tavus client using the workspace's active key; NoActiveKey when it has none,
    TavusAddressRefused when the workspace's address is not allowed."""
    if not tavus_address_allowed(workspace.base_url):
        raise _refused_address(workspace)
    sealed = (
        ApiKey.objects.filter(workspace=workspace, is_active=True)
        .values_list("secret_sealed", flat=True)
        .first()
    )
    if not sealed:
        raise NoActiveKey(
            f"The workspace “{workspace.name}” has no active Tavus API key. "
            "An admin can add one on the API keys page."
        )
    secret = _unseal_key(sealed)
    return TavusClient(
        secret,
        workspace.base_url,
        timeout=(settings.TAVUS_TIMEOUT_CONNECT, settings.TAVUS_TIMEOUT_READ),
        max_retries=settings.TAVUS_RETRIES,
        max_retry_after=settings.TAVUS_RETRY_WAIT_MAX,
    )


def _unique_slug(name: str) -> str:
    base = slugify(name)[:40] or "workspace"
    slug, n = base, 2
    while Workspace.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def workspace_create(
    *,
    name: str,
    slug: str | None = None,
    base_url: str = "",
    created_by: AbstractBaseUser | None = None,
    api_key: str | None = None,
    key_label: str = "default",
) -> Workspace:
    """Create a workspace; its creator becomes its admin; an optional first key becomes active."""
    if not name.strip():
        raise WorkspaceError("A workspace needs a name.")
    if slug and Workspace.objects.filter(slug=slug).exists():
        raise WorkspaceError(f"A workspace with the short name “{slug}” already exists.")
    with transaction.atomic():
        workspace = Workspace.objects.create(
            name=name.strip(),
            slug=slug or _unique_slug(name),
            tavus_base_url=base_url,
            created_by=created_by,
        )
        if created_by is not None:
            Membership.objects.create(workspace=workspace, user=created_by, role=Role.ADMIN)
        if api_key:
            api_key_add(workspace=workspace, label=key_label, secret=api_key, actor=created_by)
    return workspace


def member_add(
    *,
    workspace: Workspace,
    username_or_email: str,
    role: str,
    actor: AbstractBaseUser | None,
    request_id: str = "",
) -> Membership:
    User = get_user_model()
    ident = username_or_email.strip()
    user = (
        User.objects.filter(username=ident).first()
        or User.objects.filter(email__iexact=ident).first()
    )
    if user is None:
        raise WorkspaceError(f"No user is called “{ident}”. They need an account first.")
    if role not in Role.values:
        raise WorkspaceError(f"“{role}” is not a role. Choose one of: {', '.join(Role.values)}.")
    with transaction.atomic():
        membership, created = Membership.objects.get_or_create(
            workspace=workspace, user=user, defaults={"role": role}
        )
        if not created:
            raise WorkspaceError(f"{user.get_username()} is already a member ({membership.role}).")
        audit_record(
            workspace=workspace,
            request_id=request_id,
            actor=actor,
            action="member.added",
            target=user.get_username(),
            note=f"role {role}",
        )
    return membership


def _ensure_admin_remains(workspace: Workspace, membership: Membership) -> None:
    others = workspace.memberships.filter(role=Role.ADMIN).exclude(pk=membership.pk)
    if membership.role == Role.ADMIN and not others.exists():
        raise WorkspaceError("A workspace must keep at least one admin.")


_APPROVER_ROLES = (Role.REVIEWER, Role.ADMIN)


def _ensure_enough_approvers(
    workspace: Workspace, membership: Membership, role: str | None
) -> None:
    """Refuse a role change (None: a removal) that would leave fewer members able to approve
    than "Approvals needed" asks for (one approval is always allowed while approval is off)."""
    if membership.role not in _APPROVER_ROLES or role in _APPROVER_ROLES:
        return
    needed = workspace.approvals_required
    if not workspace.requires_approval and needed <= 1:
        return
    left = workspace.memberships.filter(role__in=_APPROVER_ROLES).exclude(pk=membership.pk).count()
    if left < needed:
        raise WorkspaceError(
            f"Changes here need {workspace.approvals_required} approval(s), and only {left} "
            "member(s) could still give them. Lower “Approvals needed” in the settings first."
        )


def _ensure_not_required_reviewer(
    workspace: Workspace, membership: Membership, role: str | None
) -> None:
    """Refuse a role change (None: a removal) that would leave a member named in a
    required-reviewer rule unable to review: the rule names who must approve."""
    if role in _APPROVER_ROLES:
        return
    rules = ReviewRule.objects.filter(workspace=workspace, reviewers=membership.user_id)
    labels = sorted({rule.label for rule in rules})
    if labels:
        raise WorkspaceError(
            f"{membership.user.get_username()} is a required reviewer for "
            f"{', '.join(labels)}. Remove them from those rules in the settings first."
        )


def membership_change_check(
    *, workspace: Workspace, membership: Membership, role: str | None
) -> None:
    """Refuse, with a plain message (WorkspaceError), a role change (`role=None`: a removal) the
    workspace's rules forbid: the last admin, enough approvers, required reviewers. Used by the
    members page and by single sign-on alike."""
    if role != Role.ADMIN:
        _ensure_admin_remains(workspace, membership)
    _ensure_enough_approvers(workspace, membership, role)
    _ensure_not_required_reviewer(workspace, membership, role)


def member_change_role(
    *,
    workspace: Workspace,
    membership: Membership,
    role: str,
    actor: AbstractBaseUser | None,
    request_id: str = "",
) -> Membership:
    if role not in Role.values:
        raise WorkspaceError(f"“{role}” is not a role.")
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        membership_change_check(workspace=workspace, membership=membership, role=role)
        old = membership.role
        membership.role = role
        # A role set by hand is the admin's from now on: single sign-on no longer changes it.
        membership.source = MembershipSource.MANUAL
        membership.save(update_fields=["role", "source"])
        audit_record(
            workspace=workspace,
            request_id=request_id,
            actor=actor,
            action="member.role_changed",
            target=membership.user.get_username(),
            note=f"{old} → {role}",
        )
    return membership


def member_remove(
    *,
    workspace: Workspace,
    membership: Membership,
    actor: AbstractBaseUser | None,
    request_id: str = "",
) -> None:
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        membership_change_check(workspace=workspace, membership=membership, role=None)
        username = membership.user.get_username()
        membership.delete()
        audit_record(
            workspace=workspace,
            request_id=request_id,
            actor=actor,
            action="member.removed",
            target=username,
        )


def _check_secret(secret: str) -> str:
    secret = secret.strip()
    if len(secret) < 8:
        raise WorkspaceError("That does not look like a Tavus API key (it is too short).")
    return secret


def api_key_add(
    *,
    workspace: Workspace,
    label: str,
    secret: str,
    actor: AbstractBaseUser | None,
    activate: bool | None = None,
    request_id: str = "",
) -> ApiKey:
    """Store a new named key, encrypted. It becomes active if asked or if no key is active yet."""
    secret = _check_secret(secret)
    label = label.strip() or "default"
    remember_secret(secret)
    with transaction.atomic():
        if workspace.api_keys.filter(label=label).exists():
            raise WorkspaceError(f"A key named “{label}” already exists. Rotate it instead.")
        has_active = workspace.api_keys.filter(is_active=True).exists()
        make_active = activate if activate is not None else not has_active
        if make_active:
            workspace.api_keys.filter(is_active=True).update(is_active=False)
        key = ApiKey.objects.create(
            workspace=workspace,
            label=label,
            secret_sealed=seal(secret),
            last4=secret[-4:],
            is_active=make_active,
            created_by=actor,
            created_by_name=actor.get_username() if actor is not None else "system",
        )
        audit_record(
            workspace=workspace,
            request_id=request_id,
            actor=actor,
            action="key.added",
            target=str(key),
            note="active" if make_active else "",
        )
    return key


def api_key_rotate(
    *,
    workspace: Workspace,
    key: ApiKey,
    secret: str,
    actor: AbstractBaseUser | None,
    request_id: str = "",
) -> ApiKey:
    """Replace the secret of a named key (keeps its name and active state)."""
    secret = _check_secret(secret)
    remember_secret(secret)
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().get(pk=key.pk, workspace=workspace)
        key.secret_sealed = seal(secret)
        key.last4 = secret[-4:]
        key.rotated_at = timezone.now()
        key.revoked_at = None
        key.save(update_fields=["secret_sealed", "last4", "rotated_at", "revoked_at"])
        audit_record(
            workspace=workspace,
            request_id=request_id,
            actor=actor,
            action="key.rotated",
            target=str(key),
        )
    return key


def api_key_activate(
    *, workspace: Workspace, key: ApiKey, actor: AbstractBaseUser | None, request_id: str = ""
) -> ApiKey:
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().get(pk=key.pk, workspace=workspace)
        if key.is_revoked:
            raise WorkspaceError(
                "A revoked key cannot be activated. Rotate it to give it a new secret."
            )
        workspace.api_keys.filter(is_active=True).exclude(pk=key.pk).update(is_active=False)
        key.is_active = True
        key.save(update_fields=["is_active"])
        audit_record(
            workspace=workspace,
            request_id=request_id,
            actor=actor,
            action="key.activated",
            target=str(key),
        )
    return key


def api_key_revoke(
    *, workspace: Workspace, key: ApiKey, actor: AbstractBaseUser | None, request_id: str = ""
) -> ApiKey:
    """Delete a key's secret; the name and its history stay."""
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().get(pk=key.pk, workspace=workspace)
        if key.is_revoked:
            raise WorkspaceError(f"The key “{key.label}” is already revoked.")
        key.secret_sealed = ""
        key.is_active = False
        key.revoked_at = timezone.now()
        key.save(update_fields=["secret_sealed", "is_active", "revoked_at"])
        audit_record(
            workspace=workspace,
            request_id=request_id,
            actor=actor,
            action="key.revoked",
            target=str(key),
        )
    return key


def api_key_rotate_encryption() -> int:
    """Re-encrypt every stored secret with the first FIELD_ENCRYPTION_KEYS key; returns the count.

    Covers the workspaces' API keys and the persona secrets held by change requests.
    """
    count = 0
    with transaction.atomic():
        for key in ApiKey.objects.select_for_update().exclude(secret_sealed=""):
            key.secret_sealed = reseal(key.secret_sealed)
            key.save(update_fields=["secret_sealed"])
            count += 1
        for change in ChangeRequest.objects.select_for_update().exclude(secrets_sealed=""):
            change.secrets_sealed = reseal(change.secrets_sealed)
            change.save(update_fields=["secrets_sealed"])
            count += 1
    return count


ConnectionOutcome = Literal["ok", "rejected", "unreachable", "rate_limited", "revoked", "error"]


@dataclass(frozen=True)
class ConnectionResult:
    """What "Test connection" found, in plain words."""

    ok: bool
    message: str
    outcome: ConnectionOutcome = "ok"


def api_key_test(*, workspace: Workspace, key: ApiKey) -> ConnectionResult:
    """Ask Tavus for one persona with THIS key (maybe not the active one); say how it went."""
    # Read the key again: the caller's copy may predate a rotation or a revocation.
    current = ApiKey.objects.filter(pk=key.pk, workspace=workspace).first()
    if current is None:
        raise WorkspaceError("This key does not belong to this workspace.")
    if current.is_revoked:
        return ConnectionResult(
            False, "This key was revoked, so there is nothing to test. Rotate it first.", "revoked"
        )
    try:
        secret = unseal(current.secret_sealed)
    except DecryptionError:
        return ConnectionResult(
            False,
            "The stored key could not be decrypted on this server. Rotate it to store it again.",
            "error",
        )
    remember_secret(secret)
    if not tavus_address_allowed(workspace.base_url):
        return ConnectionResult(False, str(_refused_address(workspace)), "error")
    # One retry at most: the person is waiting for an answer on the page.
    client = TavusClient(
        secret,
        workspace.base_url,
        timeout=(settings.TAVUS_TIMEOUT_CONNECT, settings.TAVUS_TIMEOUT_READ),
        max_retries=1,
        max_retry_after=settings.TAVUS_RETRY_WAIT_MAX,
    )
    try:
        client.list_personas(limit=1)
    except TavusAuthError:
        return ConnectionResult(
            False,
            "Key rejected: Tavus did not accept this key. Check that it was copied completely "
            "and that it still exists in the Tavus portal.",
            "rejected",
        )
    except TavusRateLimited as exc:
        return ConnectionResult(False, f"Rate limited: {exc.user_message}", "rate_limited")
    except TavusUnavailable:
        # One message whatever went wrong, so the answer does not tell a closed port from an
        # open one.
        return ConnectionResult(
            False,
            f"Tavus could not be reached at {workspace.base_url}. Check the address and try "
            "again in a moment.",
            "unreachable",
        )
    except TavusError as exc:
        return ConnectionResult(False, exc.user_message, "error")
    return ConnectionResult(True, f"Works: Tavus accepted the key “{current.label}”.", "ok")


_SETTING_LABELS = {
    "name": "name",
    "tavus_base_url": "Tavus address",
    "requires_approval": "changes need approval",
    "approvals_required": "approvals needed",
    "conversation_max_minutes": "test conversation limit (minutes)",
}


def _shown(field: str, value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if field == "tavus_base_url" and not value:
        return f"default ({settings.TAVUS_API_BASE_URL})"
    return f"“{value}”" if isinstance(value, str) else str(value)


def workspace_update_settings(
    *,
    workspace: Workspace,
    actor: AbstractBaseUser | None,
    name: str,
    tavus_base_url: str,
    requires_approval: bool,
    approvals_required: int,
    conversation_max_minutes: int,
    request_id: str = "",
) -> list[str]:
    """Save the workspace settings; returns what changed (empty: nothing), audited as one event."""
    name = name.strip()
    if not name:
        raise WorkspaceError("A workspace needs a name.", field="name")
    if approvals_required < 1:
        raise WorkspaceError("At least one approval is needed.", field="approvals_required")
    approvers = workspace.memberships.filter(role__in=_APPROVER_ROLES).count()
    if approvals_required > max(1, approvers):
        raise WorkspaceError(
            f"Only {approvers} member(s) can approve changes (reviewers and admins), so "
            f"“Approvals needed” cannot be {approvals_required}. Add a reviewer first, or "
            "need fewer approvals.",
            field="approvals_required",
        )
    if conversation_max_minutes < 1:
        raise WorkspaceError(
            "Test conversations need at least one minute.", field="conversation_max_minutes"
        )
    wanted: dict[str, object] = {
        "name": name,
        "tavus_base_url": tavus_base_url.strip().rstrip("/"),
        "requires_approval": requires_approval,
        "approvals_required": approvals_required,
        "conversation_max_minutes": conversation_max_minutes,
    }
    with transaction.atomic():
        current = Workspace.objects.select_for_update().get(pk=workspace.pk)
        changed = [field for field, value in wanted.items() if getattr(current, field) != value]
        if not changed:
            return []
        changes = [
            f"{_SETTING_LABELS[field]}: {_shown(field, getattr(current, field))} → "
            f"{_shown(field, wanted[field])}"
            for field in changed
        ]
        for field in changed:
            setattr(current, field, wanted[field])
            setattr(workspace, field, wanted[field])
        current.save(update_fields=changed)
        audit_record(
            workspace=workspace,
            request_id=request_id,
            actor=actor,
            action="workspace.settings_changed",
            target=workspace.name,
            note="; ".join(changes),
        )
    return changes
