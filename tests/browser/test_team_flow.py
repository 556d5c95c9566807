"""A team in a real browser, from an invitation to an approved change: alice invites dora as a
Reviewer, dora accepts from the emailed link and creates her account, bob proposes a change in the
editor, dora's bell shows the review request, she opens it from her notifications and approves,
and bob is told of the approval. Tavus is the emulator; nothing reaches it before the approval."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import ChangeRequest, ChangeStatus, Membership, Role
from tests.browser.conftest import login
from tests.builders import PASSWORD, persona_doc

pytestmark = pytest.mark.django_db(transaction=True)

LINK = re.compile(r"https?://\S+/invitations/[\w-]+/")


def test_invite_accept_review_request_notification_approve(
    page: Page, second_page: Page, live_server: Any, workspace: Any, tavus: EmulatorState
) -> None:
    workspace.requires_approval = True
    workspace.save()
    persona_id = tavus.put_persona(persona_doc(persona_name="Front Desk"))

    # alice (admin) invites dora as a Reviewer.
    login(page, live_server, "alice", PASSWORD)
    page.goto(f"{live_server.url}/w/acme/members/")
    page.fill("#id_invitation-email", "dora@example.com")
    page.select_option("#id_invitation-role", "reviewer")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator("#invitations-area")).to_contain_text("Pending")
    match = LINK.search(mail.outbox[-1].body)
    assert match is not None
    page.get_by_role("button", name="Log out").click()

    # dora opens the link, creates her account and lands in the workspace.
    second_page.goto(match.group(0))
    second_page.fill("#id_username", "dora")
    second_page.fill("#id_password1", "plum-orchard-lantern-42")
    second_page.fill("#id_password2", "plum-orchard-lantern-42")
    second_page.get_by_role("button", name="Create account and join").click()
    expect(second_page.locator("#messages")).to_contain_text("You joined as Reviewer.")
    assert Membership.objects.get(workspace=workspace, user__username="dora").role == Role.REVIEWER
    expect(second_page.locator("a.bell")).to_have_attribute("aria-label", "Notifications, 0 unread")

    # bob proposes a change from the persona editor.
    login(page, live_server, "bob", PASSWORD)
    page.goto(f"{live_server.url}/w/acme/personas/{persona_id}/edit/")
    page.fill("#id_identity-system_prompt", "Greet visitors warmly and keep answers short.")
    expect(page.locator("#preview")).to_contain_text("1 change will be sent")
    page.fill("input[name=cr_title]", "Warmer greeting")
    page.get_by_role("button", name="Propose change for review").click()
    expect(page.locator(".review-status")).to_have_text("Waiting for review")
    cr = ChangeRequest.objects.get()

    # dora's bell shows the request; she opens it from her notifications and approves.
    second_page.reload()
    expect(second_page.locator("a.bell")).to_have_attribute("aria-label", "Notifications, 1 unread")
    second_page.locator("a.bell").click()
    request_link = second_page.get_by_role(
        "link", name=f"bob asked for a review of change #{cr.pk} “Warmer greeting”"
    )
    expect(request_link).to_be_visible()
    request_link.click()
    expect(second_page.locator("h1")).to_contain_text("Warmer greeting")
    expect(second_page.locator("a.bell")).to_have_attribute("aria-label", "Notifications, 0 unread")
    second_page.get_by_label("Approve: it can go live").check()
    second_page.get_by_role("button", name="Send review").click()
    expect(second_page.locator("#review-state .review-status")).to_have_text("Approved")
    cr.refresh_from_db()
    assert cr.status == ChangeStatus.APPROVED
    assert tavus.count("PATCH") == 0  # approved, not yet applied

    # bob is told of the approval.
    page.reload()
    expect(page.locator("a.bell")).to_have_attribute("aria-label", "Notifications, 1 unread")
    page.locator("a.bell").click()
    expect(page.locator("#notification-list")).to_contain_text(
        f"dora approved change #{cr.pk} “Warmer greeting”"
    )
