"""A person creates a persona from a template, then edits it, watching the live preview."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from personas_app.devtools.emulator import EmulatorState
from tests.browser.conftest import login
from tests.builders import PASSWORD


def test_create_from_template_then_edit_one_field(
    page: Page, live_server: Any, workspace: Any, tavus: EmulatorState
) -> None:
    login(page, live_server, "bob", PASSWORD)
    page.get_by_role("link", name="New persona").click()
    page.get_by_role("link", name="Interviewer").click()

    page.fill("#id_identity-persona_name", "Hiring Partner")
    expect(page.locator("#payload-json")).to_contain_text('"persona_name": "Hiring Partner"')
    page.get_by_role("button", name="Create on Tavus").click()

    expect(page.locator(".message-success")).to_contain_text("Created “Hiring Partner” on Tavus.")
    expect(page.locator("h1")).to_have_text("Hiring Partner")
    page.get_by_role("link", name="Edit", exact=True).click()

    page.fill("#id_stt-hotwords", "Kubernetes, Terraform")
    expect(page.locator("#preview")).to_contain_text("1 change will be sent")
    expect(page.locator("#ops-json")).to_contain_text('"path": "/layers/stt"')
    page.get_by_role("button", name="Apply to Tavus").click()

    expect(page.locator(".message-success")).to_contain_text("Saved: 1 change sent to Tavus.")
    patches = [r.body for r in tavus.requests if r.method == "PATCH"]
    assert patches == [
        [{"op": "add", "path": "/layers/stt", "value": {"hotwords": "Kubernetes, Terraform"}}]
    ]
