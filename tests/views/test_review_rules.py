"""Required reviewers on the pages: the review page's box and Apply refusal, the queue's mark, and
the rules and the approvals cap on the settings page (with and without htmx).

alice is acme's admin, bob an editor who proposes, erin a reviewer, dana the reviewer the tools
rule names. Tavus is the emulator.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from django.test import Client

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import ChangeRequest, ReviewRule, Role, RuleRole, Workspace
from personas_app.persona.redaction import redact
from personas_app.services import reviews as service
from personas_app.services.review_rules import review_rule_add
from personas_app.services.workspaces import tavus_client_for
from tests.builders import make_member, make_user, persona_doc

HX = {"HTTP_HX_REQUEST": "true"}
TOOL = {"type": "function", "function": {"name": "order_status", "description": "Look up"}}


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _body(response: Any) -> str:
    return response.content.decode()


@pytest.fixture
def dana(workspace: Workspace) -> Any:
    user = make_user("dana")
    make_member(workspace, user, Role.REVIEWER)
    return user


@pytest.fixture
def tools_change(
    workspace: Workspace, alice: Any, bob: Any, erin: Any, dana: Any, tavus: EmulatorState
) -> ChangeRequest:
    """bob's change to the tools, approved by erin; the tools rule names dana."""
    workspace.requires_approval = True
    workspace.save()
    review_rule_add(
        workspace=workspace,
        actor=alice,
        pointer="/layers/llm/tools",
        reviewer_ids=[dana.pk],
        role=RuleRole.ADMIN,
        description="Tools reach the order system",
    )
    doc = persona_doc()
    doc["layers"]["llm"]["tools"] = [copy.deepcopy(TOOL)]
    persona_id = tavus.put_persona(doc)
    base = redact(tavus_client_for(workspace).get_persona(persona_id))
    proposed = copy.deepcopy(base)
    proposed["layers"]["llm"]["tools"][0]["function"]["description"] = "Look up an order"
    cr = service.change_request_create(
        workspace=workspace,
        actor=bob,
        kind="edit",
        title="Better tool description",
        persona_id=persona_id,
        base=base,
        proposed=proposed,
        submit=True,
    )
    return service.change_request_approve(change_request=cr, actor=erin)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# -- Review page and queue ------------------------------------------------------------------------


def test_the_review_page_says_which_rule_waits_and_why_apply_is_refused(
    bob_client: Client, tools_change: ChangeRequest
) -> None:
    body = _text(_body(bob_client.get(f"/w/acme/reviews/{tools_change.pk}/")))

    assert "Required reviewers" in body
    assert "LLM tools : needs an approval from dana or any Admin — waiting" in body
    assert "Tools reach the order system" in body
    assert "Waiting for review" in body
    assert "Apply is not available yet" in body
    assert "LLM tools needs an approval from dana or any Admin" in body
    assert 'class="primary apply-button"' not in _body(
        bob_client.get(f"/w/acme/reviews/{tools_change.pk}/")
    )


def test_the_box_says_who_met_the_rule_after_the_required_reviewer_approves(
    bob_client: Client, dana: Any, tools_change: ChangeRequest
) -> None:
    response = _client(dana).post(
        f"/w/acme/reviews/{tools_change.pk}/decide/", {"decision": "approve"}, **HX
    )
    assert "met by dana" in _text(_body(response))  # the state fragment, re-rendered

    body = _text(_body(bob_client.get(f"/w/acme/reviews/{tools_change.pk}/")))
    assert "met by dana" in body
    assert "Apply is not available yet" not in body


def test_an_approval_from_before_an_edit_is_shown_as_no_longer_counting(
    bob: Any, bob_client: Client, tools_change: ChangeRequest
) -> None:
    proposed = copy.deepcopy(tools_change.proposed_document)
    proposed["layers"]["llm"]["tools"][0]["function"]["description"] = "Look up any order"
    service.change_request_update(
        change_request=tools_change, actor=bob, proposed=proposed, secrets=None
    )

    body = _text(_body(bob_client.get(f"/w/acme/reviews/{tools_change.pk}/")))

    assert "erin Approved" in body
    assert "no longer counts: given before the change was edited" in body
    assert "0 of 1 approval" in body


def test_the_queue_marks_a_change_waiting_for_you_as_required_reviewer(
    dana: Any, erin: Any, tools_change: ChangeRequest
) -> None:
    mark = "your approval is required"
    assert mark in _body(_client(dana).get("/w/acme/reviews/"))
    assert mark not in _body(_client(erin).get("/w/acme/reviews/"))  # neither named nor Admin


# -- Settings: rules ------------------------------------------------------------------------------


