"""axe-core finds no accessibility violation on the dashboard's main pages.

The pages are filled first (a persona with every kind of setting, a version history, a change
request waiting for review, a running and an ended conversation), so the checks see tables,
lists, forms and disclosures rather than empty states. tests/browser/test_phones.py reuses this
data and these pages.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import AuditEvent, Workspace
from personas_app.persona.redaction import redact
from personas_app.services.conversations import conversation_end, conversation_start
from personas_app.services.personas import persona_safe_apply
from personas_app.services.review_rules import review_rule_add
from personas_app.services.reviews import change_request_create
from tests.browser.conftest import login
from tests.builders import PASSWORD, persona_doc

pytestmark = pytest.mark.django_db(transaction=True)

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Look up the weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city to look up"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}


def rich_persona() -> dict[str, Any]:
    """A persona with a setting of every shape: nested objects, secrets, tools, lists."""
    return persona_doc(
        persona_name="Front Desk",
        layers={
            "llm": {
                "model": "tavus-gpt-oss",
                "base_url": "https://llm.example.com/v1",
                "api_key": "sk-llm-secret-0001",
                "speculative_inference": True,
                "headers": {"Authorization": "Bearer header-secret-0002", "X-Team": "support"},
                "extra_body": {"temperature": 0.7, "top_p": 0.9},
                "tools": [WEATHER_TOOL],
            },
            "tts": {
                "tts_engine": "elevenlabs",
                "external_voice_id": "voice-123",
                "voice_settings": {"speed": 0.9, "stability": 0.5, "use_speaker_boost": True},
            },
            "stt": {"stt_engine": "tavus-auto", "hotwords": "Acme, trowel"},
            "perception": {
                "perception_model": "raven-1",
                "visual_awareness_queries": ["Is the user holding a tool?"],
                "audio_awareness_queries": ["Does the user sound frustrated?", "Are they rushed?"],
            },
            "conversational_flow": {
                "turn_detection_model": "sparrow-1",
                "turn_taking_patience": "medium",
                "replica_interruptibility": "high",
            },
        },
    )


@dataclass(frozen=True)
class Seeded:
    """The ids the page URLs need."""

    persona_id: str
    cr_id: int
    conversation_id: str
    version_id: int

    def url(self, path: str) -> str:
        return path.format(
            persona_id=self.persona_id,
            cr_id=self.cr_id,
            conversation_id=self.conversation_id,
            version_id=self.version_id,
        )


def seed_pages(*, workspace: Workspace, alice: Any, bob: Any, tavus: EmulatorState) -> Seeded:
    """Something on every main page, made through the services as the pages would make it."""
    persona_id = tavus.put_persona(rich_persona())
    live = copy.deepcopy(tavus.personas[persona_id])
    edited = copy.deepcopy(live)
    edited["context"] = "Acme sells garden tools and seeds."
    applied = persona_safe_apply(
        workspace=workspace, persona_id=persona_id, base=live, proposed=edited, actor=bob
    )
    assert applied.outcome is not None
    live = copy.deepcopy(tavus.personas[persona_id])
    proposed = copy.deepcopy(live)
    proposed["persona_name"] = "Front Desk 2"
    proposed["layers"]["stt"]["hotwords"] = "Acme, trowel, rake"
    # A required-reviewer rule the change triggers: its box on the review page, its row in settings.
    review_rule_add(
        workspace=workspace, actor=alice, pointer="/layers/stt", reviewer_ids=[], role="admin"
    )
    change = change_request_create(
        workspace=workspace,
        actor=bob,
        kind="edit",
        title="Rename the front desk",
        persona_id=persona_id,
        persona_name="Front Desk",
        base=redact(live),
        proposed=redact(proposed),
        submit=True,
    )
    running = conversation_start(workspace=workspace, persona_id=persona_id, actor=alice)
    ended = conversation_start(workspace=workspace, persona_id=persona_id, actor=bob)
    conversation_end(workspace=workspace, conversation=ended, actor=bob)
    version = AuditEvent.objects.filter(persona_id=persona_id, action="persona.patched").get()
    return Seeded(persona_id, change.pk, running.conversation_id, version.pk)


# Every main page a member reads, by a short name; the editor pages are apart.
PAGES: dict[str, str] = {
    "persona list": "/w/acme/",
    "persona detail": "/w/acme/personas/{persona_id}/",
    "review queue": "/w/acme/reviews/",
    "review": "/w/acme/reviews/{cr_id}/",
    "history": "/w/acme/personas/{persona_id}/history/",
    "version": "/w/acme/personas/{persona_id}/history/{version_id}/",
    "audit": "/w/acme/audit/",
    "keys": "/w/acme/keys/",
    "members": "/w/acme/members/",
    "conversations": "/w/acme/conversations/",
    "conversation": "/w/acme/conversations/{conversation_id}/",
    "settings": "/w/acme/settings/",
}
EDITOR_PAGES: dict[str, str] = {
    "edit": "/w/acme/personas/{persona_id}/edit/",
    "create": "/w/acme/personas/new/",
}


@pytest.fixture
def seeded(workspace: Workspace, alice: Any, bob: Any, tavus: EmulatorState) -> Seeded:
    return seed_pages(workspace=workspace, alice=alice, bob=bob, tavus=tavus)


_axe = Axe()


def violations_on(page: Page) -> dict[str, list[str]]:
    """axe-core's violations on the page as it stands: {rule id: [the offending elements]}."""
    results = _axe.run(page)
    return {
        v["id"]: [" ".join(node["target"][-1:]) for node in v["nodes"]]
        for v in results.response["violations"]
    }


