"""The strict Content-Security-Policy breaks nothing: Chromium reports no violation on the main
pages, and htmx still works (the editor's live preview follows typing)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from playwright.sync_api import ConsoleMessage, Page, expect

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import ChangeRequest
from tests.browser.conftest import login
from tests.builders import PASSWORD, persona_doc
from tests.formdata import form_data, with_values

# Collects every violation the browser reports, from the first script on each page.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""

PAGES = [
    "/w/acme/",
    "/w/acme/personas/{persona_id}/",
    "/w/acme/personas/{persona_id}/edit/",
    "/w/acme/personas/new/",
    "/w/acme/reviews/",
    "/w/acme/reviews/{cr_id}/",
    "/w/acme/personas/{persona_id}/history/",
    "/w/acme/audit/",
    "/w/acme/keys/",
    "/w/acme/members/",
    "/w/acme/settings/",
    "/w/acme/conversations/",
]


@pytest.fixture
def violations(page: Page) -> list[str]:
    """CSP violations seen by the page: its own listener's and the console's reports."""
    found: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            found.append(message.text)

    page.add_init_script(RECORD_VIOLATIONS)
    page.on("console", on_console)
    return found


def _visit(page: Page, url: str, violations: list[str]) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    violations.extend(page.evaluate("window.__cspViolations"))


def _propose_a_change(alice: Any, persona_id: str) -> int:
    client = Client()
    client.force_login(alice)
    editor = client.get(f"/w/acme/personas/{persona_id}/edit/").content.decode()
    changed = {"identity-persona_name": "Front Desk 2", "submit": "propose"}
    client.post(f"/w/acme/personas/{persona_id}/edit/", with_values(form_data(editor), changed))
    return ChangeRequest.objects.get().pk


def test_the_main_pages_report_no_violation(
    page: Page,
    violations: list[str],
    live_server: Any,
    workspace: Any,
    alice: Any,
    tavus: EmulatorState,
) -> None:
    persona_id = tavus.put_persona(persona_doc(persona_name="Front Desk"))
    cr_id = _propose_a_change(alice, persona_id)
    _visit(page, f"{live_server.url}/accounts/login/", violations)
    _visit(page, f"{live_server.url}/admin/login/", violations)
    login(page, live_server, "alice", PASSWORD)

    for url in PAGES:
        _visit(page, live_server.url + url.format(persona_id=persona_id, cr_id=cr_id), violations)

    assert violations == []


def test_htmx_live_preview_still_follows_typing(
    page: Page, violations: list[str], live_server: Any, workspace: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(persona_doc(persona_name="Front Desk"))
    login(page, live_server, "bob", PASSWORD)
    _visit(page, f"{live_server.url}/w/acme/personas/{persona_id}/edit/", violations)

    page.fill("#id_stt-hotwords", "Kubernetes, Terraform")

    expect(page.locator("#preview")).to_contain_text("1 change will be sent")
    violations.extend(page.evaluate("window.__cspViolations"))
    assert violations == []


def test_a_blocked_inline_script_would_be_reported(
    page: Page, violations: list[str], live_server: Any, db: None
) -> None:
    """The check above can fail: an inline script the policy refuses is seen."""
    _visit(page, f"{live_server.url}/accounts/login/", violations)

    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.ran = true'; document.body.appendChild(s); }"
    )
    page.wait_for_timeout(200)
    violations.extend(page.evaluate("window.__cspViolations"))

    assert page.evaluate("window.ran === undefined")
    assert violations
