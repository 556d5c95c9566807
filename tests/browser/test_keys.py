"""An admin manages Tavus API keys in a real browser; a viewer cannot reach the keys page."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import Role, Workspace
from tests.browser.conftest import login
from tests.builders import PASSWORD, make_member, make_user

pytestmark = pytest.mark.django_db(transaction=True)

ROTATED = "tvs-rotated-in-browser-8642"


def test_admin_adds_tests_and_rotates_a_key(
    page: Page, live_server: Any, workspace: Workspace, tavus: EmulatorState
) -> None:
    login(page, live_server, "alice", PASSWORD)
    page.get_by_role("link", name="API keys").click()
    expect(page.locator("h1")).to_have_text("Tavus API keys")

    page.get_by_label("Name").fill("backup")
    page.get_by_label("API key", exact=True).fill(tavus.api_key)
    page.get_by_role("button", name="Save key").click()

    row = page.locator("article.key-row", has=page.get_by_role("heading", name="backup"))
    expect(row).to_contain_text(f"…{tavus.api_key[-4:]}")
    expect(row).to_contain_text("Added by alice")
    expect(page.locator("#messages")).to_contain_text("Saved the key “backup”")
    expect(page.locator("body")).not_to_contain_text(tavus.api_key)
    assert page.locator(f"input[value='{tavus.api_key}']").count() == 0

    row.get_by_role("button", name="Test connection").click()
    expect(row.locator(".test-result")).to_contain_text("Works")

    row.locator("summary", has_text="Rotate").click()
    row.get_by_label("New API key for “backup”").fill(ROTATED)
    row.get_by_role("button", name="Replace secret").click()

    row = page.locator("article.key-row", has=page.get_by_role("heading", name="backup"))
    expect(row).to_contain_text("…8642")
    expect(row).to_contain_text("rotated")
    expect(page.locator("#messages")).to_contain_text("it now ends in …8642")
    expect(page.locator("body")).not_to_contain_text(ROTATED)
    assert workspace.api_keys.get(label="backup").last4 == "8642"


def test_viewer_sees_no_keys_link_and_gets_403_on_the_keys_page(
    page: Page, live_server: Any, workspace: Workspace
) -> None:
    make_member(workspace, make_user("vera"), Role.VIEWER)
    login(page, live_server, "vera", PASSWORD)

    expect(page.locator("nav.mainnav")).to_be_visible()
    expect(page.locator("nav.mainnav").get_by_role("link", name="API keys")).to_have_count(0)

    response = page.goto(f"{live_server.url}/w/acme/keys/")

    assert response is not None and response.status == 403
    expect(page.locator("main")).to_contain_text(
        "Only workspace admins can manage members, API keys and settings."
    )
