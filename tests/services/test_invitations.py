"""Invitations by email: who may invite whom, the email, single use, expiry, revocation, resend.

alice is acme's admin, bob an editor, charlie an outsider. Email goes to Django's test outbox
(locmem backend); time is moved by patching django.utils.timezone.now.
"""

from __future__ import annotations

import re
import smtplib
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone

from personas_app.models import AuditEvent, Invitation, InvitationState, Membership, Role
from personas_app.services.invitations import (
    InvitationError,
    invitation_accept,
    invitation_accept_new_account,
    invitation_create,
    invitation_resend,
    invitation_revoke,
)
from tests.builders import PASSWORD, make_user

SITE = "https://studio.example.com"
LINK = re.compile(r"https://studio\.example\.com/invitations/([\w-]+)/")


def _invite(workspace: Any, actor: Any, email: str = "dora@example.com", role: str = Role.EDITOR):
    return invitation_create(
        workspace=workspace, email=email, role=role, actor=actor, site_url=SITE
    )


def _token(message: Any = None) -> str:
    message = message or mail.outbox[-1]
    match = LINK.search(message.body)
    assert match is not None, message.body
    return match.group(1)


def _later(monkeypatch: pytest.MonkeyPatch, **delta: float) -> None:
    moment = timezone.now() + timedelta(**delta)
    monkeypatch.setattr(timezone, "now", lambda: moment)


def test_an_invitation_emails_a_link_in_plain_text_and_html(workspace: Any, alice: Any) -> None:
    invitation = _invite(workspace, alice)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["dora@example.com"]
    assert "alice invited you to Acme" in message.subject
    token = _token(message)
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert token in html
    assert "Editor" in message.body
    assert invitation.state == InvitationState.PENDING
    assert invitation.expires_at - invitation.sent_at == timedelta(days=7)


def test_the_token_is_stored_only_as_a_hash_and_never_audited(workspace: Any, alice: Any) -> None:
    invitation = _invite(workspace, alice)
    token = _token()

    assert token not in invitation.token_hash
    assert len(token) >= 40
    events = AuditEvent.objects.filter(workspace=workspace)
    assert events.filter(action="member.invited", target="dora@example.com").exists()
    for event in events:
        assert token not in f"{event.note} {event.target} {event.payload}"


def test_an_editor_cannot_invite(workspace: Any, bob: Any) -> None:
    with pytest.raises(InvitationError, match="Only workspace admins"):
        _invite(workspace, bob)

    assert not Invitation.objects.exists()
    assert mail.outbox == []


@pytest.mark.parametrize("email", ["not-an-address", "dora@", ""])
def test_an_invalid_address_is_refused(workspace: Any, alice: Any, email: str) -> None:
    with pytest.raises(InvitationError, match="not an email address"):
        _invite(workspace, alice, email=email)


def test_a_members_address_is_refused(workspace: Any, alice: Any) -> None:
    with pytest.raises(InvitationError, match=r"already a member .*bob"):
        _invite(workspace, alice, email="BOB@example.com")


def test_a_second_pending_invitation_for_the_same_address_is_refused(
    workspace: Any, alice: Any
) -> None:
    _invite(workspace, alice)

    with pytest.raises(InvitationError, match="already has a pending invitation"):
        _invite(workspace, alice, email="Dora@Example.com")
    assert len(mail.outbox) == 1


