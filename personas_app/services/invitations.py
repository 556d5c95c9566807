"""Invitations by email: create, resend, revoke and accept, each audited; the invitation email.

The clear token exists only in the email's link: the database keeps its hash, and neither audit
records, pages nor messages ever carry it. Sending goes through Django's email framework (the
backend comes from EMAIL_URL); an invitation whose email could not be sent is not saved.
"""

from __future__ import annotations

import smtplib

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from ..models import Invitation, Membership, Role, Workspace
from ..models.invitations import (
    INVITATION_VALID_DAYS,
    invitation_expiry,
    invitation_token_hash,
    new_invitation_token,
)
from .audit import audit_record


class InvitationError(Exception):
    """An invitation operation that cannot be done, with a message for the user."""


INVALID_LINK = (
    "This invitation link is not valid. Check that the whole link from the email was opened, "
    "or ask a workspace admin to send the invitation again."
)


def _check_admin(workspace: Workspace, actor: AbstractBaseUser) -> None:
    if not Membership.objects.filter(workspace=workspace, user=actor, role=Role.ADMIN).exists():
        raise InvitationError("Only workspace admins can invite people.")


def _mail_error(exc: Exception) -> InvitationError:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        reason = (
            "the mail server refused this server's login (check the user and password in EMAIL_URL)"
        )
    elif isinstance(exc, smtplib.SMTPRecipientsRefused):
        reason = "the mail server refused this address"
    else:
        reason = "the mail server could not be reached or refused the message (check EMAIL_URL)"
    return InvitationError(
        f"The invitation email could not be sent: {reason}. Nothing was saved; try again later."
    )


def _send_invitation_email(invitation: Invitation, *, token: str, site_url: str) -> None:
    """Email the invitation's link (plain text and HTML). Raises InvitationError if it fails."""
    link = site_url.rstrip("/") + reverse("personas:invitation_accept", args=[token])
    context = {
        "invitation": invitation,
        "workspace_name": invitation.workspace.name,
        "inviter": invitation.invited_by_name,
        "role": invitation.get_role_display(),
        "link": link,
        "valid_days": INVITATION_VALID_DAYS,
    }
    subject = (
        f"{invitation.invited_by_name} invited you to {invitation.workspace.name} on Persona Studio"
    )
    subject = " ".join(subject.split())  # a header is one line, whatever a name holds
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("emails/invitation.txt", context),
        to=[invitation.email],
    )
    message.attach_alternative(render_to_string("emails/invitation.html", context), "text/html")
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        raise _mail_error(exc) from exc


def _clean_email(email: str) -> str:
    email = BaseUserManager.normalize_email(email.strip())
    try:
        validate_email(email)
    except ValidationError:
        raise InvitationError(
            f"“{email}” is not an email address. Type it as name@example.com."
        ) from None
    return email


