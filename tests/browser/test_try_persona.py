"""A person edits a persona, tries it (Try it on its page), sees the join link and status, ends it."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Dialog, Page, expect

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import AuditEvent, Conversation
from tests.browser.conftest import login
from tests.builders import PASSWORD, persona_doc


def _accept(dialog: Dialog) -> None:
    dialog.accept()


def test_edit_a_persona_try_it_see_the_link_and_end_it(
    page: Page, live_server: Any, workspace: Any, tavus: EmulatorState, transactional_db: None
) -> None:
    persona_id = tavus.put_persona(persona_doc(persona_name="Front Desk"))
    login(page, live_server, "bob", PASSWORD)

    page.goto(f"{live_server.url}/w/acme/personas/{persona_id}/edit/")
    page.fill('[name="identity-context"]', "Acme sells garden tools and seeds.")
    page.get_by_role("button", name="Apply to Tavus").click()
    expect(page).to_have_url(f"{live_server.url}/w/acme/personas/{persona_id}/")
    expect(page.get_by_role("heading", name="Front Desk", exact=True)).to_be_visible()
    assert tavus.personas[persona_id]["context"] == "Acme sells garden tools and seeds."

    page.get_by_role("button", name="Try it").click()

    join = page.get_by_role("link", name="Join the conversation")
    expect(join).to_be_visible()
    expect(join).to_have_attribute("target", "_blank")
    conversation = Conversation.objects.get()
    expect(join).to_have_attribute("href", conversation.conversation_url)
    expect(page.locator("#conversation-status")).to_contain_text("Running")
    expect(page.locator("#messages")).to_contain_text("Conversation started")
    assert conversation.conversation_name == "Test of Front Desk by bob"
    assert tavus.conversations[conversation.conversation_id]["replica_id"] == "r90bbd427f71"

    page.once("dialog", _accept)
    page.get_by_role("button", name="End conversation").click()

    expect(page.locator("#conversation-status")).to_contain_text("Ended")
    expect(page.get_by_role("link", name="Join the conversation")).to_have_count(0)
    assert tavus.conversations[conversation.conversation_id]["status"] == "ended"
    assert not Conversation.objects.get().is_active
    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True))[-2:] == [
        "conversation.started",
        "conversation.ended",
    ]


def test_try_with_options_sends_the_greeting(
    page: Page, live_server: Any, workspace: Any, tavus: EmulatorState, transactional_db: None
) -> None:
    persona_id = tavus.put_persona(persona_doc(persona_name="Front Desk"))
    login(page, live_server, "bob", PASSWORD)

    page.goto(f"{live_server.url}/w/acme/personas/{persona_id}/try/")
    expect(page.get_by_label("Conversation name")).to_have_value("Test of Front Desk by bob")
    page.get_by_label("Custom greeting (optional)").fill("Hello, this is a test.")
    page.get_by_role("button", name="Start conversation").click()

    expect(page.get_by_role("link", name="Join the conversation")).to_be_visible()
    conversation = Conversation.objects.get()
    assert tavus.conversations[conversation.conversation_id]["custom_greeting"] == (
        "Hello, this is a test."
    )


def test_status_updates_by_itself_when_the_call_ends_on_tavus(
    page: Page, live_server: Any, workspace: Any, tavus: EmulatorState, transactional_db: None
) -> None:
    persona_id = tavus.put_persona(persona_doc(persona_name="Front Desk"))
    login(page, live_server, "bob", PASSWORD)
    page.goto(f"{live_server.url}/w/acme/personas/{persona_id}/try/")
    page.get_by_role("button", name="Start conversation").click()
    expect(page.locator("#conversation-status")).to_contain_text("Running")

    conversation = Conversation.objects.get()
    tavus.conversations[conversation.conversation_id]["status"] = "ended"

    # The fragment polls every 5 seconds.
    expect(page.locator("#conversation-status")).to_contain_text("Ended", timeout=12_000)


def test_concurrency_limit_explained_with_a_link_and_the_form_kept(
    page: Page, live_server: Any, workspace: Any, tavus: EmulatorState, transactional_db: None
) -> None:
    persona_id = tavus.put_persona(persona_doc(persona_name="Front Desk"))
    tavus.max_concurrent_conversations = 0
    login(page, live_server, "bob", PASSWORD)

    page.goto(f"{live_server.url}/w/acme/personas/{persona_id}/try/")
    page.get_by_label("Conversation name").fill("My careful test")
    page.get_by_role("button", name="Start conversation").click()

    alert = page.locator(".concurrency-limit")
    expect(alert).to_contain_text("Tavus allows only a limited number of conversations at once")
    expect(page.get_by_label("Conversation name")).to_have_value("My careful test")
    alert.get_by_role("link", name="Conversations page").click()
    expect(page.locator("h1")).to_have_text("Conversations")


def test_end_all_mine_from_the_conversations_page(
    page: Page, live_server: Any, workspace: Any, tavus: EmulatorState, transactional_db: None
) -> None:
    persona_id = tavus.put_persona(persona_doc(persona_name="Front Desk"))
    login(page, live_server, "bob", PASSWORD)
    for _ in range(2):
        page.goto(f"{live_server.url}/w/acme/personas/{persona_id}/try/")
        page.get_by_role("button", name="Start conversation").click()
        expect(page.get_by_role("link", name="Join the conversation")).to_be_visible()

    page.goto(f"{live_server.url}/w/acme/conversations/")
    expect(page.locator("table.conversations-active tbody tr")).to_have_count(2)
    page.once("dialog", _accept)
    page.get_by_role("button", name="End all mine (2)").click()

    expect(page.locator("#conversations")).to_contain_text("Ended 2 conversations you started.")
    expect(page.locator("table.conversations-active")).to_contain_text(
        "No conversations are running"
    )
    assert Conversation.objects.filter(ended_at__isnull=True).count() == 0