def test_an_email_that_cannot_be_sent_saves_nothing(
    workspace: Any, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> int:
        raise smtplib.SMTPAuthenticationError(535, b"bad credentials")

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", refuse)

    with pytest.raises(InvitationError, match=r"could not be sent.*Nothing was saved"):
        _invite(workspace, alice)
    assert not Invitation.objects.exists()
    assert not AuditEvent.objects.filter(action="member.invited").exists()


def test_a_new_person_creates_an_account_and_joins_with_the_role(
    workspace: Any, alice: Any
) -> None:
    _invite(workspace, alice, role=Role.REVIEWER)

    membership = invitation_accept_new_account(token=_token(), username="dora", password=PASSWORD)

    assert membership.role == Role.REVIEWER
    assert membership.user.email == "dora@example.com"
    assert membership.user.check_password(PASSWORD)
    invitation = Invitation.objects.get()
    assert invitation.state == InvitationState.ACCEPTED
    assert invitation.accepted_by_name == "dora"
    assert AuditEvent.objects.filter(action="invitation.accepted", actor_name="dora").exists()


def test_an_existing_user_with_the_invited_address_joins(
    workspace: Any, alice: Any, charlie: Any
) -> None:
    _invite(workspace, alice, email="charlie@example.com", role=Role.VIEWER)

    membership = invitation_accept(token=_token(), user=charlie)

    assert (membership.user, membership.role) == (charlie, Role.VIEWER)


def test_another_users_invitation_is_refused(workspace: Any, alice: Any, charlie: Any) -> None:
    _invite(workspace, alice, email="dora@example.com")

    with pytest.raises(InvitationError, match=r"sent to dora@example\.com"):
        invitation_accept(token=_token(), user=charlie)
    assert not Membership.objects.filter(user=charlie).exists()


def test_a_new_account_is_refused_when_the_address_already_has_one(
    workspace: Any, alice: Any, charlie: Any
) -> None:
    _invite(workspace, alice, email="charlie@example.com")

    with pytest.raises(InvitationError, match=r"already exists\. Log in"):
        invitation_accept_new_account(token=_token(), username="charlie2", password=PASSWORD)


def test_an_invitation_works_once(workspace: Any, alice: Any) -> None:
    _invite(workspace, alice)
    token = _token()
    invitation_accept_new_account(token=token, username="dora", password=PASSWORD)

    with pytest.raises(InvitationError, match="already been used"):
        invitation_accept_new_account(token=token, username="dora2", password=PASSWORD)
    with pytest.raises(InvitationError, match="already been used"):
        invitation_accept(token=token, user=get_user_model().objects.get(username="dora"))
    assert not get_user_model().objects.filter(username="dora2").exists()


def test_an_invitation_expires_after_seven_days(
    workspace: Any, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _invite(workspace, alice)
    token = _token()

    _later(monkeypatch, days=7, seconds=1)

    assert Invitation.objects.get().state == InvitationState.EXPIRED
    with pytest.raises(InvitationError, match="expired"):
        invitation_accept_new_account(token=token, username="dora", password=PASSWORD)
    assert not get_user_model().objects.filter(username="dora").exists()


def test_an_invitation_still_works_just_before_it_expires(
    workspace: Any, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _invite(workspace, alice)
    token = _token()

    _later(monkeypatch, days=6, hours=23)

    assert invitation_accept_new_account(token=token, username="dora", password=PASSWORD)


def test_a_revoked_invitation_cannot_be_accepted(workspace: Any, alice: Any) -> None:
    invitation = _invite(workspace, alice)
    token = _token()

    invitation_revoke(workspace=workspace, invitation=invitation, actor=alice)

    with pytest.raises(InvitationError, match="withdrawn"):
        invitation_accept_new_account(token=token, username="dora", password=PASSWORD)
    assert Invitation.objects.get().state == InvitationState.REVOKED
    assert AuditEvent.objects.filter(action="invitation.revoked", target="dora@example.com")


def test_an_editor_cannot_revoke(workspace: Any, alice: Any, bob: Any) -> None:
    invitation = _invite(workspace, alice)

    with pytest.raises(InvitationError, match="Only workspace admins"):
        invitation_revoke(workspace=workspace, invitation=invitation, actor=bob)
    assert Invitation.objects.get().state == InvitationState.PENDING


def test_resending_an_expired_invitation_sends_a_new_link_and_retires_the_old_one(
    workspace: Any, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    invitation = _invite(workspace, alice)
    old_token = _token()
    _later(monkeypatch, days=8)

    invitation = invitation_resend(
        workspace=workspace, invitation=invitation, actor=alice, site_url=SITE
    )

    new_token = _token()
    assert len(mail.outbox) == 2 and new_token != old_token
    assert invitation.state == InvitationState.PENDING
    with pytest.raises(InvitationError, match="not valid"):
        invitation_accept_new_account(token=old_token, username="dora", password=PASSWORD)
    assert invitation_accept_new_account(token=new_token, username="dora", password=PASSWORD)


def test_a_revoked_invitation_is_not_resent(workspace: Any, alice: Any) -> None:
    invitation = _invite(workspace, alice)
    invitation_revoke(workspace=workspace, invitation=invitation, actor=alice)

    with pytest.raises(InvitationError, match="revoked"):
        invitation_resend(workspace=workspace, invitation=invitation, actor=alice, site_url=SITE)
    assert len(mail.outbox) == 1


def test_a_member_who_accepts_again_keeps_their_role(workspace: Any, alice: Any) -> None:
    dora = make_user("dora")
    _invite(workspace, alice, role=Role.ADMIN)
    Membership.objects.create(workspace=workspace, user=dora, role=Role.VIEWER)

    membership = invitation_accept(token=_token(), user=dora)

    assert membership.role == Role.VIEWER
    assert Invitation.objects.get().state == InvitationState.ACCEPTED
