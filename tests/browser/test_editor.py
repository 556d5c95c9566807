"""The persona editor in Chromium: a section menu with counts, an action bar always in view, rows added
and removed without a reload (scroll, focus and typed secrets kept), problems shown next to their fields
as you type and gone when fixed, nested tool parameters that round-trip between rows and JSON, a phone
layout with the preview before the action, and a warning before a draft is lost."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from bench.docs import large_persona
from personas_app.devtools.emulator import EmulatorState
from tests.browser.conftest import login
from tests.builders import PASSWORD, persona_doc


def _open(page: Page, live_server: Any, persona_id: str) -> None:
    login(page, live_server, "bob", PASSWORD)
    page.goto(f"{live_server.url}/w/acme/personas/{persona_id}/edit/")
    page.wait_for_load_state("networkidle")
    # A full navigation would drop this marker: actions must not navigate.
    page.evaluate("window.__sameDocument = true")


def _still_same_document(page: Page) -> bool:
    return bool(page.evaluate("window.__sameDocument === true"))


def _in_viewport(page: Page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    size = page.viewport_size
    assert box is not None and size is not None
    return box["y"] >= 0 and box["y"] + box["height"] <= size["height"] + 1


def _scroll_y(page: Page) -> float:
    return float(page.evaluate("window.scrollY"))


def _focused_id(page: Page) -> str:
    return str(page.evaluate("document.activeElement ? document.activeElement.id : ''"))


def _center(page: Page, selector: str) -> None:
    """Scroll so the element sits in the middle of the window, and let the scroll settle."""
    page.locator(selector).evaluate("el => el.scrollIntoView({block: 'center'})")
    page.wait_for_timeout(100)


def _patches(tavus: EmulatorState) -> list[Any]:
    return [r.body for r in tavus.requests if r.method == "PATCH"]


@pytest.fixture
def large_id(tavus: EmulatorState) -> str:
    return tavus.put_persona(large_persona(tools=12, visual_queries=10))


@pytest.fixture
def custom_llm_id(tavus: EmulatorState) -> str:
    doc = persona_doc()
    doc["layers"]["llm"].update(
        model="my-model",
        base_url="https://llm.example.com/v1",
        api_key="sk-stored-0001",
        headers={"X-Team": "hdr-stored-0002"},
        tools=[
            {
                "type": "function",
                "function": {
                    "name": "get_order",
                    "description": "Look an order up.",
                    "parameters": {
                        "type": "object",
                        "properties": {
                            "order_id": {"type": "string"},
                            "lines": {"type": "integer"},
                        },
                        "required": ["order_id"],
                    },
                },
            }
        ],
    )
    return tavus.put_persona(doc)


def test_the_action_bar_is_in_view_at_the_top_middle_and_bottom_of_a_long_page(
    page: Page, live_server: Any, workspace: Any, large_id: str
) -> None:
    _open(page, live_server, large_id)
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height > 3 * 900  # a long page

    for y in (0, height // 2, height):
        page.evaluate(f"window.scrollTo(0, {y})")
        page.wait_for_timeout(100)
        assert _in_viewport(page, ".action-bar"), y
        expect(page.get_by_role("button", name="Apply to Tavus")).to_be_in_viewport()
    # Wide screens keep the preview beside the form, wherever the page is scrolled to.
    assert _in_viewport(page, ".preview-head")


def test_rows_are_added_and_removed_in_place_keeping_scroll_focus_and_typed_secrets(
    page: Page, live_server: Any, workspace: Any, tavus: EmulatorState, custom_llm_id: str
) -> None:
    _open(page, live_server, custom_llm_id)
    page.locator("#id_llm-api_key").press_sequentially("sk-typed-NEW")
    page.locator("[name=llm-headers-value]").first.press_sequentially("hdr-typed-NEW")

    # A header row: appended, its name box focused, the scroll where it was.
    _center(page, "#llm-headers-add")
    before = _scroll_y(page)
    page.click("#llm-headers-add")
    new_key = page.locator("[name=llm-headers-key]").nth(1)
    expect(new_key).to_be_focused()
    assert abs(_scroll_y(page) - before) < 2
    new_key.press_sequentially("X-Extra")
    page.locator("[name=llm-headers-value]").nth(1).press_sequentially("hdr-extra-NEW")

    # A parameter row of an open tool: the same.
    page.click("#llm-tools-0-edit")
    expect(page.locator("#llm-tools-0-name")).to_be_focused()
    _center(page, "#llm-tools-0-addparam")
    before = _scroll_y(page)
    page.click("#llm-tools-0-addparam")
    expect(page.locator("#llm-tools-0-p2-name")).to_be_focused()
    assert abs(_scroll_y(page) - before) < 2
    page.keyboard.type("currency")

    # Removing rows: the next control takes the focus; the page stays where it was (the browser's
    # scroll anchoring may move it by the removed row's height, so the rows below stay put on screen).
    before = _scroll_y(page)
    row_height = page.locator("#llm-tools-0-p1").bounding_box()["height"]  # type: ignore[index]
    page.locator("#llm-tools-0-p1 .prow-remove button").click()
    expect(page.locator("#llm-tools-0-p1-name")).to_have_value("currency")
    expect(page.locator("#llm-tools-0-p1-name")).to_be_focused()
    expect(page.locator("#llm-tools-0-p1-name")).to_be_in_viewport()
    assert abs(_scroll_y(page) - before) <= row_height + 2
    page.locator("[name=llm-headers-key]").nth(1).evaluate(
        "el => el.scrollIntoView({block: 'center'})"
    )
    page.locator("#llm-headers .row").nth(1).get_by_role("button", name="Remove").click()
    expect(page.locator("[name=llm-headers-key]")).to_have_count(1)
    expect(page.locator("#llm-headers-add")).to_be_focused()

    # Nothing typed was lost, write-only secrets included, and nothing navigated.
    assert page.input_value("#id_llm-api_key") == "sk-typed-NEW"
    assert page.locator("[name=llm-headers-value]").first.input_value() == "hdr-typed-NEW"
    assert _still_same_document(page)
    for secret in ("sk-typed-NEW", "hdr-typed-NEW", "hdr-extra-NEW"):
        assert secret not in page.content().replace('value=""', "")

    page.get_by_role("button", name="Apply to Tavus").click()
    expect(page.locator(".message-success")).to_contain_text("sent to Tavus")
    llm = tavus.personas[custom_llm_id]["layers"]["llm"]
    assert llm["api_key"] == "sk-typed-NEW" and llm["headers"] == {"X-Team": "hdr-typed-NEW"}
    assert list(llm["tools"][0]["function"]["parameters"]["properties"]) == ["order_id", "currency"]


def test_the_voice_engine_choice_keeps_a_typed_voice_key(
    page: Page, live_server: Any, workspace: Any, custom_llm_id: str
) -> None:
    _open(page, live_server, custom_llm_id)
    page.locator("#id_tts-api_key").press_sequentially("voice-key-NEW")

    page.select_option("#id_tts-tts_engine", "elevenlabs")

    expect(page.locator("#tts-voice-settings details[open] summary")).to_contain_text("ElevenLabs")
    assert page.input_value("#id_tts-api_key") == "voice-key-NEW"
    assert _still_same_document(page)


def test_problems_show_next_to_their_fields_as_you_type_and_go_when_fixed(
    page: Page, live_server: Any, workspace: Any, custom_llm_id: str
) -> None:
    _open(page, live_server, custom_llm_id)
    temperature = page.locator("#err-id_llm-extra_body__temperature")

    page.fill("#id_llm-extra_body__temperature", "5")
    expect(temperature).to_have_text("Temperature: Use a number from 0 to 2.")
    expect(page.locator("#id_llm-extra_body__temperature")).to_have_attribute(
        "aria-invalid", "true"
    )

    page.click("#llm-tools-0-edit")
    page.fill("#llm-tools-0-name", "get order")
    name_slot = page.locator("#err-llm-tools-0-name")
    expect(name_slot).to_contain_text("Tool name: Tool names may use only letters")
    # Both at once, each linked from the summary.
    summary = page.locator("#problem-summary")
    expect(summary.locator("a")).to_have_count(2)
    expect(page.locator("#action-status")).to_contain_text("2 problems to fix")
    before = _scroll_y(page)
    # The list is beside the form already: the link focuses it without moving the page. (A
    # dispatched click: Playwright's own would first scroll the sticky bar's static place into view.)
    page.locator("#action-status .problem-count").dispatch_event("click")
    expect(summary).to_be_focused()
    assert abs(_scroll_y(page) - before) < 2
    summary.get_by_role("link", name="Tools > #1 (get order) > Tool name").click()
    expect(page.locator("#llm-tools-0-name")).to_be_focused()

    page.fill("#id_llm-extra_body__temperature", "0.4")
    page.fill("#llm-tools-0-name", "get_order_status")
    expect(temperature).to_be_empty()
    expect(name_slot).to_be_empty()
    expect(summary).to_have_count(0)
    expect(page.locator("#id_llm-extra_body__temperature")).not_to_have_attribute(
        "aria-invalid", "true"
    )
    assert _still_same_document(page)


def test_a_nested_list_parameter_round_trips_between_rows_and_json(
    page: Page, live_server: Any, workspace: Any, tavus: EmulatorState, custom_llm_id: str
) -> None:
    _open(page, live_server, custom_llm_id)
    page.click("#llm-tools-add")
    expect(page.locator("#llm-tools-1-label")).to_be_focused()
    page.keyboard.type("Book rooms")
    expect(page.locator("#llm-tools-1-name")).to_have_value("book_rooms")
    page.fill("#llm-tools-1-description", "Book rooms for a group.")
    page.fill("#llm-tools-1-p0-name", "rooms")
    page.select_option("#llm-tools-1-p0-type", "array")
    expect(page.locator("#llm-tools-1-p0-enum")).to_be_hidden()  # no allowed values on a list
    page.select_option("#llm-tools-1-p0-items_type", "object")
    page.locator("#llm-tools-1-p0").get_by_role("button", name="Add a field").click()
    expect(page.locator("#llm-tools-1-p0-f0-name")).to_be_focused()
    page.keyboard.type("beds")
    page.select_option("#llm-tools-1-p0-f0-type", "integer")
    page.fill("#llm-tools-1-p0-f0-enum", "1, 2")
    page.check("#llm-tools-1-p0-f0-required")

    page.locator("#llm-tools-1").get_by_role("button", name="Edit as JSON").click()
    text = page.locator("#llm-tools-1-json")
    expect(text).to_be_focused()
    tool = json.loads(text.input_value())
    assert tool == {
        "type": "function",
        "function": {
            "name": "book_rooms",
            "description": "Book rooms for a group.",
            "parameters": {
                "type": "object",
                "properties": {
                    "rooms": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"beds": {"type": "integer", "enum": [1, 2]}},
                            "required": ["beds"],
                        },
                    }
                },
            },
        },
    }

    page.locator("#llm-tools-1").get_by_role("button", name="Edit as rows").click()
    expect(page.locator("#llm-tools-1-p0-items_type")).to_have_value("object")
    expect(page.locator("#llm-tools-1-p0-f0-name")).to_have_value("beds")
    expect(page.locator("#llm-tools-1-p0-f0-enum")).to_have_value("1, 2")
    expect(page.locator("#llm-tools-1-p0-f0-required")).to_be_checked()
    page.get_by_role("button", name="Apply to Tavus").click()

    expect(page.locator(".message-success")).to_be_visible()
    assert tavus.personas[custom_llm_id]["layers"]["llm"]["tools"][1] == tool


def test_the_section_menu_counts_changes_and_problems(
    page: Page, live_server: Any, workspace: Any, custom_llm_id: str
) -> None:
    _open(page, live_server, custom_llm_id)
    menu = page.locator("#editor-sections")
    expect(menu.locator(".pill")).to_have_count(0)

    page.fill("#id_stt-hotwords", "Acme, trowel, secateurs")
    page.fill("#id_identity-context", "New context")
    page.fill("#id_llm-extra_body__top_p", "7")

    expect(menu.locator("[data-section=stt]")).to_contain_text("1 change")
    expect(menu.locator("[data-section=identity]")).to_contain_text("1 change")
    expect(menu.locator("[data-section=llm]")).to_contain_text("1 problem")
    expect(menu.locator("[data-section=tts] .pill")).to_have_count(0)
    expect(page.locator("#action-status")).to_contain_text("2 changes")

    menu.locator("[data-section=stt]").click()
    expect(page.locator("#layer-stt")).to_be_in_viewport()


def test_on_a_phone_the_preview_comes_before_the_action_and_nothing_scrolls_sideways(
    page: Page, live_server: Any, workspace: Any, large_id: str
) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    _open(page, live_server, large_id)
    page.fill("#id_identity-context", "Phone edit")

    assert page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    page.wait_for_timeout(100)
    preview = page.locator("#preview-panel").bounding_box()
    bar = page.locator(".action-bar").bounding_box()
    assert preview is not None and bar is not None
    assert preview["y"] + 10 < bar["y"]  # the preview is read before the buttons
    assert page.evaluate(
        "document.getElementById('preview-panel').compareDocumentPosition("
        "document.querySelector('.action-bar')) & Node.DOCUMENT_POSITION_FOLLOWING"
    )
    page.evaluate("window.scrollTo(0, 0)")
    assert _in_viewport(page, ".action-bar")

    # From anywhere, the action bar's link opens the preview as a drawer.
    page.locator("#action-status .change-count").click()
    expect(page.locator("#preview-panel")).to_have_class("editor-preview is-open")
    expect(page.locator("#preview-panel")).to_contain_text("1 change will be sent")
    page.keyboard.press("Escape")
    expect(page.locator("#preview-panel")).to_have_class("editor-preview")
    assert page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


def test_a_reload_warns_before_losing_a_draft_but_saving_does_not(
    page: Page, live_server: Any, workspace: Any, custom_llm_id: str
) -> None:
    _open(page, live_server, custom_llm_id)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.accept()))

    page.reload()  # nothing typed yet: no warning
    page.locator("#id_identity-context").press_sequentially("Draft words")
    page.reload()
    assert dialogs == ["beforeunload"]

    page.locator("#id_identity-context").fill("")
    page.locator("#id_identity-context").press_sequentially("Saved words")
    page.get_by_role("button", name="Apply to Tavus").click()
    expect(page.locator(".message-success")).to_be_visible()
    assert dialogs == ["beforeunload"]


def test_without_javascript_every_button_still_works(
    browser: Any, live_server: Any, workspace: Any, tavus: EmulatorState, custom_llm_id: str
) -> None:
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    try:
        _open_without_js(page, live_server, custom_llm_id)
        page.click("#llm-tools-add")  # a plain form post: the page comes back with the new tool
        page.fill("#llm-tools-1-label", "Cancel order")
        page.fill("#llm-tools-1-p0-name", "order_id")
        page.click("#llm-tools-1-addparam")
        expect(page.locator("#llm-tools-1-name")).to_have_value("cancel_order")
        expect(page.locator("#llm-tools-1-p0-name")).to_have_value("order_id")
        page.fill("#llm-tools-1-p1-name", "reason")
        page.fill("#id_llm-extra_body__temperature", "9")
        page.get_by_role("button", name="Apply to Tavus").click()
        expect(page.locator("#err-id_llm-extra_body__temperature")).to_have_text(
            "Temperature: Use a number from 0 to 2."
        )
        page.fill("#id_llm-extra_body__temperature", "0.3")
        page.get_by_role("button", name="Apply to Tavus").click()
        expect(page.locator(".message-success")).to_be_visible()
    finally:
        context.close()
    tool = tavus.personas[custom_llm_id]["layers"]["llm"]["tools"][1]["function"]
    assert tool["name"] == "cancel_order"
    assert list(tool["parameters"]["properties"]) == ["order_id", "reason"]


def _open_without_js(page: Page, live_server: Any, persona_id: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "bob")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/w/acme/personas/{persona_id}/edit/")


def test_tools_are_reordered_in_place_and_the_moved_tool_keeps_the_focus(
    page: Page, live_server: Any, workspace: Any, tavus: EmulatorState, large_id: str
) -> None:
    _open(page, live_server, large_id)
    names = page.locator("#llm-tools .tool-title strong")
    expect(names.nth(0)).to_have_text("lookup_record_000")

    _center(page, "#llm-tools-0")
    page.click("#llm-tools-0-down")
    expect(names.nth(0)).to_have_text("lookup_record_001")
    expect(names.nth(1)).to_have_text("lookup_record_000")
    expect(page.locator("#llm-tools-1-down")).to_be_focused()
    page.keyboard.press("Enter")  # and again, from the keyboard
    expect(names.nth(2)).to_have_text("lookup_record_000")
    expect(page.locator("#llm-tools-2-down")).to_be_focused()
    expect(page.locator("#llm-tools-0 .move-up")).to_be_hidden()  # the first cannot go up

    page.locator("#llm-tools-2").get_by_role("button", name="Remove").click()
    expect(page.locator("#llm-tools-2-edit")).to_be_focused()  # the next tool
    expect(page.locator("#llm-tools .tool")).to_have_count(11)
    expect(page.locator("#editor-sections [data-section=llm]")).to_contain_text("change")
    assert _still_same_document(page)
