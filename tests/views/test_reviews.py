"""Review pages: the queue's tabs, one change's page (diff, ops, checks, discussion, conflicts) and
every transition view, with and without htmx, and the plain 403s for what a role may not do.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import AuditEvent, ChangeRequest, ChangeStatus, Comment, Role, Workspace
from personas_app.persona.redaction import SECRET_MARKER, redact
from personas_app.services import reviews as service
from personas_app.services.workspaces import tavus_client_for
from tests.builders import persona_doc

SECRET = "sk-live-never-on-a-page-777"
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def persona_id(tavus: EmulatorState) -> str:
    return tavus.put_persona(persona_doc())


def _propose(
    workspace: Workspace,
    author: Any,
    persona_id: str,
    *,
    submit: bool = True,
    change: Any = None,
    secrets: dict[str, str] | None = None,
    title: str = "Kinder prompt",
) -> ChangeRequest:
    base = redact(tavus_client_for(workspace).get_persona(persona_id))
    proposed = copy.deepcopy(base)
    if change is None:
        proposed["system_prompt"] = "You help Acme customers, briefly and kindly."
    else:
        change(proposed)
    return service.change_request_create(
        workspace=workspace,
        actor=author,
        kind="edit",
        title=title,
        persona_id=persona_id,
        base=base,
        proposed=proposed,
        secrets=secrets,
        submit=submit,
    )


def _url(cr: ChangeRequest, name: str = "") -> str:
    return f"/w/acme/reviews/{cr.pk}/{name + '/' if name else ''}"


# -- Access ---------------------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client: Client, workspace: Workspace) -> None:
    response = client.get("/w/acme/reviews/")

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_outsider_gets_404(
    charlie_client: Client, workspace: Workspace, bob: Any, persona_id: str
) -> None:
    cr = _propose(workspace, bob, persona_id)

    assert charlie_client.get("/w/acme/reviews/").status_code == 404
    assert charlie_client.get(_url(cr)).status_code == 404


def test_change_of_another_workspace_is_404(
    alice_client: Client, workspace: Workspace, bob: Any, persona_id: str
) -> None:
    cr = _propose(workspace, bob, persona_id)

    assert alice_client.get(f"/w/acme/reviews/{cr.pk + 100}/").status_code == 404


def test_viewer_reads_but_cannot_apply(
    member_client: Any, workspace: Workspace, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    viewer = member_client(Role.VIEWER)
    cr = _propose(workspace, bob, persona_id)

    assert viewer.get(_url(cr)).status_code == 200
    response = viewer.post(_url(cr, "apply"))

    assert response.status_code == 403
    assert "Viewer" in response.content.decode()
    assert tavus.count("PATCH") == 0


def test_editor_cannot_approve_with_a_plain_403(
    bob_client: Client, workspace: Workspace, alice: Any, persona_id: str
) -> None:
    cr = _propose(workspace, alice, persona_id)

    response = bob_client.post(_url(cr, "decide"), {"decision": "approve"})

    assert response.status_code == 403
    assert "Only reviewers and admins can review changes" in response.content.decode()


def test_author_cannot_approve_own_change_with_a_plain_403(
    alice_client: Client, workspace: Workspace, alice: Any, persona_id: str
) -> None:
    cr = _propose(workspace, alice, persona_id)

    response = alice_client.post(_url(cr, "decide"), {"decision": "approve"})

    assert response.status_code == 403
    assert "You can&#x27;t approve your own change" in response.content.decode()
    cr.refresh_from_db()
    assert cr.status == ChangeStatus.OPEN


def test_author_sees_why_they_cannot_approve(
    alice_client: Client, workspace: Workspace, alice: Any, persona_id: str
) -> None:
    cr = _propose(workspace, alice, persona_id)

    page = alice_client.get(_url(cr)).content.decode()

    assert "You can't approve your own change" in page
    assert 'id="decision"' not in page


def test_editor_who_is_not_the_author_cannot_close(
    bob_client: Client, workspace: Workspace, alice: Any, persona_id: str
) -> None:
    cr = _propose(workspace, alice, persona_id)

    response = bob_client.post(_url(cr, "close"))

    assert response.status_code == 403
    assert "Only the author of this change, a reviewer or an admin can close it." in (
        response.content.decode()
    )


# -- Queue ---------------------------------------------------------------------------------------


def test_queue_tabs_sort_changes_by_status(
    erin_client: Client, workspace: Workspace, bob: Any, erin: Any, persona_id: str
) -> None:
    waiting = _propose(workspace, bob, persona_id, title="Waiting one")
    ready = _propose(workspace, bob, persona_id, title="Ready one")
    service.change_request_approve(change_request=ready, actor=erin)
    closed = _propose(workspace, bob, persona_id, title="Closed one")
    service.change_request_close(change_request=closed, actor=bob)
    mine = _propose(workspace, erin, persona_id, title="Erin's own", submit=False)
    applied = _propose(workspace, bob, persona_id, title="Applied one", submit=False)
    service.change_request_apply(change_request=applied, actor=bob)

    def tab(name: str) -> str:
        response = erin_client.get(f"/w/acme/reviews/?tab={name}")
        assert response.status_code == 200
        return response.content.decode()

    assert "Waiting one" in tab("waiting") and "Ready one" not in tab("waiting")
    assert "waiting for you" in tab("waiting")
    assert "Ready one" in tab("ready")
    assert "Closed one" in tab("closed")
    assert mine.title.replace("'", "&#x27;") in tab("mine")
    assert "Waiting one" not in tab("mine")
    assert "Applied one" in tab("applied")
    assert waiting.pk


def test_queue_tab_with_htmx_is_only_the_rows(
    bob_client: Client, workspace: Workspace, bob: Any, persona_id: str
) -> None:
    _propose(workspace, bob, persona_id)

    response = bob_client.get("/w/acme/reviews/?tab=mine", **HTMX)

    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="review-rows"')
    assert "Kinder prompt" in body
    assert "<html" not in body


def test_navigation_counts_changes_waiting_for_the_reviewer(
    erin_client: Client, workspace: Workspace, bob: Any, erin: Any, persona_id: str
) -> None:
    _propose(workspace, bob, persona_id)
    decided = _propose(workspace, bob, persona_id)
    service.change_request_approve(change_request=decided, actor=erin)
    _propose(workspace, bob, persona_id, submit=False)

    page = erin_client.get("/w/acme/reviews/").content.decode()

    assert '<span class="badge" title="Waiting for you">1</span>' in page


def test_navigation_counts_own_changes_to_act_on_and_others_only_for_reviewers(
    bob_client: Client,
    erin_client: Client,
    workspace: Workspace,
    alice: Any,
    bob: Any,
    erin: Any,
    persona_id: str,
) -> None:
    sent_back = _propose(workspace, bob, persona_id)
    service.change_request_request_changes(change_request=sent_back, actor=erin, comment="Why?")
    _propose(workspace, alice, persona_id)

    for_bob = bob_client.get("/w/acme/reviews/").content.decode()
    for_erin = erin_client.get("/w/acme/reviews/").content.decode()

    # bob (editor): his change sent back; alice's open change is not his to review.
    assert '<span class="badge" title="Waiting for you">1</span>' in for_bob
    # erin (reviewer): alice's open change; bob's is back with bob.
    assert '<span class="badge" title="Waiting for you">1</span>' in for_erin


# -- Detail page ---------------------------------------------------------------------------------


def test_detail_shows_diff_ops_checks_and_comments(
    erin_client: Client, workspace: Workspace, bob: Any, erin: Any, persona_id: str
) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["system_prompt"] = "Short and kind."
        doc["layers"]["llm"]["model"] = "tavus-gpt-4o"

    cr = _propose(workspace, bob, persona_id, change=change)
    service.change_request_comment(
        change_request=cr, actor=erin, body="Why this model?", op_index=1
    )
    service.change_request_comment(change_request=cr, actor=bob, body="Overall context here")

    page = erin_client.get(_url(cr)).content.decode()

    assert 'class="layer-diff"' in page and "Short and kind." in page
    assert "/layers/llm/model" in page and 'id="op-1"' in page
    assert 'class="warnings"' in page  # tavus-gpt-4o is deprecated
    assert "Why this model?" in page and "Overall context here" in page
    assert page.count('name="op_index"') == 2
    assert 'id="decision"' in page
    assert "review.created" in page


def test_detail_shows_when_things_happened(
    erin_client: Client, workspace: Workspace, bob: Any, erin: Any, persona_id: str
) -> None:
    at = datetime(2026, 3, 5, 9, 7, 41, 123456, tzinfo=UTC)
    with mock.patch("django.utils.timezone.now", return_value=at):
        cr = _propose(workspace, bob, persona_id)
        service.change_request_comment(change_request=cr, actor=erin, body="Looks fine")

    page = erin_client.get(_url(cr)).content.decode()

    iso = 'datetime="2026-03-05T09:07:41.123456+00:00"'
    assert f"<time {iso}>5 Mar 2026, 09:07</time>" in page  # when it was proposed
    assert f'<time class="muted small" {iso}>5 Mar, 09:07</time>' in page  # the comment
    assert f"<li><time {iso}>5 Mar, 09:07</time> · <strong>bob</strong>" in page  # its history


def test_detail_shows_schema_problems_of_the_proposal(
    bob_client: Client, workspace: Workspace, bob: Any, persona_id: str
) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["system_prompt"] = ""

    cr = _propose(workspace, bob, persona_id, change=change)

    page = bob_client.get(_url(cr)).content.decode()

    assert 'class="problems"' in page


def test_detail_part_with_htmx_is_a_fragment(
    bob_client: Client, workspace: Workspace, bob: Any, persona_id: str
) -> None:
    cr = _propose(workspace, bob, persona_id)

    body = bob_client.get(_url(cr) + "?part=discussion", **HTMX).content.decode()

    assert body.lstrip().startswith('<section id="discussion"')
    assert "<html" not in body


def test_review_page_never_shows_a_secret(
    erin_client: Client, workspace: Workspace, bob: Any, persona_id: str
) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["layers"]["llm"] = {
            "model": "m",
            "base_url": "https://llm.example.com",
            "api_key": SECRET_MARKER,
        }

    cr = _propose(
        workspace, bob, persona_id, change=change, secrets={"/layers/llm/api_key": SECRET}
    )

    page = erin_client.get(_url(cr)).content.decode()

    assert SECRET not in page
    assert "(hidden)" in page


def test_detail_lists_a_changed_secret_as_hidden(
    erin_client: Client, workspace: Workspace, bob: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(
        persona_doc(layers={"llm": {"model": "m", "base_url": "https://x", "api_key": "old"}})
    )
    cr = _propose(
        workspace,
        bob,
        persona_id,
        change=lambda doc: None,
        secrets={"/layers/llm/api_key": SECRET},
    )

    page = erin_client.get(_url(cr)).content.decode()

    assert "changed (hidden)" in page
    assert SECRET not in page and "old" not in page.split('id="changes"')[1].split("</section>")[0]


# -- Comments ------------------------------------------------------------------------------------


def test_comment_without_js_redirects_back(
    bob_client: Client, workspace: Workspace, bob: Any, persona_id: str
) -> None:
    cr = _propose(workspace, bob, persona_id)

    response = bob_client.post(_url(cr, "comment"), {"body": "See ticket 42"})

    assert response.status_code == 302
    assert response["Location"].startswith(_url(cr))
    assert Comment.objects.get(change_request=cr).body == "See ticket 42"


def test_comment_on_one_op_with_htmx_returns_the_discussion(
    bob_client: Client, workspace: Workspace, bob: Any, persona_id: str
) -> None:
    cr = _propose(workspace, bob, persona_id)

    response = bob_client.post(_url(cr, "comment"), {"body": "This line", "op_index": "0"}, **HTMX)

    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="discussion"')
    assert "This line" in body
    assert Comment.objects.get(change_request=cr).op_index == 0


def test_empty_comment_rerenders_with_a_message(
    bob_client: Client, workspace: Workspace, bob: Any, persona_id: str
) -> None:
    cr = _propose(workspace, bob, persona_id)

    response = bob_client.post(_url(cr, "comment"), {"body": "   "}, **HTMX)

    assert response.status_code == 200
    assert "Write something before sending the comment." in response.content.decode()
    assert not Comment.objects.exists()


def test_comment_on_a_missing_op_keeps_the_text(
    bob_client: Client, workspace: Workspace, bob: Any, persona_id: str
) -> None:
    cr = _propose(workspace, bob, persona_id)

    response = bob_client.post(_url(cr, "comment"), {"body": "Kept text", "op_index": "9"})

    assert response.status_code == 200
    page = response.content.decode()
    assert "not part of this change" in page


# -- Decisions -----------------------------------------------------------------------------------


def test_reviewer_approves_without_js(
    erin_client: Client, workspace: Workspace, bob: Any, persona_id: str
) -> None:
    cr = _propose(workspace, bob, persona_id)

    response = erin_client.post(_url(cr, "decide"), {"decision": "approve", "comment": "Ship it"})

    assert response.status_code == 302
    cr.refresh_from_db()
    assert cr.status == ChangeStatus.APPROVED
    follow = erin_client.get(response["Location"]).content.decode()
    assert "Approved." in follow and "Ship it" in follow


def test_reviewer_approves_with_htmx_gets_the_state_panel(
    erin_client: Client, workspace: Workspace, bob: Any, persona_id: str
) -> None:
    cr = _propose(workspace, bob, persona_id)

    response = erin_client.post(_url(cr, "decide"), {"decision": "approve"}, **HTMX)

    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="review-state"')
    assert "review-changed" in response["HX-Trigger"]
    assert "Approved." in body


def test_request_changes_needs_a_comment(
    erin_client: Client, workspace: Workspace, bob: Any, persona_id: str
) -> None:
    cr = _propose(workspace, bob, persona_id)

    response = erin_client.post(_url(cr, "decide"), {"decision": "request_changes"}, **HTMX)

    assert response.status_code == 200
    assert "Say what needs to change" in response.content.decode()
    cr.refresh_from_db()
    assert cr.status == ChangeStatus.OPEN


def test_approving_a_draft_shows_a_plain_message(
    erin_client: Client, workspace: Workspace, bob: Any, persona_id: str
) -> None:
    cr = _propose(workspace, bob, persona_id, submit=False)

    response = erin_client.post(_url(cr, "decide"), {"decision": "approve"}, follow=True)

    assert "still a draft" in response.content.decode()


# -- Submit, close, apply, refresh ---------------------------------------------------------------


def test_author_submits_a_draft(
    bob_client: Client, workspace: Workspace, bob: Any, persona_id: str
) -> None:
    cr = _propose(workspace, bob, persona_id, submit=False)

    response = bob_client.post(_url(cr, "submit"), follow=True)

    assert "Sent for review." in response.content.decode()
    cr.refresh_from_db()
    assert cr.status == ChangeStatus.OPEN


def test_author_closes_with_htmx(
    bob_client: Client, workspace: Workspace, bob: Any, persona_id: str
) -> None:
    cr = _propose(workspace, bob, persona_id)

    response = bob_client.post(_url(cr, "close"), **HTMX)

    assert response.status_code == 200
    assert "Closed." in response.content.decode()
    cr.refresh_from_db()
    assert cr.status == ChangeStatus.CLOSED


def test_apply_without_js_applies_and_says_so(
    bob_client: Client, workspace: Workspace, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    cr = _propose(workspace, bob, persona_id)

    response = bob_client.post(_url(cr, "apply"), follow=True)

    assert "Applied: the persona is live with this change." in response.content.decode()
    assert tavus.count("PATCH") == 1


def test_apply_with_htmx_returns_the_state_panel(
    bob_client: Client, workspace: Workspace, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    cr = _propose(workspace, bob, persona_id)

    response = bob_client.post(_url(cr, "apply"), **HTMX)

    body = response.content.decode()
    assert body.lstrip().startswith('<section id="review-state"')
    assert "Applied" in body


def test_second_apply_says_it_was_already_applied(
    bob_client: Client, workspace: Workspace, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    cr = _propose(workspace, bob, persona_id)
    bob_client.post(_url(cr, "apply"))

    response = bob_client.post(_url(cr, "apply"), follow=True)

    assert "already applied" in response.content.decode()
    assert tavus.count("PATCH") == 1


def test_apply_blocked_until_approved_explains_why(
    bob_client: Client, workspace: Workspace, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    workspace.requires_approval = True
    workspace.save()
    cr = _propose(workspace, bob, persona_id)

    page = bob_client.get(_url(cr)).content.decode()
    response = bob_client.post(_url(cr, "apply"), follow=True)

    assert "apply-button" not in page
    assert "0 of 1 approval" in page
    assert "0 of 1 approval" in response.content.decode()
    assert tavus.count("PATCH") == 0


def test_tavus_unreachable_at_apply_shows_a_message_and_keeps_the_change(
    bob_client: Client, workspace: Workspace, bob: Any, persona_id: str
) -> None:
    cr = _propose(workspace, bob, persona_id)
    workspace.tavus_base_url = "http://127.0.0.1:9"
    workspace.save()

    response = bob_client.post(_url(cr, "apply"), follow=True)

    page = response.content.decode()
    assert response.status_code == 200
    assert "Nothing in this change request was lost" in page
    assert "Try applying again" in page
    cr.refresh_from_db()
    assert cr.status == ChangeStatus.FAILED
    assert cr.proposed_document["system_prompt"] == "You help Acme customers, briefly and kindly."


def test_conflict_shows_three_versions_and_refresh_resolves_it(
    bob_client: Client, workspace: Workspace, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    cr = _propose(workspace, bob, persona_id)
    tavus.edit_persona(
        persona_id, [{"op": "replace", "path": "/system_prompt", "value": "Portal prompt."}]
    )

    applied = bob_client.post(_url(cr, "apply"), follow=True).content.decode()

    assert 'id="conflicts"' in applied and 'class="three-way"' in applied
    assert "Portal prompt." in applied and "briefly and kindly" in applied
    assert tavus.count("PATCH") == 0

    response = bob_client.post(_url(cr, "refresh"), **HTMX)

    assert response.status_code == 200
    assert response["HX-Redirect"] == _url(cr)
    cr.refresh_from_db()
    assert cr.status == ChangeStatus.OPEN
    assert cr.base_document["system_prompt"] == "Portal prompt."


def test_refresh_without_js_redirects(
    bob_client: Client, workspace: Workspace, bob: Any, persona_id: str
) -> None:
    cr = _propose(workspace, bob, persona_id)

    response = bob_client.post(_url(cr, "refresh"))

    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="review.updated", change_request_id=cr.pk).exists()


def test_refresh_when_tavus_is_unreachable_keeps_the_change(
    bob_client: Client, workspace: Workspace, bob: Any, persona_id: str
) -> None:
    cr = _propose(workspace, bob, persona_id)
    workspace.tavus_base_url = "http://127.0.0.1:9"
    workspace.save()

    response = bob_client.post(_url(cr, "refresh"), follow=True)

    assert "The live version could not be read from Tavus" in response.content.decode()
    cr.refresh_from_db()
    assert cr.status == ChangeStatus.OPEN


def test_get_on_a_write_url_is_refused(
    bob_client: Client, workspace: Workspace, bob: Any, persona_id: str
) -> None:
    cr = _propose(workspace, bob, persona_id)

    assert bob_client.get(_url(cr, "apply")).status_code == 405


# -- Edit title and description ----------------------------------------------------------------


def test_edit_page_links_to_the_persona_editor(
    bob_client: Client, workspace: Workspace, bob: Any, persona_id: str
) -> None:
    cr = _propose(workspace, bob, persona_id)

    page = bob_client.get(_url(cr, "edit")).content.decode()

    assert f"/w/acme/personas/{persona_id}/edit/?cr={cr.pk}" in page
    assert 'name="title"' in page


def test_edit_page_of_a_new_persona_links_to_the_create_editor(
    bob_client: Client, workspace: Workspace, bob: Any
) -> None:
    cr = service.change_request_create(
        workspace=workspace,
        actor=bob,
        kind="create",
        title="New",
        base=None,
        proposed=persona_doc(),
    )

    page = bob_client.get(_url(cr, "edit")).content.decode()

    assert f"/w/acme/personas/new/?cr={cr.pk}" in page


def test_edit_saves_title_and_description(
    bob_client: Client, workspace: Workspace, bob: Any, persona_id: str
) -> None:
    cr = _propose(workspace, bob, persona_id)

    response = bob_client.post(_url(cr, "edit"), {"title": "Better title", "description": "Why"})

    assert response.status_code == 302
    cr.refresh_from_db()
    assert (cr.title, cr.description) == ("Better title", "Why")


def test_edit_without_a_title_keeps_what_was_typed(
    bob_client: Client, workspace: Workspace, bob: Any, persona_id: str
) -> None:
    cr = _propose(workspace, bob, persona_id)

    response = bob_client.post(
        _url(cr, "edit"), {"title": "", "description": "Typed words"}, **HTMX
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "Give the change a short title." in body
    assert "Typed words" in body


def test_another_editor_cannot_edit_the_change(
    alice_client: Client, member_client: Any, workspace: Workspace, alice: Any, persona_id: str
) -> None:
    cr = _propose(workspace, alice, persona_id)
    other = member_client(Role.EDITOR, "ed")

    response = other.post(_url(cr, "edit"), {"title": "Mine now"})

    assert response.status_code == 403
    assert "Only the author of this change" in response.content.decode()


def test_conflict_met_with_htmx_shows_the_three_versions_in_the_panel(
    bob_client: Client, workspace: Workspace, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    cr = _propose(workspace, bob, persona_id)
    tavus.edit_persona(
        persona_id, [{"op": "replace", "path": "/system_prompt", "value": "Theirs."}]
    )

    body = bob_client.post(_url(cr, "apply"), **HTMX).content.decode()

    assert body.lstrip().startswith('<section id="review-state"')
    assert 'class="three-way"' in body and "Theirs." in body
    assert "Update the change from the live version" in body


def test_detail_of_a_new_persona_lists_its_settings(
    bob_client: Client, workspace: Workspace, bob: Any
) -> None:
    cr = service.change_request_create(
        workspace=workspace,
        actor=bob,
        kind="create",
        title="New greeter",
        base=None,
        proposed=persona_doc(persona_name="Greeter"),
        submit=True,
    )

    page = bob_client.get(_url(cr)).content.decode()

    assert "creates a new persona" in page
    assert "Greeter" in page and "/w/acme/personas/new/?cr=" in page


def test_detail_of_a_deletion_warns_and_applies(
    bob_client: Client, workspace: Workspace, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    base = redact(tavus_client_for(workspace).get_persona(persona_id))
    cr = service.change_request_create(
        workspace=workspace,
        actor=bob,
        kind="delete",
        title="Retire it",
        persona_id=persona_id,
        base=base,
        proposed=None,
        submit=True,
    )

    page = bob_client.get(_url(cr)).content.decode()
    response = bob_client.post(_url(cr, "apply"), follow=True)

    assert "<strong>deletes</strong>" in page
    assert "was deleted in Tavus" in response.content.decode()
    assert persona_id not in tavus.personas


# -- Long values, and a page whose cost does not grow with its content ---------------------------

LONG_PROMPT = "Answer briefly and kindly. " * 100


def _long_prompt(doc: dict[str, Any]) -> None:
    doc["system_prompt"] = LONG_PROMPT
    doc["context"] = "Short context."


def _op_cell(page: str, index: int) -> str:
    return page.split(f'id="op-value-{index}"')[1].split("</td>")[0]


def test_long_op_value_shows_a_short_form_and_a_link_to_the_whole(
    erin_client: Client, workspace: Workspace, bob: Any, persona_id: str
) -> None:
    cr = _propose(workspace, bob, persona_id, change=_long_prompt)
    index = next(i for i, op in enumerate(cr.ops) if op["path"] == "/system_prompt")

    page = erin_client.get(_url(cr)).content.decode()

    cell = _op_cell(page, index)
    assert LONG_PROMPT not in cell and "Answer briefly and kindly." in cell
    assert f"Show the whole value ({len(LONG_PROMPT):,} characters)" in cell
    assert f'href="{_url(cr)}?show_op={index}#op-{index}"' in cell
    assert "Short context." in _op_cell(page, 1 - index)


def test_show_op_without_js_shows_the_whole_value(
    erin_client: Client, workspace: Workspace, bob: Any, persona_id: str
) -> None:
    cr = _propose(workspace, bob, persona_id, change=_long_prompt)
    index = next(i for i, op in enumerate(cr.ops) if op["path"] == "/system_prompt")

    page = erin_client.get(_url(cr) + f"?show_op={index}").content.decode()

    assert LONG_PROMPT in _op_cell(page, index)


def test_whole_op_value_with_htmx_is_a_fragment(
    erin_client: Client, workspace: Workspace, bob: Any, persona_id: str
) -> None:
    cr = _propose(workspace, bob, persona_id, change=_long_prompt)
    index = next(i for i, op in enumerate(cr.ops) if op["path"] == "/system_prompt")

    body = erin_client.get(_url(cr) + f"?part=op_value&show_op={index}", **HTMX).content.decode()

    assert body.startswith('<pre class="op-value" tabindex="0">') and LONG_PROMPT in body
    assert "<html" not in body


def test_whole_value_of_a_missing_op_is_404(
    erin_client: Client, workspace: Workspace, bob: Any, persona_id: str
) -> None:
    cr = _propose(workspace, bob, persona_id)

    response = erin_client.get(_url(cr) + "?part=op_value&show_op=7", **HTMX)

    assert response.status_code == 404


def test_whole_op_value_never_shows_a_secret(
    erin_client: Client, workspace: Workspace, bob: Any, persona_id: str
) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["layers"]["llm"] = {
            "model": "m",
            "base_url": "https://llm.example.com/" + "v1/" * 100,
            "api_key": SECRET_MARKER,
        }

    cr = _propose(
        workspace, bob, persona_id, change=change, secrets={"/layers/llm/api_key": SECRET}
    )

    bodies = [
        erin_client.get(_url(cr) + f"?part=op_value&show_op={i}", **HTMX).content.decode()
        for i in range(len(cr.ops))
    ]

    assert all(SECRET not in body for body in bodies)
    assert any("changed (hidden)" in body or SECRET_MARKER in body for body in bodies)


def test_page_queries_do_not_grow_with_operations_and_comments(
    erin_client: Client, workspace: Workspace, bob: Any, erin: Any, persona_id: str
) -> None:
    small = _propose(workspace, bob, persona_id, title="One field")

    def many(doc: dict[str, Any]) -> None:
        doc["system_prompt"] = "Short and kind."
        doc["context"] = "Acme sells garden tools and repairs them."
        doc["layers"]["llm"]["model"] = "tavus-gpt-4o"
        doc["layers"]["stt"]["hotwords"] = "Acme, trowel, rake"
        doc["layers"]["conversational_flow"]["turn_taking_patience"] = "high"

    big = _propose(workspace, bob, persona_id, change=many, title="Five fields")
    for index in range(len(big.ops)):
        service.change_request_comment(
            change_request=big, actor=erin, body=f"About {index}", op_index=index
        )
    service.change_request_comment(change_request=big, actor=bob, body="Overall")

    erin_client.get("/w/acme/reviews/")  # a session's first page reads it apart from the rest
    with CaptureQueriesContext(connection) as for_small:
        erin_client.get(_url(small))
    with CaptureQueriesContext(connection) as for_big:
        page = erin_client.get(_url(big)).content.decode()

    assert len(big.ops) == 5 and page.count('class="comment small"') == 5
    assert len(for_big.captured_queries) == len(for_small.captured_queries)


def test_history_lists_only_this_changes_records(
    erin_client: Client, workspace: Workspace, bob: Any, erin: Any, persona_id: str
) -> None:
    first = _propose(workspace, bob, persona_id, title="First")
    second = _propose(workspace, bob, persona_id, title="Second")
    service.change_request_comment(change_request=second, actor=erin, body="Only on the second")

    page = erin_client.get(_url(first)).content.decode()

    history = page.split('id="history"')[1]
    assert "review.created" in history and "review.submitted" in history
    assert "Only on the second" not in page


def test_page_shows_a_new_version_of_the_change_at_once(
    bob_client: Client, workspace: Workspace, bob: Any, persona_id: str
) -> None:
    cr = _propose(workspace, bob, persona_id)
    bob_client.get(_url(cr))
    proposed = copy.deepcopy(cr.proposed_document)
    proposed["system_prompt"] = "A second thought."
    service.change_request_update(change_request=cr, actor=bob, proposed=proposed, secrets=None)

    page = bob_client.get(_url(cr)).content.decode()

    changes = page.split('id="changes"')[1].split("</section>")[0]
    assert "A second thought." in changes and "briefly and kindly" not in changes


def test_page_read_again_does_not_read_the_documents(
    bob_client: Client, workspace: Workspace, bob: Any, persona_id: str
) -> None:
    cr = _propose(workspace, bob, persona_id)
    bob_client.get(_url(cr))

    with CaptureQueriesContext(connection) as queries:
        page = bob_client.get(_url(cr)).content.decode()

    assert "briefly and kindly" in page.split('id="changes"')[1]
    assert not any("proposed_document" in q["sql"] for q in queries.captured_queries)