def _open(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")


def _unfold(page: Page) -> None:
    """Open every disclosure ("What is this?", JSON, comment forms): axe skips hidden content."""
    page.evaluate("document.querySelectorAll('details').forEach((d) => { d.open = true; })")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(100)  # htmx swaps what a toggle loaded after the response


def test_the_login_page_has_no_violation(page: Page, live_server: Any, db: None) -> None:
    _open(page, f"{live_server.url}/accounts/login/")

    assert violations_on(page) == {}


@pytest.mark.parametrize("name", list(PAGES))
def test_the_main_pages_have_no_violation(
    page: Page, live_server: Any, seeded: Seeded, name: str
) -> None:
    login(page, live_server, "alice", PASSWORD)
    _open(page, live_server.url + seeded.url(PAGES[name]))
    folded = violations_on(page)
    _unfold(page)

    assert (folded, violations_on(page)) == ({}, {})


@pytest.mark.parametrize("name", list(EDITOR_PAGES))
def test_the_editor_pages_have_no_violation(
    page: Page, live_server: Any, seeded: Seeded, name: str
) -> None:
    login(page, live_server, "alice", PASSWORD)
    _open(page, live_server.url + seeded.url(EDITOR_PAGES[name]))
    folded = violations_on(page)
    _unfold(page)

    assert (folded, violations_on(page)) == ({}, {})


def test_a_skip_link_is_the_first_thing_a_keyboard_reaches(
    page: Page, live_server: Any, seeded: Seeded
) -> None:
    login(page, live_server, "alice", PASSWORD)
    _open(page, live_server.url + seeded.url(PAGES["persona detail"]))

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")

    assert page.evaluate("document.querySelector('main').contains(document.activeElement)")


def test_the_keyboard_focus_is_clearly_outlined(
    page: Page, live_server: Any, seeded: Seeded
) -> None:
    login(page, live_server, "alice", PASSWORD)
    _open(page, live_server.url + seeded.url(PAGES["persona detail"]))

    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # past the skip link, onto the first link of the navigation
    outline = page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, parseFloat(s.outlineWidth)]; })()"
    )

    assert outline[0] != "none" and outline[1] >= 2
