"""A person edits a persona, finds the version in its history, reverts to the first one, sees both."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from personas_app.devtools.emulator import EmulatorState
from tests.browser.conftest import login
from tests.builders import PASSWORD, persona_doc

pytestmark = pytest.mark.django_db(transaction=True)


def test_edit_then_revert_from_the_history_timeline(
    page: Page, live_server: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc(persona_name="Front Desk"))
    login(page, live_server, "bob", PASSWORD)

    # Edit the name in the persona editor and apply it.
    page.goto(f"{live_server.url}/w/acme/personas/{persona_id}/edit/")
    page.locator("#id_identity-persona_name").fill("Night Desk")
    page.get_by_role("button", name="Apply to Tavus").click()
    expect(page).to_have_url(re.compile(rf"/personas/{persona_id}/$"))

    # The history shows the edit, with the per-layer diff.
    page.get_by_role("link", name="History").first.click()
    expect(page.locator("h1")).to_have_text("History of Night Desk")
    entries = page.locator("ol.timeline > li")
    expect(entries).to_have_count(2)
    newest = entries.nth(0)
    expect(newest.locator(".version-title")).to_have_text("Changed")
    expect(newest.locator("table.diff")).to_contain_text("Persona name")
    expect(newest.locator("table.diff")).to_contain_text("Front Desk")
    expect(newest.locator("table.diff")).to_contain_text("Night Desk")

    # Revert to the first version: preview first, then confirm.
    entries.nth(1).get_by_role("link", name="Revert to this version").click()
    expect(page.locator(".secrets-note")).to_contain_text(
        "Secret fields (API keys) are not part of history; they keep their current values"
    )
    expect(page.locator("table.diff")).to_contain_text("Front Desk")
    page.get_by_role("button", name="Revert now").click()

    # Back on the history: both the edit and the revert are in the timeline.
    expect(page.locator(".messages")).to_contain_text("Reverted to the version from")
    expect(page.locator("h1")).to_have_text("History of Front Desk")
    expect(entries).to_have_count(3)
    expect(entries.nth(0).locator(".version-title")).to_have_text("Reverted")
    expect(entries.nth(0)).to_contain_text("Last known version")
    expect(entries.nth(1).locator(".version-title")).to_have_text("Changed")
    assert tavus.personas[persona_id]["persona_name"] == "Front Desk"
    assert tavus.count(method="PATCH") == 2