def _pending_for(workspace: Workspace, email: str) -> Invitation | None:
    return (
        workspace.invitations.filter(
            email__iexact=email,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .order_by("-created_at")
        .first()
    )


def invitation_create(
    *,
    workspace: Workspace,
    email: str,
    role: str,
    actor: AbstractBaseUser,
    site_url: str,
    request_id: str = "",
) -> Invitation:
    """Invite an email address with a role and email them the link; admins only.

    Refused for an invalid address, a current member's address, or an address that already has a
    pending invitation. `site_url` is the dashboard's address (SITE_URL or the request's)."""
    _check_admin(workspace, actor)
    email = _clean_email(email)
    if role not in Role.values:
        raise InvitationError(f"“{role}” is not a role. Choose one of: {', '.join(Role.labels)}.")
    with transaction.atomic():
        # One invitation at a time per workspace, so two admins cannot invite the same address twice.
        Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
        member = workspace.memberships.filter(user__email__iexact=email).select_related("user")
        if existing := member.first():
            raise InvitationError(
                f"{email} is already a member of this workspace "
                f"({existing.user.get_username()}, {existing.get_role_display()})."
            )
        if pending := _pending_for(workspace, email):
            raise InvitationError(
                f"{email} already has a pending invitation (valid until "
                f"{pending.expires_at:%d %B %Y}). Resend it from the list instead."
            )
        token, token_hash = new_invitation_token()
        now = timezone.now()
        invitation = Invitation.objects.create(
            workspace=workspace,
            email=email,
            role=role,
            token_hash=token_hash,
            invited_by=actor,
            invited_by_name=actor.get_username(),
            sent_at=now,
            expires_at=invitation_expiry(now),
        )
        audit_record(
            workspace=workspace,
            request_id=request_id,
            actor=actor,
            action="member.invited",
            target=email,
            note=f"role {role}; valid until {invitation.expires_at:%Y-%m-%d %H:%M} UTC",
        )
        # Last: if the email cannot be sent, the invitation and its audit record roll back.
        _send_invitation_email(invitation, token=token, site_url=site_url)
    return invitation


def _locked(workspace: Workspace, invitation: Invitation) -> Invitation:
    return Invitation.objects.select_for_update().get(pk=invitation.pk, workspace=workspace)


def invitation_resend(
    *,
    workspace: Workspace,
    invitation: Invitation,
    actor: AbstractBaseUser,
    site_url: str,
    request_id: str = "",
) -> Invitation:
    """Send a pending or expired invitation again with a new link, valid for another week.
    The previous link stops working."""
    _check_admin(workspace, actor)
    with transaction.atomic():
        invitation = _locked(workspace, invitation)
        if invitation.revoked_at is not None or invitation.accepted_at is not None:
            raise InvitationError(
                f"The invitation to {invitation.email} was {invitation.state.label.lower()}: "
                "it cannot be sent again. Invite the address anew."
            )
        if workspace.memberships.filter(user__email__iexact=invitation.email).exists():
            raise InvitationError(f"{invitation.email} is already a member of this workspace.")
        token, invitation.token_hash = new_invitation_token()
        invitation.sent_at = timezone.now()
        invitation.expires_at = invitation_expiry(invitation.sent_at)
        invitation.save(update_fields=["token_hash", "sent_at", "expires_at"])
        audit_record(
            workspace=workspace,
            request_id=request_id,
            actor=actor,
            action="invitation.resent",
            target=invitation.email,
            note=f"new link valid until {invitation.expires_at:%Y-%m-%d %H:%M} UTC",
        )
        _send_invitation_email(invitation, token=token, site_url=site_url)
    return invitation


def invitation_revoke(
    *,
    workspace: Workspace,
    invitation: Invitation,
    actor: AbstractBaseUser,
    request_id: str = "",
) -> Invitation:
    """Withdraw a pending invitation: its link stops working at once."""
    _check_admin(workspace, actor)
    with transaction.atomic():
        invitation = _locked(workspace, invitation)
        if not invitation.is_pending:
            raise InvitationError(
                f"The invitation to {invitation.email} is already "
                f"{invitation.state.label.lower()}: there is nothing to revoke."
            )
        invitation.revoked_at = timezone.now()
        invitation.revoked_by = actor
        invitation.save(update_fields=["revoked_at", "revoked_by"])
        audit_record(
            workspace=workspace,
            request_id=request_id,
            actor=actor,
            action="invitation.revoked",
            target=invitation.email,
        )
    return invitation


def _usable(token: str) -> Invitation:
    """The pending invitation of this link, locked; InvitationError for any other."""
    invitation = (
        Invitation.objects.select_for_update()
        .select_related("workspace")
        .filter(token_hash=invitation_token_hash(token))
        .first()
    )
    if invitation is None:
        raise InvitationError(INVALID_LINK)
    if refusal := invitation.refusal():
        raise InvitationError(refusal)
    return invitation


def _join(invitation: Invitation, user: AbstractBaseUser, request_id: str) -> Membership:
    membership, created = Membership.objects.get_or_create(
        workspace=invitation.workspace, user=user, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.accepted_by_name = user.get_username()
    invitation.save(update_fields=["accepted_at", "accepted_by", "accepted_by_name"])
    audit_record(
        workspace=invitation.workspace,
        request_id=request_id,
        actor=user,
        action="invitation.accepted",
        target=invitation.email,
        note=f"{user.get_username()} joined as {invitation.role}"
        if created
        else f"{user.get_username()} was already a member ({membership.role}); role unchanged",
    )
    return membership


def invitation_accept(*, token: str, user: AbstractBaseUser, request_id: str = "") -> Membership:
    """Accept an invitation as a logged-in user whose email address is the invited one.

    Refuses an unknown, expired, revoked or used link, and another person's invitation. A user who
    is already a member keeps their role; the invitation is used up either way."""
    with transaction.atomic():
        invitation = _usable(token)
        email = getattr(user, "email", "") or ""
        if email.casefold() != invitation.email.casefold():
            raise InvitationError(
                f"This invitation was sent to {invitation.email}, but you are logged in as "
                f"{user.get_username()}, whose email address is another. Log out and open the "
                "link again, or ask a workspace admin to invite your account's address."
            )
        return _join(invitation, user, request_id)


def invitation_accept_new_account(
    *, token: str, username: str, password: str, request_id: str = ""
) -> Membership:
    """Accept an invitation by creating an account for the invited address (the caller has
    checked the username and password with the sign-up form and Django's password validators)."""
    User = get_user_model()
    with transaction.atomic():
        invitation = _usable(token)
        if User.objects.filter(email__iexact=invitation.email).exists():
            raise InvitationError(
                f"An account with the address {invitation.email} already exists. "
                "Log in with it to accept the invitation."
            )
        try:
            with transaction.atomic():
                user = User.objects.create_user(username, invitation.email, password)
        except IntegrityError:
            raise InvitationError(
                f"The username “{username}” was just taken. Choose another."
            ) from None
        return _join(invitation, user, request_id)
