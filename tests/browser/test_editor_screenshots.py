"""Screenshots of the persona editor for docs/user-guide.md (docs/screenshots/). Skipped unless asked:

EDITOR_SCREENSHOTS=1 .venv/bin/python -m pytest -p no:cacheprovider tests/browser/test_editor_screenshots.py
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from personas_app.devtools.emulator import EmulatorState
from tests.browser.conftest import login
from tests.builders import PASSWORD, seed

pytestmark = pytest.mark.skipif(
    not os.environ.get("EDITOR_SCREENSHOTS"), reason="set EDITOR_SCREENSHOTS=1 to take them"
)
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(300)  # the last preview settled
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _idle(page: Page) -> None:
    page.wait_for_timeout(100)
    page.wait_for_function("() => !document.body.hasAttribute('aria-busy')")


def test_take_the_editor_screenshots(
    browser: Browser, live_server: Any, workspace: Any, tavus: EmulatorState
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    login(page, live_server, "bob", PASSWORD)

    page.get_by_role("link", name="New persona").click()
    _shot(page, "create-start")
    page.get_by_role("link", name="Interviewer").click()
    page.fill("#id_identity-persona_name", "Hiring Partner")
    _idle(page)
    _shot(page, "create-template")

    persona_id = tavus.put_persona(seed("create_life_coach"))
    page.goto(f"{live_server.url}/w/acme/personas/{persona_id}/edit/")
    page.fill("#id_stt-hotwords", "Maya, mindfulness, burnout")
    page.fill("#id_identity-context", "Clients are busy parents looking for small daily habits.")
    _idle(page)
    _shot(page, "edit-sections")

    page.fill("#id_llm-extra_body__temperature", "3")
    page.locator("#layer-llm").scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, 250)")
    expect(page.locator("#err-id_llm-extra_body__temperature")).not_to_be_empty()
    _shot(page, "edit-problem")
    page.fill("#id_llm-extra_body__temperature", "")

    page.click("#llm-tools-add")
    expect(page.locator("#llm-tools-1-label")).to_be_focused()
    page.keyboard.type("Book a session")
    page.fill("#llm-tools-1-description", "When the client agrees on a time for the next session.")
    page.fill("#llm-tools-1-p0-name", "start")
    page.fill("#llm-tools-1-p0-description", "Date and time, e.g. 2025-05-02 18:30")
    page.check("#llm-tools-1-p0-required")
    page.click("#llm-tools-1-addparam")
    page.keyboard.type("topics")
    page.select_option("#llm-tools-1-p1-type", "array")
    page.fill("#llm-tools-1-p1-items_enum", "sleep, stress, habits")
    _idle(page)
    page.locator("#llm-tools-1").evaluate("el => el.scrollIntoView({block: 'start'})")
    page.evaluate("window.scrollBy(0, -20)")
    _shot(page, "edit-tool")
    context.close()

    phone = browser.new_context(viewport={"width": 390, "height": 844})
    page = phone.new_page()
    login(page, live_server, "bob", PASSWORD)
    page.goto(f"{live_server.url}/w/acme/personas/{persona_id}/edit/")
    page.fill("#id_stt-hotwords", "Maya, mindfulness")
    _idle(page)
    page.locator("#layer-stt").evaluate("el => el.scrollIntoView({block: 'start'})")
    page.evaluate("window.scrollBy(0, -60)")
    _shot(page, "phone-edit")
    page.locator("#action-status .change-count").click()
    _shot(page, "phone-preview")
    phone.close()

    # Apply a change, then the persona's history and a revert.
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    login(page, live_server, "bob", PASSWORD)
    page.goto(f"{live_server.url}/w/acme/personas/{persona_id}/edit/")
    page.fill("#id_stt-hotwords", "Maya, mindfulness, burnout")
    _idle(page)
    page.get_by_role("button", name="Apply to Tavus").click()
    expect(page.locator(".message-success")).to_be_visible()
    page.get_by_role("link", name="History").first.click()
    _shot(page, "history")
    page.get_by_role("link", name="Revert to this version").last.click()
    _shot(page, "revert")
    context.close()
