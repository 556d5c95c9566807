"""Two people review a change: bob (editor) proposes it in the persona editor, erin (reviewer)
comments on one operation and approves, bob applies it, and the audit log shows all of it."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import ChangeRequest, ChangeStatus, Role
from tests.browser.conftest import login
from tests.builders import PASSWORD, make_member, make_user, persona_doc


def test_editor_proposes_reviewer_approves_editor_applies(
    page: Page,
    second_page: Page,
    live_server: Any,
    workspace: Any,
    tavus: EmulatorState,
    transactional_db: None,
) -> None:
    workspace.requires_approval = True
    workspace.save()
    make_member(workspace, make_user("erin"), Role.REVIEWER)
    persona_id = tavus.put_persona(persona_doc(persona_name="Front Desk"))

    # bob proposes a change from the persona editor.
    login(page, live_server, "bob", PASSWORD)
    page.goto(f"{live_server.url}/w/acme/personas/{persona_id}/edit/")
    page.fill("#id_identity-system_prompt", "Greet visitors warmly and keep answers short.")
    expect(page.locator("#preview")).to_contain_text("1 change will be sent")
    page.fill("input[name=cr_title]", "Warmer greeting")
    page.get_by_role("button", name="Propose change for review").click()

    expect(page.locator("h1")).to_contain_text("Warmer greeting")
    expect(page.locator(".review-status")).to_have_text("Waiting for review")
    expect(page.locator("#changes")).to_contain_text("Greet visitors warmly")
    cr = ChangeRequest.objects.get()
    review_url = f"{live_server.url}/w/acme/reviews/{cr.pk}/"
    assert tavus.count("PATCH") == 0

    # erin sees it waiting, comments on its one operation, then approves.
    login(second_page, live_server, "erin", PASSWORD)
    second_page.goto(f"{live_server.url}/w/acme/reviews/")
    expect(second_page.locator(".mainnav .badge")).to_have_text("1")
    second_page.get_by_role("link", name=f"#{cr.pk} Warmer greeting").click()
    op_row = second_page.locator("#op-0")
    op_row.locator("summary").click()
    op_row.locator("textarea").fill("Short is good; keep the company name?")
    op_row.get_by_role("button", name="Comment").click()
    expect(second_page.locator("#op-0 .comment")).to_contain_text("keep the company name?")
    second_page.get_by_label("Approve: it can go live").check()
    second_page.fill("#id_decision_comment", "Fine to ship.")
    second_page.get_by_role("button", name="Send review").click()
    expect(second_page.locator("#review-state .review-status")).to_have_text("Approved")
    expect(second_page.locator("#discussion")).to_contain_text("Fine to ship.")

    # bob applies it (htmx asks for confirmation first).
    page.goto(review_url)
    expect(page.locator("#op-0 .comment")).to_contain_text("keep the company name?")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Apply", exact=True).click()
    expect(page.locator("#review-state")).to_contain_text("Applied: the persona is live")
    expect(page.locator("#review-state .review-status")).to_have_text("Applied")

    assert tavus.personas[persona_id]["system_prompt"] == (
        "Greet visitors warmly and keep answers short."
    )
    assert tavus.count("PATCH") == 1
    cr.refresh_from_db()
    assert cr.status == ChangeStatus.APPLIED

    # The history tells the whole story.
    page.goto(review_url)
    history = page.locator("#history")
    for action in (
        "review.created",
        "review.submitted",
        "review.commented",
        "review.approved",
        "persona.patched",
        "review.applied",
    ):
        expect(history).to_contain_text(action)
    page.goto(f"{live_server.url}/w/acme/audit/")
    audit = page.locator("#audit-rows")
    for words in (
        "approved a change",
        "commented on a change",
        "applied a reviewed change",
        "changed the persona",
    ):
        expect(audit).to_contain_text(re.compile(words, re.IGNORECASE))
