"""One edit for many personas in a real browser: bob (editor) selects personas on the list,
describes the edit, previews it (the persona it leaves unchanged listed apart), proposes it; erin
(reviewer) approves it; bob applies it while a real `manage.py db_worker` process runs, and the
page's progress bar (htmx polling) reaches the end with every changed persona "Sent"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import ChangeSet, ChangeSetStatus, Role
from tests.browser.conftest import login
from tests.browser.test_accessibility import violations_on
from tests.builders import PASSWORD, make_member, make_user, persona_doc
from tests.workers import worker_pool

# Short Tavus timeouts for the worker, as in tests/test_worker.py.
WORKER_ENV = {"TAVUS_TIMEOUT_CONNECT": "0.25", "TAVUS_TIMEOUT_READ": "1", "TAVUS_RETRIES": "0"}


def test_select_preview_propose_approve_and_watch_the_apply_finish(
    page: Page,
    second_page: Page,
    live_server: Any,
    workspace: Any,
    tavus: EmulatorState,
    transactional_db: None,
    tmp_path: Path,
) -> None:
    workspace.requires_approval = True
    workspace.save()
    make_member(workspace, make_user("erin"), Role.REVIEWER)
    changed = [tavus.put_persona(persona_doc(persona_name=f"Desk {i}")) for i in range(3)]
    already = tavus.put_persona(
        persona_doc(
            persona_name="Has Sparrow",
            layers={"stt": {"stt_engine": "tavus-auto", "hotwords": "Sparrow"}},
        )
    )
    tavus.put_persona(persona_doc(persona_name="Left alone"))

    # bob selects four personas on the list and opens the change-set form.
    login(page, live_server, "bob", PASSWORD)
    page.goto(f"{live_server.url}/w/acme/")
    for persona_id in [*changed, already]:
        page.locator(f"#select-{persona_id}").check()
    page.get_by_role("button", name="Change selected…").click()
    expect(page.locator("h1")).to_have_text("Change several personas at once")
    expect(page.locator("#cs-selection")).to_contain_text("Has Sparrow")
    expect(page.locator("#cs-selection")).not_to_contain_text("Left alone")

    # One step in plain words: add the hotword "Sparrow".
    page.select_option("#id_step-0-action", "add_item")
    expect(page.locator("#id_step-0-value")).to_be_hidden()
    page.select_option("#id_step-0-list_field", "/layers/stt/hotwords")
    page.fill("#id_step-0-item", "Sparrow")
    page.locator("#preview").get_by_role("button", name="Preview").click()
    expect(page.locator(".cs-preview-summary")).to_have_text("3 personas will change · 1 unchanged")
    expect(page.locator(".cs-unchanged")).to_contain_text("Has Sparrow")
    expect(page.locator("#preview")).to_contain_text("Acme, trowel, Sparrow")
    assert tavus.count("PATCH") == 0
    assert violations_on(page) == {}

    page.fill("#id_title", "Listen for Sparrow")
    page.get_by_role("button", name="Propose", exact=True).click()
    expect(page.locator(".review-status")).to_have_text("Waiting for review")
    cs = ChangeSet.objects.get()
    url = f"{live_server.url}/w/acme/change-sets/{cs.pk}/"

    # erin approves it once, for every persona.
    login(second_page, live_server, "erin", PASSWORD)
    second_page.goto(f"{live_server.url}/w/acme/change-sets/")
    second_page.get_by_role("link", name=f"#{cs.pk} Listen for Sparrow").click()
    second_page.get_by_label("Approve: it can go live for every persona").check()
    second_page.get_by_role("button", name="Send review").click()
    expect(second_page.locator("#cs-state .review-status")).to_have_text("Approved")

    # bob applies it; a real worker sends each persona; the page follows without reloading.
    with worker_pool(tmp_path, WORKER_ENV) as pool:
        pool.start()
        page.goto(url)
        progress = page.get_by_label("Personas done")
        expect(progress).to_have_attribute("max", "4")
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Apply to 3 personas").click()
        expect(progress).to_have_attribute("value", "4", timeout=60_000)
        expect(page.locator("#cs-state .review-status")).to_have_text("Applied")
        statuses = page.locator("#cs-state .item-status")
        expect(statuses).to_have_text(["Sent", "Sent", "Sent", "No change"])
        expect(page.locator("#cs-state")).not_to_have_attribute("hx-trigger", "every 1s")
        expect(page.locator("#history")).to_contain_text("finished applying a change set")
    assert violations_on(page) == {}

    cs.refresh_from_db()
    assert cs.status == ChangeSetStatus.APPLIED
    for persona_id in changed:
        assert tavus.personas[persona_id]["layers"]["stt"]["hotwords"] == "Acme, trowel, Sparrow"
    assert tavus.count("PATCH") == 3
