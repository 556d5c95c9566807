"""Change requests: every transition and who may make it, safe apply (plain, rebased, conflict),
exactly-once apply, secrets sealed and restored, failures kept retryable.

Tavus is the emulator: outside edits are tavus.edit_persona, failures tavus.fail_next, and what
reached Tavus is read from its request log.
"""

from __future__ import annotations

import copy
import json
import threading
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import (
    AuditEvent,
    ChangeRequest,
    ChangeStatus,
    Comment,
    Review,
    Role,
    Workspace,
)
from personas_app.models.reviews import InvalidTransition
from personas_app.persona.redaction import SECRET_MARKER, redact
from personas_app.services import reviews as service
from personas_app.services.workspaces import tavus_client_for
from tests.builders import make_member, make_user, persona_doc

SECRET = "sk-live-do-not-leak-4242"


# -- Helpers ------------------------------------------------------------------------------------


@pytest.fixture
def frank(workspace: Workspace) -> Any:
    """A second reviewer."""
    user = make_user("frank")
    make_member(workspace, user, Role.REVIEWER)
    return user


@pytest.fixture
def victor(workspace: Workspace) -> Any:
    """A viewer."""
    user = make_user("victor")
    make_member(workspace, user, Role.VIEWER)
    return user


@pytest.fixture
def persona_id(tavus: EmulatorState) -> str:
    return tavus.put_persona(persona_doc())


def _live(workspace: Workspace, persona_id: str) -> dict[str, Any]:
    return redact(tavus_client_for(workspace).get_persona(persona_id))


def _edit(
    workspace: Workspace,
    author: Any,
    persona_id: str,
    *,
    submit: bool = True,
    secrets: dict[str, str] | None = None,
    change: Any = None,
) -> ChangeRequest:
    base = _live(workspace, persona_id)
    proposed = copy.deepcopy(base)
    if change is None:
        proposed["system_prompt"] = "You help Acme customers, briefly and kindly."
    else:
        change(proposed)
    return service.change_request_create(
        workspace=workspace,
        actor=author,
        kind="edit",
        title="Kinder prompt",
        description="Customers asked for shorter answers.",
        persona_id=persona_id,
        base=base,
        proposed=proposed,
        secrets=secrets,
        submit=submit,
    )


def _actions(cr: ChangeRequest) -> list[str]:
    return list(
        AuditEvent.objects.filter(change_request_id=cr.pk)
        .order_by("id")
        .values_list("action", flat=True)
    )


def _patch_bodies(tavus: EmulatorState) -> list[Any]:
    return [r.body for r in tavus.requests if r.method == "PATCH"]


# -- Creating and editing ------------------------------------------------------------------------


