"""Promotion between workspaces: links, the comparison, the change request it opens in the other
workspace, and that no secret ever crosses from one workspace to the other.

Two emulators, two Tavus accounts with different keys: "Acme" (staging, `tavus`) and
"Production" (`prod_tavus`). What reached each account is read from its own request log.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from personas_app.devtools.emulator import EmulatorState
from personas_app.models import (
    AuditEvent,
    ChangeRequest,
    ChangeStatus,
    PersonaLink,
    Role,
    Workspace,
)
from personas_app.persona.redaction import SECRET_MARKER
from personas_app.services import promotion
from personas_app.services.reviews import change_request_apply, change_request_approve
from tests.builders import (
    PROD_LLM_KEY,
    PROD_TTS_KEY,
    STAGING_LLM_KEY,
    STAGING_TTS_KEY,
    make_member,
    make_user,
    persona_doc,
    production_doc,
    staging_doc,
)

SOURCE_SECRETS = (STAGING_LLM_KEY, STAGING_TTS_KEY)


@pytest.fixture
def here(tavus: EmulatorState) -> str:
    return tavus.put_persona(staging_doc())


@pytest.fixture
def there(prod_tavus: EmulatorState) -> str:
    return prod_tavus.put_persona(production_doc())


@pytest.fixture
def link(workspace: Workspace, production: Workspace, alice: Any, here: str, there: str) -> Any:
    return promotion.persona_link_create(
        workspace=workspace,
        persona_id=here,
        target_workspace=production,
        target_persona_id=there,
        actor=alice,
        replicas={"r90bbd427f71": "rf4e9d9790f0"},
        documents={"d1234567890": "d3579111315"},
    )


def _plan(link: Any, workspace: Workspace, here: str, actor: Any) -> promotion.PromotionPlan:
    return promotion.persona_promotion_plan(
        link=link, workspace=workspace, persona_id=here, actor=actor
    )


def _propose(link: Any, workspace: Workspace, here: str, actor: Any) -> ChangeRequest:
    return promotion.persona_promotion_propose(
        link=link, workspace=workspace, persona_id=here, actor=actor
    )


def _everything_stored() -> str:
    """Every audit record and change request, as text."""
    rows = [
        *AuditEvent.objects.values(),
        *ChangeRequest.objects.values(),
        *PersonaLink.objects.values(),
    ]
    return json.dumps(rows, default=str)


# -- Links ------------------------------------------------------------------------------------


def test_a_link_is_seen_from_both_workspaces_and_audited_in_each(
    link: Any, workspace: Workspace, production: Workspace, here: str, there: str
) -> None:
    assert link.target_persona_name == "Support Agent"
    assert AuditEvent.objects.filter(
        workspace=workspace, action="persona.linked", persona_id=here
    ).exists()
    assert AuditEvent.objects.filter(
        workspace=production, action="persona.linked", persona_id=there
    ).exists()


def test_linking_reads_the_counterpart_with_the_other_workspaces_own_key(
    workspace: Workspace, production: Workspace, alice: Any, here: str, prod_tavus: EmulatorState
) -> None:
    with pytest.raises(promotion.PromotionUpstreamError, match="“Production”"):
        promotion.persona_link_create(
            workspace=workspace,
            persona_id=here,
            target_workspace=production,
            target_persona_id="p0000missing",
            actor=alice,
        )
    assert prod_tavus.count("GET", "/v2/personas/p0000missing") == 1
    assert not PersonaLink.objects.exists()


def test_an_outsider_cannot_link_to_a_workspace_they_do_not_belong_to(
    workspace: Workspace,
    production: Workspace,
    charlie: Any,
    here: str,
    there: str,
    prod_tavus: EmulatorState,
) -> None:
    make_member(workspace, charlie, Role.EDITOR)  # an editor here, nothing in Production
    with pytest.raises(promotion.PromotionError, match="not a member of that workspace"):
        promotion.persona_link_create(
            workspace=workspace,
            persona_id=here,
            target_workspace=production,
            target_persona_id=there,
            actor=charlie,
        )
    assert prod_tavus.count() == 0
    assert not PersonaLink.objects.exists()


def test_a_viewer_in_the_other_workspace_cannot_link(
    workspace: Workspace, production: Workspace, bob: Any, here: str, there: str
) -> None:
    make_member(production, bob, Role.VIEWER)
    with pytest.raises(promotion.PromotionError, match="Production” is Viewer"):
        promotion.persona_link_create(
            workspace=workspace,
            persona_id=here,
            target_workspace=production,
            target_persona_id=there,
            actor=bob,
        )


def test_the_same_two_personas_cannot_be_linked_twice(
    link: Any, workspace: Workspace, production: Workspace, alice: Any, here: str, there: str
) -> None:
    with pytest.raises(promotion.PromotionError, match="already linked"):
        promotion.persona_link_create(
            workspace=production,
            persona_id=there,
            target_workspace=workspace,
            target_persona_id=here,
            actor=alice,
        )


def test_unlinking_removes_the_link_and_is_audited_in_both(
    link: Any, workspace: Workspace, production: Workspace, alice: Any
) -> None:
    promotion.persona_link_delete(link=link, actor=alice)
    assert not PersonaLink.objects.exists()
    for ws in (workspace, production):
        assert AuditEvent.objects.filter(workspace=ws, action="persona.unlinked").exists()


# -- Comparing ----------------------------------------------------------------------------------


def test_compare_plans_the_minimal_patch_with_ids_mapped(
    link: Any, workspace: Workspace, alice: Any, here: str
) -> None:
    plan = _plan(link, workspace, here, alice)
    by_path = {op["path"]: op for op in plan.ops}
    assert by_path["/system_prompt"]["value"].endswith("orders and returns.")
    assert by_path["/layers/tts/external_voice_id"]["value"] == "voice-new"
    assert by_path["/default_replica_id"]["value"] == "rf4e9d9790f0"  # mapped
    assert plan.proposed["document_ids"] == ["d3579111315", "d2468101214"]
    assert [m.here_id for m in plan.unmapped] == ["d2468101214"]
    assert not any(path.startswith("/persona_id") or "api_key" in path for path in by_path)


def test_compare_keeps_the_other_workspaces_secrets_and_never_reads_ours(
    link: Any, workspace: Workspace, alice: Any, here: str
) -> None:
    plan = _plan(link, workspace, here, alice)
    assert plan.secrets_kept == ["/layers/llm/api_key", "/layers/tts/api_key"]
    text = json.dumps([plan.here, plan.there, plan.proposed, plan.ops])
    for secret in (*SOURCE_SECRETS, PROD_LLM_KEY, PROD_TTS_KEY):
        assert secret not in text


def test_a_secret_the_other_persona_lacks_is_left_behind_not_copied(
    workspace: Workspace,
    production: Workspace,
    alice: Any,
    here: str,
    prod_tavus: EmulatorState,
) -> None:
    bare = prod_tavus.put_persona(persona_doc())  # no custom LLM, no voice layer
    link = promotion.persona_link_create(
        workspace=workspace,
        persona_id=here,
        target_workspace=production,
        target_persona_id=bare,
        actor=alice,
    )
    plan = _plan(link, workspace, here, alice)
    assert plan.secrets_left_behind == ["/layers/llm/api_key", "/layers/tts/api_key"]
    assert "api_key" not in plan.proposed["layers"]["llm"]
    assert "api_key" not in plan.proposed["layers"]["tts"]
    assert SECRET_MARKER not in json.dumps(plan.ops)


def test_compare_works_the_other_way_with_the_mapping_reversed(
    link: Any, production: Workspace, alice: Any, there: str
) -> None:
    plan = _plan(link, production, there, alice)
    by_path = {op["path"]: op for op in plan.ops}
    assert by_path["/layers/tts/external_voice_id"]["value"] == "voice-old"
    assert plan.proposed["document_ids"] == ["d9876543210"]  # no pair maps it back


def test_a_failing_counterpart_account_is_named_in_the_message(
    link: Any, workspace: Workspace, alice: Any, here: str, prod_tavus: EmulatorState
) -> None:
    prod_tavus.fail_next(1, 401)
    with pytest.raises(promotion.PromotionUpstreamError, match=r"“Production”.*API key"):
        _plan(link, workspace, here, alice)


def test_a_failing_account_here_is_named_too(
    link: Any, workspace: Workspace, alice: Any, here: str, tavus: EmulatorState
) -> None:
    tavus.fail_next(5, 503)
    with pytest.raises(promotion.PromotionUpstreamError, match="“Acme”"):
        _plan(link, workspace, here, alice)


# -- Proposing ---------------------------------------------------------------------------------


@pytest.fixture
def rita(production: Workspace) -> Any:
    """A reviewer in Production, which needs one approval."""
    production.requires_approval = True
    production.save(update_fields=["requires_approval"])
    user = make_user("rita")
    make_member(production, user, Role.REVIEWER)
    return user


def test_propose_opens_a_change_request_in_the_other_workspace(
    link: Any, workspace: Workspace, production: Workspace, alice: Any, here: str, there: str
) -> None:
    change = _propose(link, workspace, here, alice)
    assert change.workspace == production
    assert change.persona_id == there
    assert change.status == ChangeStatus.OPEN
    assert change.author == alice
    assert "Acme" in change.description
    assert not change.secrets_sealed
    for ws in (workspace, production):
        assert AuditEvent.objects.filter(workspace=ws, action="persona.promotion_proposed").exists()


def test_promotion_never_copies_a_secret(
    link: Any,
    workspace: Workspace,
    production: Workspace,
    alice: Any,
    rita: Any,
    here: str,
    there: str,
    prod_tavus: EmulatorState,
) -> None:
    change = _propose(link, workspace, here, alice)
    change_request_approve(change_request=change, actor=rita)
    applied = change_request_apply(change_request=change, actor=alice)
    assert applied.status == ChangeStatus.APPLIED

    live = prod_tavus.personas[there]
    assert live["system_prompt"].endswith("orders and returns.")
    assert live["layers"]["tts"]["external_voice_id"] == "voice-new"
    assert live["default_replica_id"] == "rf4e9d9790f0"
    assert live["layers"]["llm"]["api_key"] == PROD_LLM_KEY
    assert live["layers"]["tts"]["api_key"] == PROD_TTS_KEY
    patches = [r.body for r in prod_tavus.requests if r.method == "PATCH"]
    assert len(patches) == 1
    sent = json.dumps(patches)
    for secret in SOURCE_SECRETS:
        assert secret not in sent
    assert SECRET_MARKER not in sent
    stored = _everything_stored()
    for secret in (*SOURCE_SECRETS, PROD_LLM_KEY, PROD_TTS_KEY):
        assert secret not in stored


def test_a_viewer_in_the_other_workspace_is_refused_and_nothing_is_written_there(
    link: Any,
    workspace: Workspace,
    production: Workspace,
    bob: Any,
    here: str,
    tavus: EmulatorState,
    prod_tavus: EmulatorState,
) -> None:
    make_member(production, bob, Role.VIEWER)
    before_here, before_there = tavus.count(), prod_tavus.count()
    audit_there = AuditEvent.objects.filter(workspace=production).count()
    with pytest.raises(promotion.PromotionError, match="Production” is Viewer"):
        _propose(link, workspace, here, bob)
    assert (tavus.count(), prod_tavus.count()) == (before_here, before_there)
    assert not ChangeRequest.objects.exists()
    assert AuditEvent.objects.filter(workspace=production).count() == audit_there


def test_nothing_to_propose_when_the_two_already_match(
    workspace: Workspace,
    production: Workspace,
    alice: Any,
    tavus: EmulatorState,
    prod_tavus: EmulatorState,
) -> None:
    same_here = tavus.put_persona(persona_doc())
    same_there = prod_tavus.put_persona(persona_doc())
    link = promotion.persona_link_create(
        workspace=workspace,
        persona_id=same_here,
        target_workspace=production,
        target_persona_id=same_there,
        actor=alice,
    )
    with pytest.raises(promotion.PromotionError, match="nothing to propose"):
        _propose(link, workspace, same_here, alice)
    assert not ChangeRequest.objects.exists()
