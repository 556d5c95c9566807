"""A person links a staging persona to its production counterpart, compares the two and proposes
the change in production, in a real browser."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import ChangeRequest
from tests.browser.conftest import login
from tests.browser.test_accessibility import violations_on
from tests.builders import PASSWORD, STAGING_LLM_KEY, production_doc, staging_doc

pytestmark = pytest.mark.django_db(transaction=True)


def test_link_compare_and_propose_in_production(
    page: Page,
    live_server: Any,
    workspace: Any,
    production: Any,
    tavus: EmulatorState,
    prod_tavus: EmulatorState,
) -> None:
    here = tavus.put_persona(staging_doc())
    there = prod_tavus.put_persona(production_doc())
    login(page, live_server, "alice", PASSWORD)

    page.goto(f"{live_server.url}/w/acme/personas/{here}/")
    counterparts = page.locator(".counterparts")
    expect(counterparts).to_contain_text("Not linked to a persona in another workspace.")
    counterparts.get_by_role("link", name="Link to a counterpart in another workspace…").click()

    page.get_by_label("Other workspace").select_option(label="Production")
    page.get_by_role("button", name="Next").click()
    assert violations_on(page) == {}
    page.get_by_label("Counterpart persona").select_option(there)
    page.get_by_label("Replica ids").fill("r90bbd427f71 = rf4e9d9790f0")
    page.get_by_role("button", name="Link the two personas").click()

    expect(page.locator(".messages")).to_contain_text("Linked to its counterpart in “Production”")
    assert violations_on(page) == {}
    page.locator(".counterparts").get_by_role("link", name="Compare with Production").click()
    expect(page.locator("h1")).to_have_text("Compare with Production")
    expect(page.locator(".secrets-note")).to_contain_text("Production keeps its own")
    expect(page.locator("table.diff").first).to_contain_text("rf4e9d9790f0")
    assert STAGING_LLM_KEY not in page.content()
    assert violations_on(page) == {}

    page.get_by_role("button", name="Propose in Production").click()
    change = ChangeRequest.objects.get()
    expect(page).to_have_url(re.compile(rf"/w/production/reviews/{change.pk}/$"))
    expect(page.locator("h1")).to_contain_text("Promote Support Agent from Acme")
    assert prod_tavus.count(method="PATCH") == 0  # proposed, not applied
