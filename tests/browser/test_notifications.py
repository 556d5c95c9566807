"""Notifications in a real browser: the bell's count, the list leading straight to the change,
marking read, the preferences form, and the Follow button (htmx), with no axe violation."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import PersonaFollow, Workspace
from personas_app.persona.redaction import redact
from personas_app.services.reviews import change_request_create
from tests.browser.conftest import login
from tests.browser.test_accessibility import violations_on
from tests.builders import PASSWORD, persona_doc

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def persona_id(tavus: EmulatorState) -> str:
    return tavus.put_persona(persona_doc())


def _propose(workspace: Workspace, bob: Any, persona_id: str, tavus: EmulatorState) -> int:
    live = redact(copy.deepcopy(tavus.personas[persona_id]))
    proposed = copy.deepcopy(live)
    proposed["context"] = "Acme sells garden tools and seeds."
    change = change_request_create(
        workspace=workspace,
        actor=bob,
        kind="edit",
        title="Seeds too",
        persona_id=persona_id,
        base=live,
        proposed=proposed,
        submit=True,
    )
    return change.pk


def test_the_bell_leads_to_the_change_waiting_for_review(
    page: Page,
    live_server: Any,
    workspace: Workspace,
    bob: Any,
    tavus: EmulatorState,
    persona_id: str,
) -> None:
    cr_id = _propose(workspace, bob, persona_id, tavus)
    login(page, live_server, "alice", PASSWORD)
    page.goto(f"{live_server.url}/w/acme/reviews/")

    bell = page.get_by_role("link", name="Notifications, 1 unread")
    expect(bell).to_be_visible()
    bell.click()
    expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    assert violations_on(page) == {}

    page.get_by_role("link", name=f"bob asked for a review of change #{cr_id} “Seeds too”").click()
    expect(page).to_have_url(f"{live_server.url}/w/acme/reviews/{cr_id}/")
    # Opening it marked it read.
    expect(page.get_by_role("link", name="Notifications, 0 unread")).to_be_visible()
    page.goto(f"{live_server.url}/notifications/")
    expect(page.get_by_role("button", name=re.compile("Mark read"))).to_have_count(0)


def test_preferences_page_saves_and_has_no_violation(
    page: Page, live_server: Any, workspace: Workspace
) -> None:
    login(page, live_server, "bob", PASSWORD)
    page.goto(f"{live_server.url}/notifications/preferences/")
    assert violations_on(page) == {}

    page.get_by_role("group", name="Your change was applied").get_by_label("Off").check()
    page.get_by_label("Send me one email a day").check()
    page.get_by_role("button", name="Save preferences").click()

    expect(page.get_by_text("Saved your notification preferences.")).to_be_visible()
    group = page.get_by_role("group", name="Your change was applied")
    expect(group.get_by_label("Off")).to_be_checked()
    expect(page.get_by_label("Send me one email a day")).to_be_checked()


def test_follow_button_toggles_in_place(
    page: Page, live_server: Any, workspace: Workspace, bob: Any, persona_id: str
) -> None:
    login(page, live_server, "bob", PASSWORD)
    page.goto(f"{live_server.url}/w/acme/personas/{persona_id}/")

    page.get_by_role("button", name="Follow", exact=True).click()

    expect(page.get_by_role("button", name="Following · Unfollow")).to_be_visible()
    assert PersonaFollow.objects.filter(user=bob, persona_id=persona_id).exists()
    assert violations_on(page) == {}
    page.get_by_role("button", name="Following · Unfollow").click()
    expect(page.get_by_role("button", name="Follow", exact=True)).to_be_visible()
    assert not PersonaFollow.objects.filter(user=bob, persona_id=persona_id).exists()
