"""Reverting a persona to an earlier version, planned first and then sent like any other edit.

A plan reads the LIVE persona (one GET, through persona_fetch so outside changes are noticed),
takes the chosen version's snapshot, keeps every secret as it is live (history stores secrets
masked, so it cannot restore them), and computes the minimal JSON Patch live -> snapshot. Applying
sends that patch through services.personas.persona_apply_patch, so the revert is audited as
"persona.reverted" like any edit. Must not import views.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from ..models import AuditEvent, ChangeKind, ChangeRequest, Workspace
from ..persona.jsontypes import JSONObject, Op, from_pointer, lookup
from ..persona.patching import minimal_patch
from ..persona.redaction import (
    contains_marker,
    redact,
    redact_ops,
    restore_secrets,
    secret_paths_present,
)
from ..tavus import TavusClient
from .personas import PatchOutcome, persona_apply_patch, persona_fetch
from .reviews import change_request_create
from .workspaces import tavus_client_for


class RevertError(Exception):
    """A revert that cannot be planned or applied, with a message for the user."""


class RevertNeedsReview(RevertError):
    """The workspace requires approval: a revert must be proposed as a change request."""


class RevertPlanChanged(RevertError):
    """The live persona changed between the preview and the confirmation."""

    def __init__(self, message: str, plan: RevertPlan) -> None:
        super().__init__(message)
        self.plan = plan


@dataclass(frozen=True)
class RevertPlan:
    """What a revert would send. `target` and `live` hold live secrets: never render them as is."""

    event: AuditEvent
    ops: list[Op]
    target: JSONObject
    live: JSONObject
    secrets_kept: list[str]
    outside_change: AuditEvent | None = None

    @property
    def fingerprint(self) -> str:
        """Identifies the patch (secrets masked), so a confirmation applies what was previewed."""
        text = json.dumps(redact_ops(self.ops), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    @property
    def is_empty(self) -> bool:
        return not self.ops


def revert_note(event: AuditEvent) -> str:
    """The audit note of a revert: which version it went back to."""
    when = timezone.localtime(event.created_at).strftime("%Y-%m-%d %H:%M %Z")
    return f"Reverted to version from {when} (#{event.pk})"


def _version_event(*, workspace: Workspace, persona_id: str, event_id: int) -> AuditEvent:
    event = AuditEvent.objects.filter(
        workspace=workspace, persona_id=persona_id, id=event_id
    ).first()
    if event is None:
        raise RevertError("This version does not exist for this persona.")
    if not event.is_version or not isinstance(event.after, dict):
        raise RevertError(
            "This entry of the history is not a version of the persona "
            "(it failed or deleted the persona), so there is nothing to revert to."
        )
    return event


def _keep_live_secrets(target: JSONObject, live: JSONObject) -> tuple[JSONObject, list[str]]:
    """Put every live secret into `target` where its section exists there; list what was kept."""
    result = restore_secrets(target, live)
    kept: list[str] = []
    for pointer in secret_paths_present(live):
        segments = from_pointer(pointer)
        _, live_value = lookup(live, segments)
        parent_found, parent = lookup(result, segments[:-1])
        if not parent_found or not isinstance(parent, dict):
            continue  # the whole section goes back to a version without it
        parent[segments[-1]] = copy.deepcopy(live_value)
        kept.append(pointer)
    return result, kept


def persona_revert_plan(
    *,
    workspace: Workspace,
    persona_id: str,
    event_id: int,
    request_id: str = "",
    client: TavusClient | None = None,
) -> RevertPlan:
    """The minimal patch from the live persona back to version `event_id` (one GET, no write)."""
    event = _version_event(workspace=workspace, persona_id=persona_id, event_id=event_id)
    fetched = persona_fetch(
        workspace=workspace, persona_id=persona_id, request_id=request_id, client=client
    )
    live = fetched.persona
    assert isinstance(event.after, dict)
    target, kept = _keep_live_secrets(event.after, live)
    ops = minimal_patch(live, target)
    if any(contains_marker(op.get("value")) for op in ops):
        # restore_secrets never leaves the marker; this guards against a masked live value.
        raise RevertError("This version cannot be restored safely: it would send a hidden value.")
    return RevertPlan(
        event=event,
        ops=ops,
        target=target,
        live=live,
        secrets_kept=kept,
        outside_change=fetched.outside_change,
    )


@dataclass(frozen=True)
class RevertResult:
    plan: RevertPlan
    changed: bool
    persona: JSONObject


def persona_revert(
    *,
    workspace: Workspace,
    persona_id: str,
    event_id: int,
    actor: AbstractBaseUser,
    request_id: str = "",
    expected_fingerprint: str = "",
) -> RevertResult:
    """Plan the revert again against the live persona and send it as one audited PATCH.

    Refuses when the workspace requires approval (RevertNeedsReview) and, when
    `expected_fingerprint` is given, when the patch differs from the one previewed
    (RevertPlanChanged, carrying the new plan). An empty patch sends nothing.
    """
    if workspace.sends_to_review():
        raise RevertNeedsReview(
            "This workspace requires review: propose this revert as a change request."
        )
    client = tavus_client_for(workspace)
    plan = persona_revert_plan(
        workspace=workspace,
        persona_id=persona_id,
        event_id=event_id,
        request_id=request_id,
        client=client,
    )
    if expected_fingerprint and expected_fingerprint != plan.fingerprint:
        raise RevertPlanChanged(
            "The persona changed since you opened this page, so the revert would now send "
            "something else. Check the updated changes below and confirm again.",
            plan,
        )
    if plan.is_empty:
        return RevertResult(plan=plan, changed=False, persona=plan.live)
    outcome: PatchOutcome = persona_apply_patch(
        workspace=workspace,
        persona_id=persona_id,
        ops=plan.ops,
        before=plan.live,
        actor=actor,
        request_id=request_id,
        action="persona.reverted",
        note=revert_note(plan.event),
        client=client,
    )
    return RevertResult(plan=plan, changed=outcome.changed, persona=outcome.persona)


def persona_revert_propose(
    *,
    workspace: Workspace,
    persona_id: str,
    event_id: int,
    actor: AbstractBaseUser,
    request_id: str = "",
) -> ChangeRequest:
    """In a workspace that requires review: open a "revert" change request instead of applying.

    The change request holds the live persona (redacted) as its base and the version (with the
    live secrets kept, redacted too) as its proposal, so reviewers see exactly this revert.
    Raises RevertError when the persona already matches the version.
    """
    plan = persona_revert_plan(
        workspace=workspace, persona_id=persona_id, event_id=event_id, request_id=request_id
    )
    if plan.is_empty:
        raise RevertError("The persona already matches this version; there is nothing to propose.")
    name = str(plan.live.get("persona_name") or plan.event.persona_name or persona_id)
    when = timezone.localtime(plan.event.created_at).strftime("%d %b %Y, %H:%M")
    return change_request_create(
        workspace=workspace,
        actor=actor,
        kind=ChangeKind.REVERT,
        title=f"Revert “{name}” to the version of {when}",
        description=revert_note(plan.event),
        persona_id=persona_id,
        persona_name=name,
        base=redact(plan.live),
        proposed=redact(plan.target),
        submit=True,
        request_id=request_id,
    )
