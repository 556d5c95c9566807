"""An invitation in a real browser: alice invites from the Members page (htmx), the invited person
opens the emailed link in another browser, creates an account and lands in the workspace. The
pages they see pass axe and break no Content-Security-Policy rule."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from playwright.sync_api import Browser, Page, expect

from personas_app.models import Membership, Role, Workspace
from tests.browser.conftest import login
from tests.browser.test_accessibility import violations_on
from tests.builders import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

LINK = re.compile(r"https?://\S+/invitations/[\w-]+/")


def _csp_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on(
        "console",
        lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    return errors


def test_an_invited_person_goes_from_the_email_to_the_workspace(
    page: Page, browser: Browser, live_server: Any, workspace: Workspace
) -> None:
    login(page, live_server, "alice", PASSWORD)
    page.goto(f"{live_server.url}/w/acme/members/")
    page.fill("#id_invitation-email", "dora@example.com")
    page.select_option("#id_invitation-role", "reviewer")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator("#messages")).to_contain_text("Invited dora@example.com as Reviewer")
    expect(page.locator("#invitations-area")).to_contain_text("Pending")
    assert violations_on(page) == {}
    match = LINK.search(mail.outbox[-1].body)
    assert match is not None

    visitor = browser.new_context().new_page()
    csp_errors = _csp_errors(visitor)
    visitor.goto(match.group(0))
    expect(visitor.get_by_role("heading", name="Join Acme")).to_be_visible()
    assert violations_on(visitor) == {}
    visitor.fill("#id_username", "dora")
    visitor.fill("#id_password1", "plum-orchard-lantern-42")
    visitor.fill("#id_password2", "plum-orchard-lantern-42")
    visitor.get_by_role("button", name="Create account and join").click()

    expect(visitor.locator("#messages")).to_contain_text("Welcome to Acme! You joined as Reviewer.")
    assert visitor.url.endswith("/w/acme/")
    assert Membership.objects.get(workspace=workspace, user__username="dora").role == Role.REVIEWER
    assert csp_errors == []
    visitor.context.close()


def test_the_password_reset_page_has_no_violation(page: Page, live_server: Any, db: None) -> None:
    csp_errors = _csp_errors(page)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_role("link", name="Forgot your password?").click()

    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    assert violations_on(page) == {}
    assert csp_errors == []
