"""Invitations through the pages: from the Members page to the email, and from its link to the
workspace, for a new person, an existing account and a logged-in user; expiry, revocation, single use.

alice is acme's admin, bob an editor, charlie an outsider. The link is read from Django's test
outbox and followed with a fresh client, as the invited person's browser would.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.utils import timezone

from personas_app.models import AuditEvent, Invitation, Membership, Role
from tests.builders import PASSWORD

HX = {"HTTP_HX_REQUEST": "true"}
LINK = re.compile(r"https?://[^/\s]+(/invitations/[\w-]+/)")
NEW_PASSWORD = "plum-orchard-lantern-42"


def _invite(client: Client, email: str = "dora@example.com", role: str = Role.EDITOR) -> Any:
    return client.post(
        "/w/acme/invitations/new/", {"invitation-email": email, "invitation-role": role}
    )


def _link_path() -> str:
    match = LINK.search(mail.outbox[-1].body)
    assert match is not None, mail.outbox[-1].body
    return match.group(1)


def _messages(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def _sign_up(
    client: Client, path: str, username: str = "dora", password: str = NEW_PASSWORD
) -> Any:
    return client.post(path, {"username": username, "password1": password, "password2": password})


def test_an_invitation_goes_from_the_email_to_the_workspace(
    workspace: Any, alice_client: Client
) -> None:
    response = _invite(alice_client, role=Role.REVIEWER)
    assert response.status_code == 302
    assert mail.outbox[0].to == ["dora@example.com"]
    path = _link_path()

    visitor = Client()
    page = visitor.get(path)
    assert page.status_code == 200
    body = page.content.decode()
    assert "alice invited <strong>dora@example.com</strong>" in body
    assert "Create account and join" in body

    landed = _sign_up(visitor, path)
    assert landed.status_code == 302
    assert landed["Location"] == "/w/acme/"
    first_page = visitor.get(landed["Location"])
    assert first_page.status_code == 200
    assert "Welcome to Acme! You joined as Reviewer." in _messages(first_page)
    assert "(Reviewer)" in first_page.content.decode()
    dora = get_user_model().objects.get(username="dora")
    assert dora.email == "dora@example.com"
    assert Membership.objects.get(workspace=workspace, user=dora).role == Role.REVIEWER


def test_the_accept_page_answers_anonymous_visitors_without_a_login_redirect(
    workspace: Any, alice_client: Client
) -> None:
    _invite(alice_client)

    response = Client().get(_link_path())

    assert response.status_code == 200
    assert "Join Acme" in response.content.decode()


def test_a_weak_password_is_refused_next_to_the_field_and_the_username_is_kept(
    workspace: Any, alice_client: Client
) -> None:
    _invite(alice_client)
    path = _link_path()
    visitor = Client()

    response = _sign_up(visitor, path, password="dora@example")

    assert response.status_code == 200
    body = response.content.decode()
    assert "too similar to the email address" in body
    assert 'value="dora"' in body
    assert not get_user_model().objects.filter(username="dora").exists()
    assert _sign_up(visitor, path).status_code == 302


def test_a_taken_username_is_refused_with_a_plain_message(
    workspace: Any, alice_client: Client
) -> None:
    _invite(alice_client)

    response = _sign_up(Client(), _link_path(), username="Bob")

    assert response.status_code == 200
    assert "A user with that username already exists." in response.content.decode()


def test_an_existing_account_logs_in_first_then_joins(
    workspace: Any, alice_client: Client, charlie: Any
) -> None:
    _invite(alice_client, email="charlie@example.com", role=Role.VIEWER)
    path = _link_path()
    visitor = Client()

    page = visitor.get(path).content.decode()
    assert "Log in to accept" in page
    assert "Create account" not in page
    logged_in = visitor.post(
        "/accounts/login/", {"username": "charlie", "password": PASSWORD, "next": path}
    )
    assert logged_in["Location"] == path
    assert "Join as charlie" in visitor.get(path).content.decode()

    landed = visitor.post(path, follow=True)

    assert landed.redirect_chain[-1][0] == "/w/acme/"
    assert "Welcome to Acme! You joined as Viewer." in _messages(landed)
    assert Membership.objects.get(workspace=workspace, user=charlie).role == Role.VIEWER


def test_a_logged_in_user_with_another_address_cannot_use_the_link(
    workspace: Any, alice_client: Client, charlie_client: Client, charlie: Any
) -> None:
    _invite(alice_client)
    path = _link_path()

    page = charlie_client.get(path).content.decode()
    refused = charlie_client.post(path)

    assert "whose email address is not dora@example.com" in page
    assert "Join as" not in page
    assert refused.status_code == 409
    assert "This invitation was sent to dora@example.com" in refused.content.decode()
    assert not Membership.objects.filter(user=charlie).exists()


def test_a_used_link_says_so(workspace: Any, alice_client: Client) -> None:
    _invite(alice_client)
    path = _link_path()
    _sign_up(Client(), path)

    response = Client().get(path)

    assert response.status_code == 410
    assert "already been used" in response.content.decode()


def test_an_expired_link_says_when_it_expired_and_whom_to_ask(
    workspace: Any, alice_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    _invite(alice_client)
    path = _link_path()
    later = timezone.now() + timedelta(days=7, minutes=1)
    monkeypatch.setattr(timezone, "now", lambda: later)

    page = Client().get(path)
    posted = _sign_up(Client(), path)

    assert page.status_code == posted.status_code == 410
    assert "This invitation expired on" in page.content.decode()
    assert "Ask a workspace admin to send it again" in page.content.decode()
    assert not get_user_model().objects.filter(username="dora").exists()


def test_a_revoked_link_stops_working(workspace: Any, alice_client: Client) -> None:
    _invite(alice_client)
    path = _link_path()
    invitation = Invitation.objects.get()

    revoked = alice_client.post(f"/w/acme/invitations/{invitation.pk}/revoke/", follow=True)
    page = Client().get(path)

    assert "Revoked the invitation to dora@example.com." in _messages(revoked)
    assert page.status_code == 410
    assert "withdrawn" in page.content.decode()


def test_an_unknown_link_is_a_plain_404(db: None) -> None:
    response = Client().get("/invitations/not-a-real-token/")

    assert response.status_code == 404
    assert "This invitation link is not valid" in response.content.decode()


def test_revoking_without_javascript_asks_first(workspace: Any, alice_client: Client) -> None:
    _invite(alice_client)
    invitation = Invitation.objects.get()

    page = alice_client.get(f"/w/acme/invitations/{invitation.pk}/revoke/")

    assert "Revoke the invitation to dora@example.com?" in page.content.decode()
    assert Invitation.objects.get().revoked_at is None


def test_the_members_page_lists_invitations_with_their_state_and_no_token(
    workspace: Any, alice_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    _invite(alice_client, email="dora@example.com")
    dora_token = _link_path().split("/")[2]
    _sign_up(Client(), _link_path())
    _invite(alice_client, email="erin@example.com")
    erin_token = _link_path().split("/")[2]
    _invite(alice_client, email="fred@example.com")
    fred = Invitation.objects.get(email="fred@example.com")
    alice_client.post(f"/w/acme/invitations/{fred.pk}/revoke/")
    _invite(alice_client, email="gina@example.com")
    Invitation.objects.filter(email="gina@example.com").update(
        expires_at=timezone.now() - timedelta(hours=1)
    )

    body = alice_client.get("/w/acme/members/").content.decode()

    rows = re.findall(r'<tr id="invitation-\d+">(.*?)</tr>', body, re.S)
    states = {re.search(r"<td>([^<]+)<br>", row).group(1): row for row in rows}  # type: ignore[union-attr]
    assert "Accepted" in states["dora@example.com"] and "by dora" in states["dora@example.com"]
    assert "Pending" in states["erin@example.com"] and "until" in states["erin@example.com"]
    assert "Revoked" in states["fred@example.com"]
    assert "Expired" in states["gina@example.com"] and "Resend" in states["gina@example.com"]
    assert ">Revoke</a>" in states["erin@example.com"]
    assert ">Revoke</a>" not in states["dora@example.com"]
    for token in (dora_token, erin_token):
        assert token not in body


def test_resend_mails_a_new_link(workspace: Any, alice_client: Client) -> None:
    _invite(alice_client)
    old_path = _link_path()
    invitation = Invitation.objects.get()

    response = alice_client.post(f"/w/acme/invitations/{invitation.pk}/resend/", follow=True)

    assert len(mail.outbox) == 2
    assert _link_path() != old_path
    assert any("Sent the invitation to dora@example.com again" in m for m in _messages(response))
    assert Client().get(old_path).status_code == 404


def test_an_invalid_address_is_refused_next_to_the_field_and_kept(
    workspace: Any, alice_client: Client
) -> None:
    response = _invite(alice_client, email="dora-at-example")

    assert response.status_code == 200
    body = response.content.decode()
    assert "That is not an email address" in body
    assert 'value="dora-at-example"' in body
    assert mail.outbox == []


def test_a_members_address_is_refused_with_a_plain_message(
    workspace: Any, alice_client: Client
) -> None:
    response = _invite(alice_client, email="bob@example.com")

    assert response.status_code == 200
    assert "bob@example.com is already a member of this workspace" in response.content.decode()


def test_htmx_invite_answers_the_invitations_fragment(workspace: Any, alice_client: Client) -> None:
    response = alice_client.post(
        "/w/acme/invitations/new/",
        {"invitation-email": "dora@example.com", "invitation-role": "editor"},
        **HX,
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="invitations-area">')
    assert "dora@example.com" in body
    assert 'hx-swap-oob="true"' in body and "Invited dora@example.com as Editor" in body


def test_htmx_revoke_answers_the_invitations_fragment_with_the_new_state(
    workspace: Any, alice_client: Client
) -> None:
    _invite(alice_client)
    invitation = Invitation.objects.get()

    response = alice_client.post(f"/w/acme/invitations/{invitation.pk}/revoke/", **HX)

    body = response.content.decode()
    assert body.lstrip().startswith('<div id="invitations-area">')
    assert "Revoked" in body and ">Revoke</a>" not in body
    assert "Revoked the invitation to dora@example.com." in body


def test_a_workspace_name_on_two_lines_still_makes_a_one_line_subject(
    workspace: Any, alice_client: Client
) -> None:
    workspace.name = "Acme\nSupport"
    workspace.save()

    _invite(alice_client)

    assert mail.outbox[0].subject == "alice invited you to Acme Support on Persona Studio"


def test_an_editor_cannot_invite(workspace: Any, bob_client: Client) -> None:
    response = _invite(bob_client)

    assert response.status_code == 403
    assert mail.outbox == [] and not Invitation.objects.exists()


def test_an_outsider_gets_404_and_anonymous_the_login_page(
    workspace: Any, charlie_client: Client
) -> None:
    assert _invite(charlie_client).status_code == 404
    anonymous = _invite(Client())
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")


def test_the_audit_log_says_who_invited_and_who_joined_without_the_token(
    workspace: Any, alice_client: Client
) -> None:
    _invite(alice_client)
    path = _link_path()
    _sign_up(Client(), path)

    events = AuditEvent.objects.filter(workspace=workspace).order_by("id")
    actions = [(e.action, e.actor_name, e.target) for e in events]
    assert ("member.invited", "alice", "dora@example.com") in actions
    assert ("invitation.accepted", "dora", "dora@example.com") in actions
    token = path.split("/")[2]
    audit_page = alice_client.get("/w/acme/audit/").content.decode()
    assert "Invited someone by email" in audit_page
    assert token not in audit_page
    assert all(token not in f"{e.note}{e.target}{e.payload}" for e in events)


def test_links_use_site_url_when_it_is_set(
    workspace: Any, alice_client: Client, settings: Any
) -> None:
    settings.SITE_URL = "https://studio.example.com"

    _invite(alice_client)

    assert "https://studio.example.com/invitations/" in mail.outbox[0].body


def test_the_new_account_logs_in_later_with_its_password(
    workspace: Any, alice_client: Client
) -> None:
    _invite(alice_client)
    _sign_up(Client(), _link_path())

    response = Client().post("/accounts/login/", {"username": "dora", "password": NEW_PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/"