def test_an_admin_adds_a_rule_without_javascript(
    alice_client: Client, workspace: Workspace, erin: Any
) -> None:
    response = alice_client.post(
        "/w/acme/settings/review-rules/add/",
        {"pointer": "/system_prompt", "reviewers": [str(erin.pk)], "role": "", "description": ""},
        follow=True,
    )

    assert response.redirect_chain == [("/w/acme/settings/#review-rules", 302)]
    rule = ReviewRule.objects.get()
    assert rule.pointer == "/system_prompt" and list(rule.reviewers.all()) == [erin]
    body = _text(_body(response))
    assert "Added the rule: System prompt: needs an approval from erin." in body


def test_the_rule_picker_lists_parts_in_plain_words_and_only_members_who_can_review(
    alice_client: Client, workspace: Workspace, erin: Any
) -> None:
    body = _body(alice_client.get("/w/acme/settings/"))

    assert '<optgroup label="Language model &amp; tools">' in body
    assert '<option value="/layers/llm/tools">LLM tools</option>' in body
    assert "erin (Reviewer)" in body and "alice (Admin)" in body
    assert "bob (Editor)" not in body


def test_a_rule_with_nobody_to_approve_is_explained_next_to_the_field_and_keeps_what_was_typed(
    alice_client: Client, workspace: Workspace
) -> None:
    data = {"pointer": "/layers/tts", "role": "", "description": "Brand voice"}
    for extra in ({}, HX):
        response = alice_client.post("/w/acme/settings/review-rules/add/", data, **extra)
        body = _body(response)

        assert response.status_code == 200
        fieldset = body[body.index("<legend>Required reviewers") :]
        assert "Choose at least one member, or a role" in fieldset[: fieldset.index("</fieldset>")]
        assert 'value="Brand voice"' in body
        assert '<option value="/layers/tts" selected>' in body
    assert not ReviewRule.objects.exists()


def test_the_rules_area_comes_back_as_a_fragment_for_htmx(
    alice_client: Client, workspace: Workspace
) -> None:
    response = alice_client.post(
        "/w/acme/settings/review-rules/add/",
        {"pointer": "/layers/llm/tools", "role": RuleRole.ADMIN},
        **HX,
    )

    body = _body(response)
    assert 'id="review-rules"' in body and "<html" not in body
    assert "LLM tools" in body and "any Admin" in body  # the new rule, listed
    assert "Added the rule" in body  # the messages region, out of band
    assert ReviewRule.objects.get().role == RuleRole.ADMIN


def test_an_admin_removes_a_rule(alice_client: Client, alice: Any, workspace: Workspace) -> None:
    rule = review_rule_add(
        workspace=workspace, actor=alice, pointer="/layers/tts", reviewer_ids=[], role="admin"
    )

    response = alice_client.post(f"/w/acme/settings/review-rules/{rule.pk}/remove/", follow=True)

    assert "Removed the rule for Voice (the whole layer)." in _text(_body(response))
    assert not ReviewRule.objects.exists()


def test_an_editor_cannot_add_a_rule(bob_client: Client, workspace: Workspace) -> None:
    response = bob_client.post(
        "/w/acme/settings/review-rules/add/", {"pointer": "/system_prompt", "role": "admin"}
    )
    assert response.status_code == 403
    assert not ReviewRule.objects.exists()


# -- Settings: approvals cap ----------------------------------------------------------------------


def test_approvals_needed_above_the_members_who_can_give_them_is_refused_next_to_the_field(
    alice_client: Client, workspace: Workspace, erin: Any
) -> None:
    data = {
        "name": "Acme",
        "tavus_base_url": "",
        "requires_approval": "on",
        "approvals_required": "3",
        "conversation_max_minutes": "30",
    }
    for extra in ({}, HX):
        body = _body(alice_client.post("/w/acme/settings/", data, **extra))

        field = body[body.index('<label for="id_approvals_required"') :]
        field = field[: field.index("</div>")]
        assert "Only 2 member(s) can approve changes" in field
        assert "cannot be 3" in field
        assert 'value="3"' in field  # what was typed stays
    workspace.refresh_from_db()
    assert workspace.approvals_required == 1 and not workspace.requires_approval


def test_demoting_a_required_reviewer_is_refused_with_the_rule_named(
    alice_client: Client, alice: Any, workspace: Workspace, dana: Any
) -> None:
    review_rule_add(
        workspace=workspace,
        actor=alice,
        pointer="/layers/llm/tools",
        reviewer_ids=[dana.pk],
        role="",
    )
    membership = workspace.memberships.get(user=dana)

    response = alice_client.post(
        f"/w/acme/members/{membership.pk}/role/", {"role": "editor"}, follow=True
    )

    assert (
        "dana keeps the Reviewer role: dana is a required reviewer for LLM tools. "
        "Remove them from those rules in the settings first." in _text(_body(response))
    )
    membership.refresh_from_db()
    assert membership.role == Role.REVIEWER
