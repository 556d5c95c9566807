"""A person logs in and sees the demo workspace's personas, served by the emulator."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from personas_app.devtools.emulator import EmulatorState
from tests.browser.conftest import login
from tests.builders import PASSWORD, persona_doc


def test_login_shows_the_workspace_persona_list(
    page: Page, live_server: Any, workspace: Any, tavus: EmulatorState
) -> None:
    tavus.put_persona(persona_doc(persona_name="Front Desk"))

    login(page, live_server, "alice", PASSWORD)

    expect(page.locator("h1")).to_have_text("Personas")
    expect(page.get_by_role("link", name="Front Desk")).to_be_visible()
    expect(page.locator("header")).to_contain_text("Acme")


def test_wrong_password_stays_on_login_with_a_message(
    page: Page, live_server: Any, alice: Any
) -> None:
    login(page, live_server, "alice", "not-the-password")

    expect(page.locator(".message-error")).to_contain_text("didn't match")
