"""A person signs in with the company's identity provider in a real browser: the button on the login
page, the provider (tests/oidc_provider.py on a loopback port), back to their workspaces, with no
Content-Security-Policy violation on the way."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.builders import make_workspace
from tests.oidc_provider import RunningProvider, configure, start_provider


@pytest.fixture
def provider(settings: Any) -> Iterator[RunningProvider]:
    running = start_provider()
    configure(settings, running)
    yield running
    running.stop()


def test_signing_in_with_the_provider_lands_on_the_workspaces_its_groups_give(
    page: Page, live_server: Any, provider: RunningProvider, alice: Any
) -> None:
    make_workspace(owner=alice, base_url="", api_key=None, name="Staging", slug="staging")
    provider.state.sign_in_as("dana@example.com", groups=["staging-editors"])
    violations: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    page.on("console", on_console)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_role("link", name="Sign in with Test IdP").click()

    # Home sends a person with one workspace straight to it.
    page.wait_for_url(f"{live_server.url}/w/staging/")
    expect(page.locator("header")).to_contain_text("Staging")
    expect(page.locator("header")).to_contain_text("dana")
    assert violations == []


def test_a_provider_that_is_down_is_a_message_on_the_login_page(
    page: Page, live_server: Any, provider: RunningProvider, db: None
) -> None:
    provider.stop()
    page.goto(f"{live_server.url}/accounts/login/")

    page.get_by_role("link", name="Sign in with Test IdP").click()

    expect(page.locator(".message-error")).to_contain_text("Test IdP could not be reached")
    expect(page.locator("#id_username")).to_be_visible()
