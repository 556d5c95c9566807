"""Change-set pages: select personas on the list, describe an edit in plain forms, preview it per
persona (no-ops apart, nothing sent), propose it, review it, apply it and follow the progress.

Tavus is the emulator (its request log shows what was sent). Applying enqueues background tasks;
here each persona's task work is run in the test process (change_set_item_run), as the service
tests do; tests/browser/test_change_sets.py runs a real worker process.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import ChangeSet, ChangeSetStatus, ItemStatus, Role, Workspace
from personas_app.services import changesets as service
from personas_app.services.review_rules import review_rule_add
from tests.builders import make_member, make_user, persona_doc

pytestmark = pytest.mark.django_db

NEW = "/w/acme/change-sets/new/"
PREVIEW = "/w/acme/change-sets/new/preview/"


def _personas(tavus: EmulatorState, count: int, **overrides: Any) -> list[str]:
    return [
        tavus.put_persona(persona_doc(persona_name=f"Agent {i:02}", **overrides))
        for i in range(count)
    ]


def _form(ids: list[str], *steps: dict[str, str], **extra: str) -> dict[str, Any]:
    """The new-change-set form as a browser posts it (lists as lists)."""
    data: dict[str, Any] = {"persona": ids, "steps": str(len(steps)), **extra}
    for index, step in enumerate(steps):
        for name, value in step.items():
            data[f"step-{index}-{name}"] = value
    return data


ADD_SPARROW = {"action": "add_item", "list_field": "/layers/stt/hotwords", "item": "Sparrow"}
TOOL = {"type": "function", "function": {"name": "book_room", "description": "Books a room."}}


@pytest.fixture(autouse=True)
def _acme(workspace: Workspace) -> Workspace:
    """Every test here works in the workspace "acme" (alice admin, bob editor)."""
    return workspace


def _run_items(change_set: ChangeSet) -> None:
    """What the worker does for each persona (services.changesets.change_set_item_task)."""
    for item in change_set.items.filter(status=ItemStatus.WAITING):
        service.change_set_item_run(item_id=item.pk, worker="test")


# -- Selecting on the persona list ----------------------------------------------------------------


def test_the_persona_list_offers_checkboxes_and_the_change_actions(
    bob_client: Client, tavus: EmulatorState
) -> None:
    ids = _personas(tavus, 2)
    page = bob_client.get("/w/acme/").content.decode()
    for persona_id in ids:
        assert f'name="persona" value="{persona_id}"' in page
    assert 'action="/w/acme/change-sets/new/"' in page
    assert "Change selected…" in page
    assert "Change all 2 matching…" in page


def test_select_all_on_this_page_ticks_every_row(bob_client: Client, tavus: EmulatorState) -> None:
    _personas(tavus, 3)
    page = bob_client.get("/w/acme/?type=user&q=&page=1&select=page").content.decode()
    assert page.count(" checked>") == 3


def test_viewers_see_no_selection(member_client: Any, tavus: EmulatorState) -> None:
    _personas(tavus, 1)
    page = member_client("viewer").get("/w/acme/").content.decode()
    assert "Change selected…" not in page


def test_checked_personas_open_the_form_with_their_names(
    bob_client: Client, tavus: EmulatorState
) -> None:
    first, second, _ = _personas(tavus, 3)
    page = bob_client.get(NEW, {"persona": [first, second]}).content.decode()
    assert f'name="persona" value="{first}" checked' in page
    assert f'name="persona" value="{second}" checked' in page
    assert "Agent 00" in page and "Agent 01" in page
    assert "Agent 02" not in page
    assert tavus.count("PATCH") == 0


def test_a_checked_persona_tavus_cannot_find_says_so(
    bob_client: Client, tavus: EmulatorState
) -> None:
    page = bob_client.get(NEW, {"persona": ["pgone000"]}).content.decode()
    assert "Could not be read:" in page


def test_all_matching_selects_every_persona_the_search_finds(
    bob_client: Client, tavus: EmulatorState
) -> None:
    _personas(tavus, 3)
    tavus.put_persona(persona_doc(persona_name="Reception"))
    page = bob_client.get(NEW, {"all": "1", "q": "agent", "type": "user"}).content.decode()
    assert page.count('name="persona"') == 3
    assert "Agent 02" in page
    assert "Reception" not in page


def test_a_persona_removed_from_the_selection_is_gone_and_the_steps_stay(
    bob_client: Client, tavus: EmulatorState
) -> None:
    first, second = _personas(tavus, 2)
    data = _form([first, second], ADD_SPARROW, drop=second, title="Typed title")
    page = bob_client.post(NEW, data).content.decode()
    assert f'value="{first}" checked' in page
    assert f'value="{second}"' not in page
    assert 'value="Sparrow"' in page
    assert 'value="Typed title"' in page


# -- Steps ----------------------------------------------------------------------------------------


def test_adding_a_step_keeps_what_was_typed(bob_client: Client, tavus: EmulatorState) -> None:
    [persona] = _personas(tavus, 1)
    page = bob_client.post(NEW, _form([persona], ADD_SPARROW, action="add_step")).content.decode()
    assert 'name="steps" value="2"' in page
    assert 'id="step-1"' in page
    assert 'value="Sparrow"' in page
    assert "errorlist" not in page


def test_removing_a_step_keeps_the_others(bob_client: Client, tavus: EmulatorState) -> None:
    [persona] = _personas(tavus, 1)
    remove_context = {"action": "remove", "field": "/context"}
    data = _form([persona], remove_context, ADD_SPARROW, remove_step="0")
    page = bob_client.post(NEW, data).content.decode()
    assert 'name="steps" value="1"' in page
    assert 'value="Sparrow"' in page


# -- Preview --------------------------------------------------------------------------------------


def test_preview_shows_the_patch_per_persona_with_no_ops_apart_and_sends_nothing(
    bob_client: Client, tavus: EmulatorState
) -> None:
    changed = _personas(tavus, 2)
    already = tavus.put_persona(
        persona_doc(
            persona_name="Has it",
            layers={"stt": {"stt_engine": "tavus-auto", "hotwords": "Sparrow"}},
        )
    )
    response = bob_client.post(PREVIEW, _form([*changed, already], ADD_SPARROW))
    page = response.content.decode()
    assert response.status_code == 200
    assert "2 personas will change · 1 unchanged" in page
    assert "No change — nothing will be sent" in page
    unchanged = page[page.index("No change — nothing will be sent") :]
    assert "Has it" in unchanged
    assert "Agent 00" not in unchanged
    # The minimal JSON Patch, readable.
    assert "&quot;/layers/stt/hotwords&quot;" in page
    assert "Acme, trowel, Sparrow" in page
    assert "Give the change a short title." not in page  # judged only when proposing
    assert tavus.count("PATCH") == 0
    assert tavus.count("GET", "/v2/personas/") == 3
    assert not ChangeSet.objects.exists()


def test_preview_lists_a_persona_tavus_cannot_find_with_its_message(
    bob_client: Client, tavus: EmulatorState
) -> None:
    [kept] = _personas(tavus, 1)
    page = bob_client.post(PREVIEW, _form([kept, "pgone000"], ADD_SPARROW)).content.decode()
    assert "Could not be read" in page
    gone = page[page.index("Could not be read") :]
    assert "pgone000" in gone


def test_setting_a_field_uses_its_type_and_shows_in_the_diff_with_the_editor_label(
    bob_client: Client, tavus: EmulatorState
) -> None:
    [persona] = _personas(tavus, 1)
    step = {"action": "set", "field": "/layers/tts/tts_engine", "value": "elevenlabs"}
    flag = {"action": "set", "field": "/layers/llm/speculative_inference", "value": "on"}
    page = bob_client.post(PREVIEW, _form([persona], step, flag)).content.decode()
    assert "Voice engine" in page
    assert "elevenlabs" in page
    assert "&quot;value&quot;: true" in page


def test_a_tool_is_added_and_another_removed_by_name(
    bob_client: Client, tavus: EmulatorState
) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather."}}]
    persona = tavus.put_persona(
        persona_doc(layers={"llm": {"model": "tavus-gpt-oss", "tools": tools}})
    )
    add = {"action": "add_tool", "tool": json.dumps(TOOL)}
    remove = {"action": "remove_tool", "tool_name": "get_weather"}
    data = _form([persona], add, remove, title="Rooms, not weather")
    response = bob_client.post(NEW, {**data, "action": "propose"})
    assert response.status_code == 302
    item = ChangeSet.objects.get().items.get()
    assert item.proposed["layers"]["llm"]["tools"] == [TOOL]


# -- Bad input ------------------------------------------------------------------------------------


def test_a_tool_that_is_not_json_is_explained_next_to_the_field_and_kept(
    bob_client: Client, tavus: EmulatorState
) -> None:
    [persona] = _personas(tavus, 1)
    step = {"action": "add_tool", "tool": '{"type": "function", "function": {name'}
    response = bob_client.post(PREVIEW, _form([persona], step))
    page = response.content.decode()
    assert response.status_code == 200
    assert "This is not valid JSON" in page
    assert "{&quot;type&quot;: &quot;function&quot;, &quot;function&quot;: {name" in page
    assert tavus.count("GET", "/v2/personas/") == 0


def test_a_value_a_choice_does_not_know_names_the_values_it_takes(
    bob_client: Client, tavus: EmulatorState
) -> None:
    [persona] = _personas(tavus, 1)
    step = {"action": "set", "field": "/layers/tts/tts_engine", "value": "playht"}
    page = bob_client.post(PREVIEW, _form([persona], step)).content.decode()
    assert "Use one of: cartesia, elevenlabs, azure." in page
    assert "playht</textarea>" in page


def test_a_step_without_its_setting_says_what_is_missing(
    bob_client: Client, tavus: EmulatorState
) -> None:
    [persona] = _personas(tavus, 1)
    page = bob_client.post(PREVIEW, _form([persona], {"action": "set"})).content.decode()
    assert "Choose the setting to change." in page
    blank = bob_client.post(PREVIEW, _form([persona], ADD_SPARROW, {})).content.decode()
    assert "Choose what this step does (or remove the step)." in blank
    assert 'value="Sparrow"' in blank


def test_proposing_without_personas_or_a_title_is_refused_with_messages(
    bob_client: Client, tavus: EmulatorState
) -> None:
    page = bob_client.post(NEW, {**_form([], ADD_SPARROW), "action": "propose"}).content.decode()
    assert "Choose at least one persona" in page
    [persona] = _personas(tavus, 1)
    page = bob_client.post(NEW, {**_form([persona], ADD_SPARROW), "action": "propose"})
    assert "Give the change a short title." in page.content.decode()
    assert not ChangeSet.objects.exists()


def test_an_edit_that_changes_nothing_anywhere_is_refused_and_kept(
    bob_client: Client, tavus: EmulatorState
) -> None:
    [persona] = _personas(tavus, 1)
    step = {"action": "add_item", "list_field": "/layers/stt/hotwords", "item": "Acme"}
    data = {**_form([persona], step, title="Nothing"), "action": "propose"}
    page = bob_client.post(NEW, data).content.decode()
    assert "Nothing would change" in page
    assert 'value="Nothing"' in page
    assert not ChangeSet.objects.exists()


def test_tavus_failing_while_proposing_keeps_the_form(
    bob_client: Client, tavus: EmulatorState
) -> None:
    [persona] = _personas(tavus, 1)
    tavus.fail_next(5, 503)
    data = {**_form([persona], ADD_SPARROW, title="Add Sparrow"), "action": "propose"}
    response = bob_client.post(NEW, data)
    page = response.content.decode()
    assert response.status_code == 200
    assert "Something went wrong with Tavus." in page
    assert "Nothing was saved." in page
    assert 'value="Add Sparrow"' in page
    assert 'value="Sparrow"' in page
    assert not ChangeSet.objects.exists()


def test_viewers_cannot_open_the_form(member_client: Any) -> None:
    assert member_client("viewer").get(NEW).status_code == 403


# -- Propose, review, apply -----------------------------------------------------------------------


def test_propose_creates_the_change_set_open_for_review(
    bob_client: Client, tavus: EmulatorState
) -> None:
    ids = _personas(tavus, 2)
    data = {
        **_form(ids, ADD_SPARROW, title="Add Sparrow", description="Names"),
        "action": "propose",
    }
    response = bob_client.post(NEW, data)
    cs = ChangeSet.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/w/acme/change-sets/{cs.pk}/"
    assert cs.status == ChangeSetStatus.OPEN
    assert cs.items.count() == 2
    page = bob_client.get(response["Location"]).content.decode()
    assert "Waiting for review" in page
    assert "Add “Sparrow” to Speech recognition › Hotwords" in page
    assert "You can't approve your own change set" in page
    assert tavus.count("PATCH") == 0


def test_save_as_draft_then_send_for_review(bob_client: Client, tavus: EmulatorState) -> None:
    ids = _personas(tavus, 1)
    bob_client.post(NEW, {**_form(ids, ADD_SPARROW, title="Draft"), "action": "draft"})
    cs = ChangeSet.objects.get()
    assert cs.status == ChangeSetStatus.DRAFT
    bob_client.post(f"/w/acme/change-sets/{cs.pk}/submit/")
    cs.refresh_from_db()
    assert cs.status == ChangeSetStatus.OPEN


def _proposed(workspace: Workspace, bob: Any, tavus: EmulatorState, count: int = 3) -> ChangeSet:
    ids = _personas(tavus, count)
    return service.change_set_create(
        workspace=workspace,
        actor=bob,
        persona_ids=ids,
        edit=[{"op": "add_item", "path": "/layers/stt/hotwords", "value": "Sparrow"}],
        title="Add Sparrow",
        submit=True,
    )


def test_the_change_sets_tab_counts_those_waiting_for_me(
    workspace: Workspace, bob: Any, bob_client: Client, erin_client: Client, tavus: EmulatorState
) -> None:
    cs = _proposed(workspace, bob, tavus, count=1)
    badge = '>Change sets <span class="badge" title="Waiting for you">1</span>'
    assert badge in erin_client.get("/w/acme/").content.decode()  # a reviewer: hers to review
    assert "Change sets <span" not in bob_client.get("/w/acme/").content.decode()  # his own

    erin_client.post(f"/w/acme/change-sets/{cs.pk}/decide/", {"decision": "approve"})

    assert "Change sets <span" not in erin_client.get("/w/acme/").content.decode()
    assert badge in bob_client.get("/w/acme/").content.decode()  # approved: his to apply


def test_the_author_cannot_approve_their_own_change_set(
    workspace: Workspace, bob: Any, bob_client: Client, tavus: EmulatorState
) -> None:
    make_member(workspace, bob, Role.REVIEWER)
    cs = _proposed(workspace, bob, tavus)
    response = bob_client.post(f"/w/acme/change-sets/{cs.pk}/decide/", {"decision": "approve"})
    assert response.status_code == 403
    assert "You can&#x27;t approve your own change set" in response.content.decode()


def test_a_required_reviewer_rule_shows_on_the_page_and_holds_the_change_set_until_met(
    workspace: Workspace,
    alice: Any,
    bob: Any,
    bob_client: Client,
    erin_client: Client,
    tavus: EmulatorState,
) -> None:
    workspace.requires_approval = True
    workspace.save()
    dana = make_user("dana")
    make_member(workspace, dana, Role.REVIEWER)
    review_rule_add(
        workspace=workspace,
        actor=alice,
        pointer="/layers/stt",
        reviewer_ids=[dana.pk],
        role="",
        description="",
    )
    cs = _proposed(workspace, bob, tavus, count=2)
    url = f"/w/acme/change-sets/{cs.pk}/"

    erin_client.post(f"{url}decide/", {"decision": "approve"})
    page = bob_client.get(url).content.decode()
    cs.refresh_from_db()
    assert cs.status == ChangeSetStatus.OPEN  # one approval, but not from the required reviewer
    assert "Required reviewers" in page and "waiting" in page and "dana" in page
    assert tavus.count("PATCH") == 0

    dana_client = Client()
    dana_client.force_login(dana)
    dana_client.post(f"{url}decide/", {"decision": "approve"})
    cs.refresh_from_db()
    assert cs.status == ChangeSetStatus.APPROVED
    assert "met by dana" in bob_client.get(url).content.decode()


def test_another_member_approves_then_the_author_applies_and_every_persona_is_sent(
    workspace: Workspace,
    bob: Any,
    bob_client: Client,
    erin_client: Client,
    tavus: EmulatorState,
) -> None:
    workspace.requires_approval = True
    workspace.save()
    cs = _proposed(workspace, bob, tavus)
    url = f"/w/acme/change-sets/{cs.pk}/"
    assert "needs changes approved" in bob_client.get(url).content.decode()

    erin_client.post(f"{url}decide/", {"decision": "approve", "comment": "Fine."})
    cs.refresh_from_db()
    assert cs.status == ChangeSetStatus.APPROVED

    response = bob_client.post(f"{url}apply/")
    assert response.status_code == 302
    cs.refresh_from_db()
    assert cs.status == ChangeSetStatus.APPLYING
    page = bob_client.get(url).content.decode()
    assert 'hx-trigger="every 1s"' in page
    assert '<progress id="cs-progress-bar" max="3" value="0">' in page

    _run_items(cs)
    cs.refresh_from_db()
    assert cs.status == ChangeSetStatus.APPLIED
    page = bob_client.get(url).content.decode()
    assert '<progress id="cs-progress-bar" max="3" value="3">' in page
    assert page.count('item-status">Sent</span>') == 3
    assert 'hx-trigger="every 1s"' not in page
    assert "erin</strong> approved a change set" in page
    assert tavus.count("PATCH") == 3


def test_the_state_fragment_polls_while_applying_and_stops_when_finished(
    workspace: Workspace, bob: Any, bob_client: Client, tavus: EmulatorState
) -> None:
    cs = _proposed(workspace, bob, tavus, count=2)
    service.change_set_apply(change_set=cs, actor=bob)
    first = cs.items.order_by("pk").first()
    assert first is not None
    service.change_set_item_run(item_id=first.pk, worker="test")
    url = f"/w/acme/change-sets/{cs.pk}/?part=state"
    fragment = bob_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert fragment.lstrip().startswith('<section id="cs-state"')
    assert 'hx-trigger="every 1s"' in fragment
    assert '<progress id="cs-progress-bar" max="2" value="1">' in fragment
    assert "1 of 2" in fragment

    _run_items(cs)
    fragment = bob_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 1s"' not in fragment
    assert '<progress id="cs-progress-bar" max="2" value="2">' in fragment
    assert "Applied" in fragment


def test_a_persona_that_fails_shows_tavus_message(
    workspace: Workspace, bob: Any, bob_client: Client, tavus: EmulatorState
) -> None:
    cs = _proposed(workspace, bob, tavus, count=1)
    service.change_set_apply(change_set=cs, actor=bob)
    tavus.fail_next(1, 400, body={"message": "hotwords are too long"}, methods={"PATCH"})
    _run_items(cs)
    page = bob_client.get(f"/w/acme/change-sets/{cs.pk}/").content.decode()
    assert 'class="pill err item-status">Failed</span>' in page
    assert "hotwords are too long" in page


def test_comments_on_one_persona_and_on_the_whole(
    workspace: Workspace, bob: Any, erin_client: Client, tavus: EmulatorState
) -> None:
    cs = _proposed(workspace, bob, tavus, count=2)
    item = cs.items.order_by("pk").first()
    assert item is not None
    url = f"/w/acme/change-sets/{cs.pk}/"
    response = erin_client.post(f"{url}comment/", {"body": "Check this one", "item": item.pk})
    assert response["Location"] == f"{url}#item-{item.pk}"
    erin_client.post(f"{url}comment/", {"body": "Looks right overall"})
    page = erin_client.get(url).content.decode()
    persona_part = page[page.index(f'id="item-{item.pk}"') : page.index('id="discussion"')]
    assert "Check this one" in persona_part
    assert "Looks right overall" in page[page.index('id="discussion"') :]
    empty = erin_client.post(f"{url}comment/", {"body": "  "}).content.decode()
    assert "Write something before sending the comment." in empty


def test_asking_for_changes_needs_a_comment(
    workspace: Workspace, bob: Any, erin_client: Client, tavus: EmulatorState
) -> None:
    cs = _proposed(workspace, bob, tavus, count=1)
    page = erin_client.post(
        f"/w/acme/change-sets/{cs.pk}/decide/", {"decision": "request_changes"}
    ).content.decode()
    assert "Say what needs to change" in page
    cs.refresh_from_db()
    assert cs.status == ChangeSetStatus.OPEN


def test_applying_a_change_set_the_rules_do_not_allow_is_a_message(
    workspace: Workspace, bob: Any, bob_client: Client, tavus: EmulatorState
) -> None:
    workspace.requires_approval = True
    workspace.save()
    cs = _proposed(workspace, bob, tavus, count=1)
    response = bob_client.post(f"/w/acme/change-sets/{cs.pk}/apply/", follow=True)
    assert "has 0 of 1 approval" in response.content.decode()
    assert tavus.count("PATCH") == 0


def test_revert_proposes_a_new_change_set_and_links_to_it(
    workspace: Workspace, bob: Any, bob_client: Client, tavus: EmulatorState
) -> None:
    cs = _proposed(workspace, bob, tavus, count=2)
    service.change_set_apply(change_set=cs, actor=bob)
    _run_items(cs)
    response = bob_client.post(f"/w/acme/change-sets/{cs.pk}/revert/")
    revert = ChangeSet.objects.get(reverts=cs)
    assert response["Location"] == f"/w/acme/change-sets/{revert.pk}/"
    assert revert.status == ChangeSetStatus.OPEN
    page = bob_client.get(f"/w/acme/change-sets/{cs.pk}/").content.decode()
    assert f"/w/acme/change-sets/{revert.pk}/" in page
    revert_page = bob_client.get(response["Location"]).content.decode()
    assert f"#{cs.pk} Add Sparrow" in revert_page


def test_closing_without_applying(
    workspace: Workspace, bob: Any, bob_client: Client, tavus: EmulatorState
) -> None:
    cs = _proposed(workspace, bob, tavus, count=1)
    bob_client.post(f"/w/acme/change-sets/{cs.pk}/close/")
    cs.refresh_from_db()
    assert cs.status == ChangeSetStatus.CLOSED
    assert tavus.count("PATCH") == 0


def test_the_list_shows_change_sets_and_the_nav_links_to_it(
    workspace: Workspace, bob: Any, bob_client: Client, tavus: EmulatorState
) -> None:
    cs = _proposed(workspace, bob, tavus, count=1)
    page = bob_client.get("/w/acme/change-sets/").content.decode()
    assert f"#{cs.pk} Add Sparrow" in page
    assert 'href="/w/acme/change-sets/" aria-current="page">Change sets' in page
    assert "Waiting for review" in page
    drafts = bob_client.get("/w/acme/change-sets/?status=draft").content.decode()
    assert "Add Sparrow" not in drafts


def test_a_change_set_of_another_workspace_is_not_found(
    bob_client: Client, charlie: Any, tavus: EmulatorState
) -> None:
    assert bob_client.get("/w/acme/change-sets/424242/").status_code == 404


def test_an_htmx_review_gets_the_state_fragment_back(
    workspace: Workspace, bob: Any, erin_client: Client, tavus: EmulatorState
) -> None:
    cs = _proposed(workspace, bob, tavus, count=1)
    response = erin_client.post(
        f"/w/acme/change-sets/{cs.pk}/decide/",
        {"decision": "approve"},
        headers={"HX-Request": "true"},
    )
    fragment = response.content.decode()
    assert response.status_code == 200
    assert fragment.lstrip().startswith('<section id="cs-state"')
    assert "Approved. It has the approvals it needs and can be applied." in fragment
    assert "changeset-changed" in response["HX-Trigger"]


def test_a_viewer_reads_and_comments_but_sees_no_action(
    workspace: Workspace, bob: Any, member_client: Any, tavus: EmulatorState
) -> None:
    cs = _proposed(workspace, bob, tavus, count=1)
    viewer = member_client("viewer")
    page = viewer.get(f"/w/acme/change-sets/{cs.pk}/").content.decode()
    for action in ("/apply/", "/close/", "/decide/", "/submit/", "/revert/"):
        assert f"/w/acme/change-sets/{cs.pk}{action}" not in page
    assert "Comment on the whole change set" in page
    viewer.post(f"/w/acme/change-sets/{cs.pk}/comment/", {"body": "Seen."})
    assert "Seen." in viewer.get(f"/w/acme/change-sets/{cs.pk}/").content.decode()
    assert viewer.post(f"/w/acme/change-sets/{cs.pk}/apply/").status_code == 403
