"""Required reviewers: a change touching a part of a persona with a rule waits for an approval from
one of the rule's reviewers (never its author), on top of the approvals count; an edit drops the
approvals given before it. Change requests and change sets alike.

alice is acme's admin, bob an editor who proposes, erin and frank reviewers, dana the reviewer the
tools rule names. Tavus is the emulator.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import (
    AuditEvent,
    ChangeRequest,
    ChangeSetStatus,
    ChangeStatus,
    ReviewRule,
    Role,
    RuleRole,
    Workspace,
)
from personas_app.models.reviews import InvalidTransition
from personas_app.persona.redaction import redact
from personas_app.services import changesets as changesets_service
from personas_app.services import reviews as service
from personas_app.services.review_rules import (
    ReviewRuleError,
    review_rule_add,
    review_rule_remove,
)
from personas_app.services.workspaces import (
    WorkspaceError,
    member_change_role,
    member_remove,
    tavus_client_for,
)
from tests.builders import make_member, make_user, persona_doc

TOOL = {
    "type": "function",
    "function": {
        "name": "order_status",
        "description": "Look up an order",
        "parameters": {"type": "object", "properties": {}},
    },
}


def _reviewer(workspace: Workspace, name: str) -> Any:
    user = make_user(name)
    make_member(workspace, user, Role.REVIEWER)
    return user


@pytest.fixture
def erin(workspace: Workspace) -> Any:
    return _reviewer(workspace, "erin")


@pytest.fixture
def frank(workspace: Workspace) -> Any:
    return _reviewer(workspace, "frank")


@pytest.fixture
def dana(workspace: Workspace) -> Any:
    return _reviewer(workspace, "dana")


@pytest.fixture
def persona_id(tavus: EmulatorState) -> str:
    doc = persona_doc()
    doc["layers"]["llm"]["tools"] = [copy.deepcopy(TOOL)]
    return tavus.put_persona(doc)


@pytest.fixture
def strict(workspace: Workspace, erin: Any, frank: Any) -> Workspace:
    """Changes need two approvals before they go live."""
    workspace.requires_approval, workspace.approvals_required = True, 2
    workspace.save()
    return workspace


@pytest.fixture
def tools_rule(workspace: Workspace, alice: Any, dana: Any) -> ReviewRule:
    return review_rule_add(
        workspace=workspace,
        actor=alice,
        pointer="/layers/llm/tools",
        reviewer_ids=[dana.pk],
        role="",
        description="Tools reach the order system",
    )


def _propose(workspace: Workspace, author: Any, persona_id: str, change: Any) -> ChangeRequest:
    base = redact(tavus_client_for(workspace).get_persona(persona_id))
    proposed = copy.deepcopy(base)
    change(proposed)
    return service.change_request_create(
        workspace=workspace,
        actor=author,
        kind="edit",
        title="A change",
        persona_id=persona_id,
        base=base,
        proposed=proposed,
        submit=True,
    )


def _tools_change(doc: dict[str, Any]) -> None:
    doc["layers"]["llm"]["tools"][0]["function"]["description"] = "Look up an order by number"


def _prompt_change(doc: dict[str, Any]) -> None:
    doc["system_prompt"] = "You help Acme customers, briefly."


# -- Change requests ------------------------------------------------------------------------------


def test_a_tools_change_waits_for_its_required_reviewer_while_two_others_approved(
    strict: Workspace,
    bob: Any,
    erin: Any,
    frank: Any,
    dana: Any,
    tools_rule: ReviewRule,
    persona_id: str,
    tavus: EmulatorState,
) -> None:
    cr = _propose(strict, bob, persona_id, _tools_change)

    service.change_request_approve(change_request=cr, actor=erin)
    cr = service.change_request_approve(change_request=cr, actor=frank)

    assert cr.approval_count() == 2
    assert cr.status == ChangeStatus.OPEN
    [check] = cr.rule_checks()
    assert (check.label, check.needs, check.met) == ("LLM tools", "dana", False)
    with pytest.raises(InvalidTransition, match="LLM tools needs an approval from dana"):
        service.change_request_apply(change_request=cr, actor=bob)
    assert tavus.count("PATCH") == 0


def test_the_change_is_approved_once_the_required_reviewer_approves(
    strict: Workspace,
    bob: Any,
    erin: Any,
    frank: Any,
    dana: Any,
    tools_rule: ReviewRule,
    persona_id: str,
    tavus: EmulatorState,
) -> None:
    cr = _propose(strict, bob, persona_id, _tools_change)
    service.change_request_approve(change_request=cr, actor=erin)
    service.change_request_approve(change_request=cr, actor=dana)

    assert cr.status == ChangeStatus.APPROVED
    assert [c.met_by for c in cr.rule_checks()] == [("dana",)]
    cr = service.change_request_apply(change_request=cr, actor=bob)
    assert cr.status == ChangeStatus.APPLIED
    assert tavus.count("PATCH") == 1


def test_a_system_prompt_change_does_not_trigger_the_tools_rule(
    strict: Workspace, bob: Any, erin: Any, frank: Any, tools_rule: ReviewRule, persona_id: str
) -> None:
    cr = _propose(strict, bob, persona_id, _prompt_change)
    service.change_request_approve(change_request=cr, actor=erin)
    service.change_request_approve(change_request=cr, actor=frank)

    assert cr.rule_checks() == []
    assert cr.status == ChangeStatus.APPROVED


def test_an_approval_given_before_an_edit_no_longer_counts(
    strict: Workspace, bob: Any, erin: Any, dana: Any, tools_rule: ReviewRule, persona_id: str
) -> None:
    cr = _propose(strict, bob, persona_id, _tools_change)
    service.change_request_approve(change_request=cr, actor=erin)
    cr = service.change_request_approve(change_request=cr, actor=dana)
    assert cr.status == ChangeStatus.APPROVED
    proposed = copy.deepcopy(cr.proposed_document)
    proposed["layers"]["llm"]["tools"][0]["function"]["description"] = "Look up any order"

    cr = service.change_request_update(
        change_request=cr, actor=bob, proposed=proposed, secrets=None
    )

    assert cr.status == ChangeStatus.OPEN
    assert cr.approval_count() == 0
    assert [c.met for c in cr.rule_checks()] == [False]
    with pytest.raises(InvalidTransition, match=r"0 of 2 approvals.*dana"):
        service.change_request_apply(change_request=cr, actor=bob)


def test_a_rule_asking_for_admins_is_met_by_any_admin(
    strict: Workspace, alice: Any, bob: Any, erin: Any, frank: Any, persona_id: str
) -> None:
    review_rule_add(
        workspace=strict, actor=alice, pointer="/layers/llm", reviewer_ids=[], role=RuleRole.ADMIN
    )
    cr = _propose(strict, bob, persona_id, _tools_change)
    service.change_request_approve(change_request=cr, actor=erin)
    service.change_request_approve(change_request=cr, actor=frank)
    assert cr.status == ChangeStatus.OPEN
    assert cr.rule_checks()[0].needs == "any Admin"

    service.change_request_approve(change_request=cr, actor=alice)

    assert cr.status == ChangeStatus.APPROVED
    assert cr.rule_checks()[0].met_by == ("alice",)


def test_the_author_cannot_meet_a_rule_that_names_them(
    strict: Workspace, erin: Any, frank: Any, dana: Any, tools_rule: ReviewRule, persona_id: str
) -> None:
    cr = _propose(strict, dana, persona_id, _tools_change)

    with pytest.raises(PermissionDenied, match="your own change"):
        service.change_request_approve(change_request=cr, actor=dana)
    service.change_request_approve(change_request=cr, actor=erin)
    service.change_request_approve(change_request=cr, actor=frank)

    assert cr.status == ChangeStatus.OPEN
    assert not cr.rule_checks()[0].met


def test_the_author_cannot_meet_a_role_rule_with_their_own_role(
    strict: Workspace, alice: Any, erin: Any, frank: Any, persona_id: str
) -> None:
    review_rule_add(
        workspace=strict,
        actor=alice,
        pointer="/layers/llm/tools",
        reviewer_ids=[],
        role=RuleRole.ADMIN,
    )
    cr = _propose(strict, alice, persona_id, _tools_change)
    service.change_request_approve(change_request=cr, actor=erin)
    service.change_request_approve(change_request=cr, actor=frank)

    assert cr.status == ChangeStatus.OPEN
    assert cr.rule_checks()[0].met_by == ()


def test_a_new_rule_sends_an_approved_change_back_to_waiting_and_removing_it_approves_again(
    strict: Workspace, alice: Any, bob: Any, erin: Any, frank: Any, dana: Any, persona_id: str
) -> None:
    cr = _propose(strict, bob, persona_id, _tools_change)
    service.change_request_approve(change_request=cr, actor=erin)
    service.change_request_approve(change_request=cr, actor=frank)
    assert cr.status == ChangeStatus.APPROVED

    rule = review_rule_add(
        workspace=strict, actor=alice, pointer="/layers/llm/tools", reviewer_ids=[dana.pk], role=""
    )
    cr.refresh_from_db()
    assert cr.status == ChangeStatus.OPEN

    review_rule_remove(workspace=strict, rule=rule, actor=alice)
    cr.refresh_from_db()
    assert cr.status == ChangeStatus.APPROVED
    actions = AuditEvent.objects.filter(action__startswith="workspace.review_rule")
    assert list(actions.order_by("id").values_list("action", flat=True)) == [
        "workspace.review_rule_added",
        "workspace.review_rule_removed",
    ]


# -- Change sets ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_change_set_touching_the_tools_needs_the_required_reviewer_too(
    strict: Workspace,
    bob: Any,
    erin: Any,
    frank: Any,
    dana: Any,
    tools_rule: ReviewRule,
    persona_id: str,
    tavus: EmulatorState,
) -> None:
    other = tavus.put_persona(persona_doc(persona_name="Sales Agent"))
    cs = changesets_service.change_set_create(
        workspace=strict,
        actor=bob,
        persona_ids=[persona_id, other],
        edit=[{"op": "remove_item", "path": "/layers/llm/tools", "value": "order_status"}],
        title="No more order lookups",
        submit=True,
    )
    changesets_service.change_set_approve(change_set=cs, actor=erin)
    cs = changesets_service.change_set_approve(change_set=cs, actor=frank)

    assert cs.status == ChangeSetStatus.OPEN
    with pytest.raises(InvalidTransition, match="LLM tools needs an approval from dana"):
        changesets_service.change_set_apply(change_set=cs, actor=bob, background=False)

    cs = changesets_service.change_set_approve(change_set=cs, actor=dana)
    assert cs.status == ChangeSetStatus.APPROVED


@pytest.mark.django_db
def test_a_change_set_elsewhere_does_not_trigger_the_tools_rule(
    strict: Workspace, bob: Any, erin: Any, frank: Any, tools_rule: ReviewRule, persona_id: str
) -> None:
    cs = changesets_service.change_set_create(
        workspace=strict,
        actor=bob,
        persona_ids=[persona_id],
        edit=[{"op": "add_item", "path": "/layers/stt/hotwords", "value": "Sparrow"}],
        title="Add Sparrow",
        submit=True,
    )
    changesets_service.change_set_approve(change_set=cs, actor=erin)
    cs = changesets_service.change_set_approve(change_set=cs, actor=frank)

    assert cs.rule_checks() == []
    assert cs.status == ChangeSetStatus.APPROVED


# -- Managing rules and members -------------------------------------------------------------------


def test_a_rule_can_only_name_members_who_can_review(
    workspace: Workspace, alice: Any, bob: Any
) -> None:
    with pytest.raises(ReviewRuleError, match="Only members who can review") as raised:
        review_rule_add(
            workspace=workspace,
            actor=alice,
            pointer="/system_prompt",
            reviewer_ids=[bob.pk],
            role="",
        )
    assert raised.value.field == "reviewers"
    assert not ReviewRule.objects.exists()


def test_a_rule_needs_someone_to_approve(workspace: Workspace, alice: Any) -> None:
    with pytest.raises(ReviewRuleError, match="at least one member, or choose a role"):
        review_rule_add(
            workspace=workspace, actor=alice, pointer="/system_prompt", reviewer_ids=[], role=""
        )


def test_only_admins_manage_rules(workspace: Workspace, erin: Any) -> None:
    with pytest.raises(PermissionDenied, match="Only workspace admins"):
        review_rule_add(
            workspace=workspace,
            actor=erin,
            pointer="/system_prompt",
            reviewer_ids=[],
            role=RuleRole.ADMIN,
        )


def test_a_required_reviewer_cannot_be_demoted_or_removed_until_the_rule_changes(
    workspace: Workspace, alice: Any, dana: Any, tools_rule: ReviewRule
) -> None:
    membership = workspace.memberships.get(user=dana)

    with pytest.raises(WorkspaceError, match="dana is a required reviewer for LLM tools"):
        member_change_role(workspace=workspace, membership=membership, role="editor", actor=alice)
    with pytest.raises(WorkspaceError, match="Remove them from those rules"):
        member_remove(workspace=workspace, membership=membership, actor=alice)

    member_change_role(workspace=workspace, membership=membership, role="admin", actor=alice)
    review_rule_remove(workspace=workspace, rule=tools_rule, actor=alice)
    member_remove(workspace=workspace, membership=membership, actor=alice)
    assert not workspace.memberships.filter(user=dana).exists()


def test_approvals_needed_stays_possible_even_while_approval_is_off(
    workspace: Workspace, alice: Any, erin: Any
) -> None:
    workspace.requires_approval, workspace.approvals_required = False, 2
    workspace.save()
    membership = workspace.memberships.get(user=erin)

    with pytest.raises(WorkspaceError, match="only 1 member"):
        member_change_role(workspace=workspace, membership=membership, role="editor", actor=alice)

    workspace.approvals_required = 1
    workspace.save()
    member_change_role(workspace=workspace, membership=membership, role="editor", actor=alice)
