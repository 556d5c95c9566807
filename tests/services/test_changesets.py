"""Change sets: one edit planned per persona (no-ops apart), reviewed once, applied exactly once per
persona by a real task worker, reverted as one.

Tavus is the emulator: outside edits are tavus.edit_persona, failures tavus.fail_next, and what
reached Tavus is read from its request log. Background work runs in real `manage.py db_worker`
processes (tests/workers.py), so those tests are transactional.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import (
    AuditEvent,
    ChangeSet,
    ChangeSetItem,
    ChangeSetStatus,
    ItemStatus,
    Role,
    Workspace,
)
from personas_app.models.reviews import InvalidTransition
from personas_app.persona.redaction import SECRET_MARKER
from personas_app.services import changesets as service
from tests.builders import make_member, make_user, persona_doc
from tests.workers import wait_until, worker_pool

ADD_SPARROW = [{"op": "add_item", "path": "/layers/stt/hotwords", "value": "Sparrow"}]
SECRET = "sk-live-change-set-7777"

# Worker processes get short Tavus timeouts, so a claim's lease (services.changesets.claim_lease)
# is a few seconds and a test never waits long for one to run out.
WORKER_ENV = {"TAVUS_TIMEOUT_CONNECT": "0.25", "TAVUS_TIMEOUT_READ": "1", "TAVUS_RETRIES": "0"}


def _personas(tavus: EmulatorState, count: int, **overrides: Any) -> list[str]:
    return [
        tavus.put_persona(persona_doc(persona_name=f"Agent {i:02}", **overrides))
        for i in range(count)
    ]


def _successful_patches(tavus: EmulatorState, persona_id: str) -> int:
    return sum(
        1
        for r in tavus.requests
        if r.method == "PATCH" and r.path == f"/v2/personas/{persona_id}" and r.status == 200
    )


# -- Planning -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_personas_the_edit_leaves_unchanged_are_listed_apart(
    workspace: Workspace, bob: Any, tavus: EmulatorState
) -> None:
    changed = _personas(tavus, 2)
    already = tavus.put_persona(
        persona_doc(
            persona_name="Has it",
            layers={"stt": {"stt_engine": "tavus-auto", "hotwords": "Sparrow"}},
        )
    )
    cs = service.change_set_create(
        workspace=workspace,
        actor=bob,
        persona_ids=[*changed, already],
        edit=ADD_SPARROW,
        title="Add Sparrow",
    )
    items = {item.persona_id: item for item in cs.items.all()}
    assert items[already].status == ItemStatus.NO_CHANGE
    assert items[already].ops == []
    for persona_id in changed:
        assert items[persona_id].status == ItemStatus.WAITING
        assert items[persona_id].ops == [
            {"op": "replace", "path": "/layers/stt/hotwords", "value": "Acme, trowel, Sparrow"}
        ]


@pytest.mark.django_db
def test_creating_reads_each_persona_once_and_sends_nothing(
    workspace: Workspace, bob: Any, tavus: EmulatorState
) -> None:
    ids = _personas(tavus, 6)
    service.change_set_create(
        workspace=workspace, actor=bob, persona_ids=ids, edit=ADD_SPARROW, title="Add Sparrow"
    )
    assert tavus.count("GET", "/v2/personas/") == 6
    assert tavus.count("PATCH") == 0


@pytest.mark.django_db
def test_a_persona_gone_from_tavus_becomes_a_failed_item(
    workspace: Workspace, bob: Any, tavus: EmulatorState
) -> None:
    [kept] = _personas(tavus, 1)
    cs = service.change_set_create(
        workspace=workspace,
        actor=bob,
        persona_ids=[kept, "pdoesnotexist"],
        edit=ADD_SPARROW,
        title="Add Sparrow",
    )
    gone = cs.items.get(persona_id="pdoesnotexist")
    assert gone.status == ItemStatus.FAILED
    assert "no longer exists" in gone.message


@pytest.mark.django_db
def test_a_secret_the_edit_sets_is_sealed_never_stored_in_clear(
    workspace: Workspace, bob: Any, tavus: EmulatorState
) -> None:
    ids = _personas(tavus, 2)
    edit = [{"op": "set", "path": "/layers/llm/api_key", "value": SECRET}]
    cs = service.change_set_create(
        workspace=workspace, actor=bob, persona_ids=ids, edit=edit, title="New key"
    )
    stored = json.dumps(
        list(ChangeSetItem.objects.filter(change_set=cs).values("base", "proposed", "ops"))
    )
    assert SECRET not in stored
    assert SECRET not in json.dumps(ChangeSet.objects.get(pk=cs.pk).edit)
    assert SECRET not in json.dumps(list(AuditEvent.objects.values("payload", "note")))
    item = cs.items.first()
    assert item is not None
    assert item.ops == [{"op": "add", "path": "/layers/llm/api_key", "value": SECRET_MARKER}]


@pytest.mark.django_db
def test_an_edit_with_problems_is_refused(workspace: Workspace, bob: Any) -> None:
    with pytest.raises(service.ChangeSetError, match="persona_id is set by Tavus"):
        service.change_set_create(
            workspace=workspace,
            actor=bob,
            persona_ids=["p1"],
            edit=[{"op": "set", "path": "/persona_id", "value": "x"}],
            title="Bad",
        )


# -- Review ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_author_cannot_approve_their_own_change_set(
    workspace: Workspace, alice: Any, tavus: EmulatorState
) -> None:
    cs = service.change_set_create(
        workspace=workspace,
        actor=alice,
        persona_ids=_personas(tavus, 1),
        edit=ADD_SPARROW,
        title="Add Sparrow",
        submit=True,
    )
    with pytest.raises(PermissionDenied, match="your own change set"):
        service.change_set_approve(change_set=cs, actor=alice)


@pytest.mark.django_db
def test_a_workspace_that_needs_approval_applies_only_approved_change_sets(
    workspace: Workspace, bob: Any, erin: Any, tavus: EmulatorState
) -> None:
    workspace.requires_approval = True
    workspace.save()
    cs = service.change_set_create(
        workspace=workspace,
        actor=bob,
        persona_ids=_personas(tavus, 2),
        edit=ADD_SPARROW,
        title="Add Sparrow",
        submit=True,
    )
    with pytest.raises(InvalidTransition, match="0 of 1 approval"):
        service.change_set_apply(change_set=cs, actor=bob)
    cs = service.change_set_approve(change_set=cs, actor=erin, comment="Looks right")
    assert cs.status == ChangeSetStatus.APPROVED
    cs = service.change_set_apply(change_set=cs, actor=bob, background=False)
    assert cs.status == ChangeSetStatus.APPLIED
    assert tavus.count("PATCH") == 2


@pytest.mark.django_db
def test_a_viewer_cannot_propose_a_change_set(workspace: Workspace, tavus: EmulatorState) -> None:
    viewer = make_user("victor")
    make_member(workspace, viewer, Role.VIEWER)
    with pytest.raises(PermissionDenied):
        service.change_set_create(
            workspace=workspace,
            actor=viewer,
            persona_ids=_personas(tavus, 1),
            edit=ADD_SPARROW,
            title="Add Sparrow",
        )


# -- Apply in this process (what `manage.py personas propose --apply` does) and revert -----------


@pytest.mark.django_db
def test_applied_items_link_their_audit_records_and_the_change_set_reverts_as_one(
    workspace: Workspace, bob: Any, erin: Any, tavus: EmulatorState
) -> None:
    ids = _personas(tavus, 3)
    cs = service.change_set_create(
        workspace=workspace, actor=bob, persona_ids=ids, edit=ADD_SPARROW, title="Add Sparrow"
    )
    cs = service.change_set_apply(change_set=cs, actor=bob, background=False)
    assert cs.status == ChangeSetStatus.APPLIED
    for item in cs.items.all():
        assert item.status == ItemStatus.SENT
        assert item.audit_event is not None
        assert item.audit_event.action == "persona.patched"
        assert item.audit_event.request_id == item.request_id
        assert item.audit_event.change_set_id == cs.pk
    assert AuditEvent.objects.filter(change_set_id=cs.pk, action="changeset.applied").exists()

    revert = service.change_set_revert(change_set=cs, actor=bob, submit=True)
    assert revert.reverts == cs
    assert {i.persona_id for i in revert.items.all()} == set(ids)
    service.change_set_approve(change_set=revert, actor=erin)
    revert = service.change_set_apply(change_set=revert, actor=bob, background=False)
    assert revert.status == ChangeSetStatus.APPLIED
    for persona_id in ids:
        assert tavus.personas[persona_id]["layers"]["stt"]["hotwords"] == "Acme, trowel"


@pytest.mark.django_db
def test_a_secret_reaches_tavus_only_when_the_item_is_sent(
    workspace: Workspace, bob: Any, tavus: EmulatorState
) -> None:
    ids = _personas(tavus, 1)
    edit = [{"op": "set", "path": "/layers/llm/api_key", "value": SECRET}]
    cs = service.change_set_create(
        workspace=workspace, actor=bob, persona_ids=ids, edit=edit, title="New key"
    )
    service.change_set_apply(change_set=cs, actor=bob, background=False)
    assert tavus.personas[ids[0]]["layers"]["llm"]["api_key"] == SECRET


# -- A real worker --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_thirty_personas_with_no_ops_conflicts_and_tavus_failures(
    workspace: Workspace, bob: Any, erin: Any, tavus: EmulatorState, tmp_path: Path
) -> None:
    workspace.requires_approval = True
    workspace.save()
    ids = _personas(tavus, 25)
    no_ops = [
        tavus.put_persona(
            persona_doc(
                persona_name=f"Has it {i}",
                layers={"stt": {"stt_engine": "tavus-auto", "hotwords": "Acme, Sparrow"}},
            )
        )
        for i in range(5)
    ]
    cs = service.change_set_create(
        workspace=workspace,
        actor=bob,
        persona_ids=[*ids, *no_ops],
        edit=ADD_SPARROW,
        title="Add Sparrow",
        submit=True,
    )
    assert service.change_set_counts(cs)[ItemStatus.NO_CHANGE] == 5
    # Outside edits after the change set was made: the same field (conflicts), another field
    # (rebased, still sent).
    conflicted, rebased = ids[:4], ids[-3:]
    for persona_id in conflicted:
        tavus.edit_persona(
            persona_id, [{"op": "replace", "path": "/layers/stt/hotwords", "value": "Other"}]
        )
    for persona_id in rebased:
        tavus.edit_persona(
            persona_id, [{"op": "replace", "path": "/context", "value": "Changed in the portal"}]
        )
    tavus.fail_next(3, 400, body={"error": "Invalid hotwords"}, methods={"PATCH"})
    tavus.fail_next(1, 429, retry_after=0.2, methods={"PATCH"})
    service.change_set_approve(change_set=cs, actor=erin)

    with worker_pool(tmp_path, WORKER_ENV) as pool:
        pool.start()
        service.change_set_apply(change_set=cs, actor=bob)

        def finished() -> bool:
            cs.refresh_from_db()
            return cs.is_finished

        wait_until(finished, timeout=60, what="the change set to finish", pool=pool)

    counts = service.change_set_counts(cs)
    assert counts == {
        ItemStatus.WAITING: 0,
        ItemStatus.SENT: 18,
        ItemStatus.NO_CHANGE: 5,
        ItemStatus.CONFLICT: 4,
        ItemStatus.FAILED: 3,
    }, [(i.persona_name, i.status, i.message) for i in cs.items.all()]
    assert cs.status == ChangeSetStatus.PARTIALLY_APPLIED
    items = {item.persona_id: item for item in cs.items.all()}
    for persona_id in conflicted:
        assert items[persona_id].status == ItemStatus.CONFLICT
        assert "Speech recognition" in items[persona_id].message or "otwords" in (
            items[persona_id].message
        )
        assert _successful_patches(tavus, persona_id) == 0
    for item in items.values():
        if item.status == ItemStatus.FAILED:
            assert "Invalid hotwords" in item.message
        if item.status == ItemStatus.SENT:
            assert _successful_patches(tavus, item.persona_id) == 1
            assert item.audit_event is not None
            assert "Sparrow" in tavus.personas[item.persona_id]["layers"]["stt"]["hotwords"]
    for persona_id in rebased:
        assert items[persona_id].status == ItemStatus.SENT
        assert tavus.personas[persona_id]["context"] == "Changed in the portal"
    for persona_id in no_ops:
        assert not any(
            r.method == "PATCH" and r.path == f"/v2/personas/{persona_id}" for r in tavus.requests
        )
    assert (
        AuditEvent.objects.filter(change_set_id=cs.pk, action="changeset.item_conflict").count()
        == 4
    )