def test_create_saves_a_draft_with_base_proposed_and_minimal_ops(
    workspace: Workspace, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    cr = _edit(workspace, bob, persona_id, submit=False)

    assert cr.status == ChangeStatus.DRAFT
    assert cr.ops == [
        {
            "op": "replace",
            "path": "/system_prompt",
            "value": "You help Acme customers, briefly and kindly.",
        }
    ]
    assert cr.base_document["system_prompt"] == persona_doc()["system_prompt"]
    assert cr.author_name == "bob"
    assert cr.persona_name == "Support Agent"
    assert _actions(cr) == ["review.created"]
    assert tavus.count("PATCH") == 0


def test_create_with_submit_opens_it_for_review(
    workspace: Workspace, bob: Any, persona_id: str
) -> None:
    cr = _edit(workspace, bob, persona_id, submit=True)

    assert cr.status == ChangeStatus.OPEN
    assert cr.submitted_at is not None
    assert _actions(cr) == ["review.created", "review.submitted"]


def test_viewer_cannot_propose_a_change(workspace: Workspace, victor: Any, persona_id: str) -> None:
    with pytest.raises(PermissionDenied, match="Viewer"):
        _edit(workspace, victor, persona_id)


def test_create_kind_keeps_the_document_and_no_ops(workspace: Workspace, bob: Any) -> None:
    cr = service.change_request_create(
        workspace=workspace,
        actor=bob,
        kind="create",
        title="New greeter",
        base=None,
        proposed=persona_doc(persona_name="Greeter"),
    )

    assert cr.ops == []
    assert cr.base_document is None
    assert cr.proposed_document["persona_name"] == "Greeter"
    assert cr.persona_name == "Greeter"


def test_delete_kind_has_no_proposed_document(
    workspace: Workspace, bob: Any, persona_id: str
) -> None:
    cr = service.change_request_create(
        workspace=workspace,
        actor=bob,
        kind="delete",
        title="Retire it",
        persona_id=persona_id,
        base=_live(workspace, persona_id),
        proposed=persona_doc(),
    )

    assert cr.proposed_document is None
    assert cr.ops == []


def test_submit_twice_is_refused_plainly(workspace: Workspace, bob: Any, persona_id: str) -> None:
    cr = _edit(workspace, bob, persona_id, submit=True)

    with pytest.raises(InvalidTransition, match="already waiting for review"):
        service.change_request_submit(change_request=cr, actor=bob)


def test_only_the_author_or_an_admin_can_submit(
    workspace: Workspace, bob: Any, erin: Any, alice: Any, persona_id: str
) -> None:
    cr = _edit(workspace, bob, persona_id, submit=False)

    with pytest.raises(PermissionDenied, match="Only the author"):
        service.change_request_submit(change_request=cr, actor=erin)
    service.change_request_submit(change_request=cr, actor=alice)
    assert cr.status == ChangeStatus.OPEN


# -- Reviewing ----------------------------------------------------------------------------------


def test_author_cannot_approve_own_change(
    workspace: Workspace, alice: Any, persona_id: str
) -> None:
    cr = _edit(workspace, alice, persona_id)

    with pytest.raises(PermissionDenied, match="You can't approve your own change"):
        service.change_request_approve(change_request=cr, actor=alice)
    assert not Review.objects.exists()


def test_editor_cannot_approve(workspace: Workspace, alice: Any, bob: Any, persona_id: str) -> None:
    cr = _edit(workspace, alice, persona_id)

    with pytest.raises(PermissionDenied, match="Only reviewers and admins"):
        service.change_request_approve(change_request=cr, actor=bob)


def test_viewer_cannot_approve(
    workspace: Workspace, bob: Any, victor: Any, persona_id: str
) -> None:
    cr = _edit(workspace, bob, persona_id)

    with pytest.raises(PermissionDenied):
        service.change_request_approve(change_request=cr, actor=victor)


def test_outsider_cannot_review(
    workspace: Workspace, bob: Any, charlie: Any, persona_id: str
) -> None:
    cr = _edit(workspace, bob, persona_id)

    with pytest.raises(PermissionDenied):
        service.change_request_approve(change_request=cr, actor=charlie)


def test_reviewer_approves_and_the_change_is_approved(
    workspace: Workspace, bob: Any, erin: Any, persona_id: str
) -> None:
    cr = _edit(workspace, bob, persona_id)

    service.change_request_approve(change_request=cr, actor=erin, comment="Looks good")

    assert cr.status == ChangeStatus.APPROVED
    assert cr.approval_count() == 1
    assert Comment.objects.get(change_request=cr).body == "Looks good"
    assert _actions(cr)[-1] == "review.approved"


def test_a_draft_cannot_be_approved(
    workspace: Workspace, bob: Any, erin: Any, persona_id: str
) -> None:
    cr = _edit(workspace, bob, persona_id, submit=False)

    with pytest.raises(InvalidTransition, match="still a draft"):
        service.change_request_approve(change_request=cr, actor=erin)


def test_approvals_count_distinct_reviewers_only(
    workspace: Workspace, bob: Any, erin: Any, frank: Any, persona_id: str
) -> None:
    workspace.requires_approval = True
    workspace.approvals_required = 2
    workspace.save()
    cr = _edit(workspace, bob, persona_id)

    service.change_request_approve(change_request=cr, actor=erin)
    service.change_request_approve(change_request=cr, actor=erin)
    assert cr.status == ChangeStatus.OPEN
    assert cr.approval_count() == 1

    service.change_request_approve(change_request=cr, actor=frank)
    assert cr.status == ChangeStatus.APPROVED
    assert cr.approval_count() == 2


def test_request_changes_sends_it_back_and_author_resubmits(
    workspace: Workspace, bob: Any, erin: Any, persona_id: str
) -> None:
    cr = _edit(workspace, bob, persona_id)

    service.change_request_request_changes(change_request=cr, actor=erin, comment="Too short")
    assert cr.status == ChangeStatus.CHANGES_REQUESTED

    service.change_request_submit(change_request=cr, actor=bob)
    assert cr.status == ChangeStatus.OPEN
    assert "review.changes_requested" in _actions(cr)


def test_a_later_approval_replaces_the_same_reviewers_request_for_changes(
    workspace: Workspace, bob: Any, erin: Any, persona_id: str
) -> None:
    cr = _edit(workspace, bob, persona_id)
    service.change_request_request_changes(change_request=cr, actor=erin, comment="Fix it")

    service.change_request_approve(change_request=cr, actor=erin)

    assert cr.status == ChangeStatus.APPROVED


def test_update_after_approval_resets_approvals(
    workspace: Workspace, bob: Any, erin: Any, persona_id: str
) -> None:
    cr = _edit(workspace, bob, persona_id)
    service.change_request_approve(change_request=cr, actor=erin)
    proposed = copy.deepcopy(cr.proposed_document)
    proposed["context"] = "Acme sells garden tools and seeds."

    service.change_request_update(change_request=cr, actor=bob, proposed=proposed, secrets=None)

    assert cr.status == ChangeStatus.OPEN
    assert cr.approval_count() == 0
    assert not Review.objects.filter(change_request=cr, is_current=True).exists()
    assert {op["path"] for op in cr.ops} == {"/system_prompt", "/context"}
    assert _actions(cr)[-1] == "review.updated"


def test_only_the_author_can_update_the_change(
    workspace: Workspace, bob: Any, erin: Any, persona_id: str
) -> None:
    cr = _edit(workspace, bob, persona_id)

    with pytest.raises(PermissionDenied, match="Only the author"):
        service.change_request_update(
            change_request=cr, actor=erin, proposed=cr.proposed_document, secrets=None
        )


def test_update_keeps_a_draft_a_draft(workspace: Workspace, bob: Any, persona_id: str) -> None:
    cr = _edit(workspace, bob, persona_id, submit=False)

    service.change_request_update(
        change_request=cr, actor=bob, proposed=cr.proposed_document, secrets=None, title="Renamed"
    )

    assert cr.status == ChangeStatus.DRAFT
    assert cr.title == "Renamed"


def test_comment_on_one_operation_and_on_the_whole_change(
    workspace: Workspace, bob: Any, victor: Any, persona_id: str
) -> None:
    cr = _edit(workspace, bob, persona_id)

    on_op = service.change_request_comment(change_request=cr, actor=victor, body="Why?", op_index=0)
    whole = service.change_request_comment(change_request=cr, actor=bob, body="Context: tickets")

    assert on_op.op_index == 0
    assert whole.op_index is None
    assert _actions(cr).count("review.commented") == 2


def test_comment_on_a_missing_operation_is_refused(
    workspace: Workspace, bob: Any, persona_id: str
) -> None:
    cr = _edit(workspace, bob, persona_id)

    with pytest.raises(ValueError, match="not part of this change"):
        service.change_request_comment(change_request=cr, actor=bob, body="?", op_index=7)


def test_author_closes_and_a_closed_change_cannot_be_applied(
    workspace: Workspace, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    cr = _edit(workspace, bob, persona_id)

    service.change_request_close(change_request=cr, actor=bob)

    assert cr.status == ChangeStatus.CLOSED
    with pytest.raises(InvalidTransition, match="closed"):
        service.change_request_apply(change_request=cr, actor=bob)
    assert tavus.count("PATCH") == 0
    assert _actions(cr)[-1] == "review.closed"


def test_an_editor_who_is_not_the_author_cannot_close(
    workspace: Workspace, alice: Any, bob: Any, persona_id: str
) -> None:
    cr = _edit(workspace, alice, persona_id)

    with pytest.raises(PermissionDenied, match="author of this change, a reviewer"):
        service.change_request_close(change_request=cr, actor=bob)


# -- Applying -----------------------------------------------------------------------------------


def test_apply_sends_the_stored_patch_when_live_is_unchanged(
    workspace: Workspace, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    cr = _edit(workspace, bob, persona_id)

    service.change_request_apply(change_request=cr, actor=bob)

    assert cr.status == ChangeStatus.APPLIED
    assert cr.applied_by_name == "bob"
    assert _patch_bodies(tavus) == [cr.ops]
    assert tavus.personas[persona_id]["system_prompt"].startswith(
        "You help Acme customers, briefly"
    )
    patched = AuditEvent.objects.get(action="persona.patched")
    assert patched.change_request_id == cr.pk
    assert _actions(cr)[-1] == "review.applied"


def test_apply_needs_approval_when_the_workspace_requires_it(
    workspace: Workspace, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    workspace.requires_approval = True
    workspace.save()
    cr = _edit(workspace, bob, persona_id)

    with pytest.raises(InvalidTransition, match="0 of 1 approval"):
        service.change_request_apply(change_request=cr, actor=bob)
    assert tavus.count("PATCH") == 0
    cr.refresh_from_db()
    assert cr.status == ChangeStatus.OPEN


def test_apply_after_approval_by_the_author_when_required(
    workspace: Workspace, bob: Any, erin: Any, persona_id: str, tavus: EmulatorState
) -> None:
    workspace.requires_approval = True
    workspace.save()
    cr = _edit(workspace, bob, persona_id)
    service.change_request_approve(change_request=cr, actor=erin)

    service.change_request_apply(change_request=cr, actor=bob)

    assert cr.status == ChangeStatus.APPLIED
    assert tavus.count("PATCH") == 1


def test_another_editor_cannot_apply_when_approval_is_required(
    workspace: Workspace, alice: Any, bob: Any, erin: Any, persona_id: str
) -> None:
    workspace.requires_approval = True
    workspace.save()
    cr = _edit(workspace, alice, persona_id)
    service.change_request_approve(change_request=cr, actor=erin)

    with pytest.raises(PermissionDenied, match="author of this change, a reviewer"):
        service.change_request_apply(change_request=cr, actor=bob)


def test_a_draft_can_be_applied_directly_when_no_approval_is_needed(
    workspace: Workspace, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    cr = _edit(workspace, bob, persona_id, submit=False)

    service.change_request_apply(change_request=cr, actor=bob)

    assert cr.status == ChangeStatus.APPLIED


def test_changes_requested_blocks_apply(
    workspace: Workspace, bob: Any, erin: Any, persona_id: str, tavus: EmulatorState
) -> None:
    cr = _edit(workspace, bob, persona_id)
    service.change_request_request_changes(change_request=cr, actor=erin, comment="No")

    with pytest.raises(InvalidTransition, match="asked for changes"):
        service.change_request_apply(change_request=cr, actor=bob)
    assert tavus.count("PATCH") == 0


def test_apply_rebases_over_an_outside_edit_elsewhere(
    workspace: Workspace, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    cr = _edit(workspace, bob, persona_id)
    tavus.edit_persona(
        persona_id, [{"op": "replace", "path": "/context", "value": "Acme sells tractors."}]
    )

    service.change_request_apply(change_request=cr, actor=bob)

    assert cr.status == ChangeStatus.APPLIED
    live = tavus.personas[persona_id]
    assert live["context"] == "Acme sells tractors."
    assert live["system_prompt"] == "You help Acme customers, briefly and kindly."
    assert [op["path"] for op in _patch_bodies(tavus)[0]] == ["/system_prompt"]
    assert "rebased" in AuditEvent.objects.get(action="review.applied").note


def test_apply_with_a_conflict_sends_nothing_and_shows_three_versions(
    workspace: Workspace, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    cr = _edit(workspace, bob, persona_id)
    tavus.edit_persona(
        persona_id, [{"op": "replace", "path": "/system_prompt", "value": "Portal prompt."}]
    )

    service.change_request_apply(change_request=cr, actor=bob)

    assert cr.status == ChangeStatus.CONFLICT
    assert tavus.count("PATCH") == 0
    conflict = AuditEvent.objects.get(action="review.conflict")
    assert conflict.after["system_prompt"] == "Portal prompt."
    assert conflict.payload == {"conflicts": ["/system_prompt"]}
    with pytest.raises(InvalidTransition, match="Update the change from the live version"):
        service.change_request_apply(change_request=cr, actor=bob)


def test_refresh_from_live_resolves_a_conflict_keeping_the_proposed_value(
    workspace: Workspace, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["system_prompt"] = "Mine."
        doc["layers"]["stt"]["hotwords"] = "Acme, trowel, rake"

    cr = _edit(workspace, bob, persona_id, change=change)
    tavus.edit_persona(
        persona_id,
        [
            {"op": "replace", "path": "/system_prompt", "value": "Theirs."},
            {"op": "replace", "path": "/context", "value": "Theirs too."},
        ],
    )
    service.change_request_apply(change_request=cr, actor=bob)
    assert cr.status == ChangeStatus.CONFLICT

    service.change_request_refresh_from_live(change_request=cr, actor=bob)

    assert cr.status == ChangeStatus.OPEN
    assert cr.base_document["system_prompt"] == "Theirs."
    assert cr.proposed_document["system_prompt"] == "Mine."
    assert cr.proposed_document["context"] == "Theirs too."
    assert cr.proposed_document["layers"]["stt"]["hotwords"] == "Acme, trowel, rake"
    assert {op["path"] for op in cr.ops} == {"/system_prompt", "/layers/stt/hotwords"}

    service.change_request_apply(change_request=cr, actor=bob)
    assert cr.status == ChangeStatus.APPLIED
    live = tavus.personas[persona_id]
    assert (live["system_prompt"], live["context"]) == ("Mine.", "Theirs too.")


def test_refresh_of_a_draft_conflict_returns_to_draft(
    workspace: Workspace, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    cr = _edit(workspace, bob, persona_id, submit=False)
    tavus.edit_persona(persona_id, [{"op": "replace", "path": "/system_prompt", "value": "X."}])
    service.change_request_apply(change_request=cr, actor=bob)

    service.change_request_refresh_from_live(change_request=cr, actor=bob)

    assert cr.status == ChangeStatus.DRAFT
    assert "review.conflict" in _actions(cr)


def test_refresh_after_conflict_makes_reviewers_look_again(
    workspace: Workspace, bob: Any, erin: Any, persona_id: str, tavus: EmulatorState
) -> None:
    workspace.requires_approval = True
    workspace.save()
    cr = _edit(workspace, bob, persona_id)
    service.change_request_approve(change_request=cr, actor=erin)
    tavus.edit_persona(persona_id, [{"op": "replace", "path": "/system_prompt", "value": "X."}])
    service.change_request_apply(change_request=cr, actor=bob)

    service.change_request_refresh_from_live(change_request=cr, actor=bob)

    assert cr.status == ChangeStatus.OPEN
    assert cr.approval_count() == 0


def test_create_applies_with_a_post_and_records_the_new_persona(
    workspace: Workspace, bob: Any, tavus: EmulatorState
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

    service.change_request_apply(change_request=cr, actor=bob)

    assert cr.status == ChangeStatus.APPLIED
    assert cr.result_persona_id in tavus.personas
    assert cr.persona_id == cr.result_persona_id
    created = AuditEvent.objects.get(action="persona.created")
    assert created.change_request_id == cr.pk


def test_delete_applies_and_the_persona_is_gone(
    workspace: Workspace, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    cr = service.change_request_create(
        workspace=workspace,
        actor=bob,
        kind="delete",
        title="Retire",
        persona_id=persona_id,
        base=_live(workspace, persona_id),
        proposed=None,
    )

    service.change_request_apply(change_request=cr, actor=bob)

    assert cr.status == ChangeStatus.APPLIED
    assert persona_id not in tavus.personas
    assert AuditEvent.objects.get(action="persona.deleted").change_request_id == cr.pk


def test_delete_of_a_persona_changed_since_is_a_conflict(
    workspace: Workspace, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    cr = service.change_request_create(
        workspace=workspace,
        actor=bob,
        kind="delete",
        title="Retire",
        persona_id=persona_id,
        base=_live(workspace, persona_id),
        proposed=None,
    )
    tavus.edit_persona(persona_id, [{"op": "replace", "path": "/context", "value": "New."}])

    service.change_request_apply(change_request=cr, actor=bob)

    assert cr.status == ChangeStatus.CONFLICT
    assert persona_id in tavus.personas
    assert tavus.count("DELETE") == 0


def test_revert_is_audited_as_a_revert(
    workspace: Workspace, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    base = _live(workspace, persona_id)
    proposed = copy.deepcopy(base)
    proposed["context"] = "The old context."
    cr = service.change_request_create(
        workspace=workspace,
        actor=bob,
        kind="revert",
        title="Back to Monday",
        persona_id=persona_id,
        base=base,
        proposed=proposed,
    )

    service.change_request_apply(change_request=cr, actor=bob)

    assert AuditEvent.objects.get(action="persona.reverted").change_request_id == cr.pk


# -- Failures -----------------------------------------------------------------------------------


def test_failed_apply_keeps_the_change_retryable(
    workspace: Workspace, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    cr = _edit(workspace, bob, persona_id)
    proposed_before = copy.deepcopy(cr.proposed_document)
    tavus.fail_next(1, 500, methods={"PATCH"})

    service.change_request_apply(change_request=cr, actor=bob)

    assert cr.status == ChangeStatus.FAILED
    assert cr.last_error
    assert cr.proposed_document == proposed_before
    failed = AuditEvent.objects.get(action="review.apply_failed")
    assert failed.outcome == "error"

    service.change_request_apply(change_request=cr, actor=bob)
    assert cr.status == ChangeStatus.APPLIED
    assert cr.last_error == ""


def test_tavus_refusing_the_patch_shows_its_message(
    workspace: Workspace, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    cr = _edit(workspace, bob, persona_id)
    tavus.fail_next(1, 400, body={"error": "system_prompt is too long"}, methods={"PATCH"})

    service.change_request_apply(change_request=cr, actor=bob)

    assert cr.status == ChangeStatus.FAILED
    assert "too long" in cr.last_error


def test_tavus_unreachable_at_apply_fails_and_keeps_everything(
    workspace: Workspace, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    cr = _edit(workspace, bob, persona_id)
    workspace.tavus_base_url = "http://127.0.0.1:9"
    workspace.save()
    cr.workspace = workspace

    service.change_request_apply(change_request=cr, actor=bob)

    cr.refresh_from_db()
    assert cr.status == ChangeStatus.FAILED
    assert cr.last_error
    assert cr.ops and cr.proposed_document


# -- Exactly once -------------------------------------------------------------------------------


def test_a_second_apply_is_refused_after_the_first(
    workspace: Workspace, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    cr = _edit(workspace, bob, persona_id)
    first = ChangeRequest.objects.get(pk=cr.pk)
    second = ChangeRequest.objects.get(pk=cr.pk)

    service.change_request_apply(change_request=first, actor=bob)
    with pytest.raises(InvalidTransition, match="already applied"):
        service.change_request_apply(change_request=second, actor=bob)
    with pytest.raises(InvalidTransition, match="already applied"):
        service.change_request_apply(change_request=second, actor=bob)

    assert tavus.count("PATCH") == 1


def test_apply_while_another_apply_runs_is_refused(
    workspace: Workspace, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    cr = _edit(workspace, bob, persona_id)
    # Another request has claimed it (the conditional UPDATE) and is talking to Tavus.
    ChangeRequest.objects.filter(pk=cr.pk).update(status=ChangeStatus.APPLYING)

    with pytest.raises(service.ApplyInProgress, match="This change is already being applied"):
        service.change_request_apply(change_request=cr, actor=bob)
    assert tavus.count("PATCH") == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_applies_send_one_patch(
    workspace: Workspace, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("Needs PostgreSQL: SQLite serialises writers, so the race cannot happen there.")
    cr = _edit(workspace, bob, persona_id)
    tavus.set_latency(100)
    start = threading.Barrier(10)
    outcomes: list[str] = []
    lock = threading.Lock()

    def press_apply() -> None:
        try:
            mine = ChangeRequest.objects.select_related("workspace").get(pk=cr.pk)
            start.wait()
            try:
                service.change_request_apply(change_request=mine, actor=bob)
                result = mine.status
            except InvalidTransition as exc:
                result = str(exc)
            with lock:
                outcomes.append(result)
        finally:
            connection.close()

    threads = [threading.Thread(target=press_apply) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert tavus.count("PATCH") == 1
    assert outcomes.count(ChangeStatus.APPLIED) == 1
    assert len(outcomes) == 10
    assert all(
        o
        in {
            ChangeStatus.APPLIED,
            "This change is already being applied.",
            "This change was already applied.",
        }
        for o in outcomes
    )
    assert "This change is already being applied." in outcomes
    assert ChangeRequest.objects.get(pk=cr.pk).status == ChangeStatus.APPLIED


def _apply_together(workspace: Workspace, actor: Any, crs: list[ChangeRequest]) -> list[str]:
    """Apply each change request from its own thread (and database connection), all at once."""
    start = threading.Barrier(len(crs))
    outcomes: dict[int, str] = {}

    def press_apply(pk: int) -> None:
        try:
            mine = ChangeRequest.objects.select_related("workspace").get(pk=pk)
            start.wait()
            outcomes[pk] = service.change_request_apply(change_request=mine, actor=actor).status
        finally:
            connection.close()

    threads = [threading.Thread(target=press_apply, args=(cr.pk,)) for cr in crs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return [outcomes.get(cr.pk, "no outcome") for cr in crs]


def _setter(pointer_key: str, value: str) -> Any:
    def change(doc: dict[str, Any]) -> None:
        doc[pointer_key] = value

    return change


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("first", "second", "patches"),
    [
        (("context", "First."), ("context", "Second."), 1),
        (("context", "New context."), ("persona_name", "New name"), 2),
    ],
    ids=["same field: one applies, one conflicts", "different fields: both apply"],
)
def test_two_changes_applied_at_once_never_lose_an_update(
    workspace: Workspace,
    bob: Any,
    tavus: EmulatorState,
    first: tuple[str, str],
    second: tuple[str, str],
    patches: int,
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("Needs PostgreSQL: SQLite serialises writers, so the race cannot happen there.")
    tavus.set_latency(50)
    for _ in range(20):
        persona_id = tavus.put_persona(persona_doc())
        crs = [_edit(workspace, bob, persona_id, change=_setter(*c)) for c in (first, second)]

        outcomes = _apply_together(workspace, bob, crs)

        assert tavus.count("PATCH", f"/v2/personas/{persona_id}") == patches
        live = tavus.personas[persona_id]
        if patches == 2:
            assert outcomes == [ChangeStatus.APPLIED, ChangeStatus.APPLIED]
            assert (live[first[0]], live[second[0]]) == (first[1], second[1])
        else:
            assert sorted(outcomes) == [ChangeStatus.APPLIED, ChangeStatus.CONFLICT]
            winner = (first, second)[outcomes.index(ChangeStatus.APPLIED)]
            assert live[winner[0]] == winner[1]


# -- Secrets ------------------------------------------------------------------------------------


def _with_custom_llm(doc: dict[str, Any]) -> None:
    doc["layers"]["llm"] = {
        "model": "my-model",
        "base_url": "https://llm.example.com/v1",
        "api_key": SECRET_MARKER,
    }


def _secret_cr(workspace: Workspace, bob: Any, persona_id: str) -> ChangeRequest:
    return _edit(
        workspace,
        bob,
        persona_id,
        change=_with_custom_llm,
        secrets={"/layers/llm/api_key": SECRET},
    )


def test_a_secret_is_sealed_and_never_stored_in_plain_text(
    workspace: Workspace, bob: Any, persona_id: str
) -> None:
    cr = _secret_cr(workspace, bob, persona_id)

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM personas_app_changerequest")
        rows = cursor.fetchall()
        cursor.execute("SELECT * FROM personas_app_auditevent")
        rows += cursor.fetchall()
    assert SECRET not in json.dumps(rows, default=str)
    assert cr.proposed_document["layers"]["llm"]["api_key"] == SECRET_MARKER
    assert service.change_request_secret_pointers(change_request=cr) == ["/layers/llm/api_key"]


def test_a_changed_secret_gets_an_op_even_when_both_versions_show_the_marker(
    workspace: Workspace, bob: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(
        persona_doc(
            layers={"llm": {"model": "m", "base_url": "https://x.example", "api_key": "old-key"}}
        )
    )

    cr = _edit(
        workspace, bob, persona_id, change=lambda doc: None, secrets={"/layers/llm/api_key": SECRET}
    )

    assert cr.ops == [{"op": "replace", "path": "/layers/llm/api_key", "value": SECRET_MARKER}]
    service.change_request_apply(change_request=cr, actor=bob)
    assert _patch_bodies(tavus) == [
        [{"op": "replace", "path": "/layers/llm/api_key", "value": SECRET}]
    ]


def test_apply_sends_the_real_secret_and_never_the_marker(
    workspace: Workspace, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    cr = _secret_cr(workspace, bob, persona_id)

    service.change_request_apply(change_request=cr, actor=bob)

    assert cr.status == ChangeStatus.APPLIED
    assert tavus.personas[persona_id]["layers"]["llm"]["api_key"] == SECRET
    assert SECRET in json.dumps(_patch_bodies(tavus))
    assert all(SECRET_MARKER not in json.dumps(r.body) for r in tavus.requests)
    assert not AuditEvent.objects.filter(payload__icontains=SECRET).exists()


def test_a_secret_survives_a_rebase(
    workspace: Workspace, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    cr = _secret_cr(workspace, bob, persona_id)
    tavus.edit_persona(persona_id, [{"op": "replace", "path": "/context", "value": "Elsewhere."}])

    service.change_request_apply(change_request=cr, actor=bob)

    assert cr.status == ChangeStatus.APPLIED
    assert tavus.personas[persona_id]["layers"]["llm"]["api_key"] == SECRET
    assert all(SECRET_MARKER not in json.dumps(r.body) for r in tavus.requests)


def test_an_existing_secret_the_change_keeps_is_not_overwritten_with_the_marker(
    workspace: Workspace, bob: Any, tavus: EmulatorState
) -> None:
    persona_id = tavus.put_persona(
        persona_doc(
            layers={"llm": {"model": "m", "base_url": "https://x.example", "api_key": "kept-key"}}
        )
    )

    def change(doc: dict[str, Any]) -> None:
        doc["layers"]["llm"]["model"] = "m2"

    cr = _edit(workspace, bob, persona_id, change=change)
    service.change_request_apply(change_request=cr, actor=bob)

    assert tavus.personas[persona_id]["layers"]["llm"] == {
        "model": "m2",
        "base_url": "https://x.example",
        "api_key": "kept-key",
    }
    assert all(SECRET_MARKER not in json.dumps(r.body) for r in tavus.requests)


def test_updating_a_draft_keeps_earlier_typed_secrets(
    workspace: Workspace, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    cr = _secret_cr(workspace, bob, persona_id)
    proposed = copy.deepcopy(cr.proposed_document)
    proposed["context"] = "Also new."

    service.change_request_update(change_request=cr, actor=bob, proposed=proposed, secrets={})
    service.change_request_apply(change_request=cr, actor=bob)

    assert tavus.personas[persona_id]["layers"]["llm"]["api_key"] == SECRET
    assert tavus.personas[persona_id]["context"] == "Also new."


def test_a_create_with_a_secret_sends_it_in_the_post(
    workspace: Workspace, bob: Any, tavus: EmulatorState
) -> None:
    doc = persona_doc(
        layers={"llm": {"model": "m", "base_url": "https://x.example", "api_key": SECRET_MARKER}}
    )
    cr = service.change_request_create(
        workspace=workspace,
        actor=bob,
        kind="create",
        title="With key",
        base=None,
        proposed=doc,
        secrets={"/layers/llm/api_key": SECRET},
    )

    service.change_request_apply(change_request=cr, actor=bob)

    assert tavus.personas[cr.result_persona_id]["layers"]["llm"]["api_key"] == SECRET
    assert all(SECRET_MARKER not in json.dumps(r.body) for r in tavus.requests)


def test_a_hidden_secret_without_a_value_is_never_sent(
    workspace: Workspace, bob: Any, tavus: EmulatorState
) -> None:
    doc = persona_doc(
        layers={"llm": {"model": "m", "base_url": "https://x.example", "api_key": SECRET_MARKER}}
    )
    cr = service.change_request_create(
        workspace=workspace, actor=bob, kind="create", title="No key", base=None, proposed=doc
    )

    service.change_request_apply(change_request=cr, actor=bob)

    assert cr.status == ChangeStatus.FAILED
    assert "type the secret again" in cr.last_error
    assert tavus.count("POST", "/v2/personas") == 0


def test_a_secret_left_in_clear_in_the_document_is_sealed_too(
    workspace: Workspace, bob: Any, persona_id: str, tavus: EmulatorState
) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["layers"]["llm"] = {"model": "m", "base_url": "https://x.example", "api_key": SECRET}

    cr = _edit(workspace, bob, persona_id, change=change)

    stored = ChangeRequest.objects.filter(pk=cr.pk).values().get()
    assert SECRET not in json.dumps(stored, default=str)
    service.change_request_apply(change_request=cr, actor=bob)
    assert tavus.personas[persona_id]["layers"]["llm"]["api_key"] == SECRET
