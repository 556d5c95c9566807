"""Change requests: propose a persona change, review it, then apply it safely (plan, then apply).

Every transition runs in a transaction that locks the change request's row, checks the move with the
model's transition method and writes one audit record ("review.*"). Applying is different: the
status moves to "applying" with one conditional UPDATE whose row count decides who goes ahead, so
two people pressing Apply at once (or a double click) send one request to Tavus. The Tavus calls run
outside any transaction; whatever happens, the change request keeps everything that was typed.

Secrets a change sets never sit in a document column: the documents and ops hold
redaction.SECRET_MARKER and the values live encrypted in secrets_sealed until the moment they are
sent. Nothing here renders HTML or reads requests.
"""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import cast

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from personas_app.crypto import seal, unseal
from personas_app.models import (
    ChangeKind,
    ChangeRequest,
    ChangeStatus,
    Comment,
    Membership,
    Review,
    ReviewDecision,
    Workspace,
)
from personas_app.models.reviews import ApplyInProgress, InvalidTransition
from personas_app.permissions import Perm, role_can
from personas_app.persona.jsontypes import JSON, JSONObject, Op, from_pointer, lookup, set_at
from personas_app.persona.patching import carry_over, minimal_patch, rebase
from personas_app.persona.redaction import (
    SECRET_MARKER,
    contains_marker,
    redact,
    restore_ops,
    secret_paths_present,
    with_secret_ops,
)
from personas_app.services.audit import audit_record
from personas_app.services.notifications import notify_change
from personas_app.services.personas import (
    MissingSecret,
    persona_create,
    persona_delete,
    persona_fetch,
    persona_safe_apply,
)
from personas_app.services.workspaces import NoActiveKey
from personas_app.tavus import TavusError

__all__ = [
    "ApplyInProgress",
    "InvalidTransition",
    "change_request_apply",
    "change_request_approve",
    "change_request_close",
    "change_request_comment",
    "change_request_create",
    "change_request_refresh_from_live",
    "change_request_request_changes",
    "change_request_secret_pointers",
    "change_request_submit",
    "change_request_update",
]

# A change left "applying" this long (the server died mid-apply) may be applied again.
STALE_APPLYING = timedelta(minutes=10)


# -- Who may do what ------------------------------------------------------------------------------


def _role(workspace: Workspace, actor: AbstractBaseUser) -> str | None:
    return (
        Membership.objects.filter(workspace=workspace, user_id=actor.pk)
        .values_list("role", flat=True)
        .first()
    )


def _require(workspace: Workspace, actor: AbstractBaseUser, perm: Perm, message: str) -> str:
    role = _role(workspace, actor)
    if not role_can(role, perm):
        raise PermissionDenied(message)
    assert role is not None
    return role


def _is_author(change_request: ChangeRequest, actor: AbstractBaseUser) -> bool:
    return change_request.author_id is not None and change_request.author_id == actor.pk


def _require_author_or(
    change_request: ChangeRequest, actor: AbstractBaseUser, perm: Perm, message: str
) -> None:
    """The author (an editor at least) may; others need `perm`."""
    role = _require(
        change_request.workspace,
        actor,
        Perm.EDIT,
        "Your role in this workspace is Viewer: you can read changes but not act on them.",
    )
    if not _is_author(change_request, actor) and not role_can(role, perm):
        raise PermissionDenied(message)


# -- Secrets ------------------------------------------------------------------------------------


def _sealed(secrets: dict[str, str]) -> str:
    return seal(json.dumps(secrets, sort_keys=True)) if secrets else ""


def _unsealed(change_request: ChangeRequest) -> dict[str, str]:
    if not change_request.secrets_sealed:
        return {}
    data = json.loads(unseal(change_request.secrets_sealed))
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def change_request_secret_pointers(*, change_request: ChangeRequest) -> list[str]:
    """The pointers of the secrets this change sets (their values stay sealed)."""
    return sorted(_unsealed(change_request))


def _remove_at(doc: JSONObject, pointer: str) -> None:
    segments = from_pointer(pointer)
    found, parent = lookup(doc, segments[:-1])
    if found and isinstance(parent, dict):
        parent.pop(segments[-1], None)


def _typed_secrets(
    proposed: JSONObject, secrets: dict[str, str] | None, base: JSONObject | None = None
) -> dict[str, str]:
    """The secrets to seal: those passed in, plus any left in clear in the document and different
    from the base (so nothing typed is lost and nothing is stored in clear, whatever the caller
    did)."""
    found: dict[str, str] = {}
    for pointer in secret_paths_present(proposed):
        _, value = lookup(proposed, from_pointer(pointer))
        unchanged = base is not None and lookup(base, from_pointer(pointer))[1] == value
        if isinstance(value, str) and value != SECRET_MARKER and not unchanged:
            found[pointer] = value
    return {**found, **{k: v for k, v in (secrets or {}).items() if v}}


def _with_markers(proposed: JSONObject, pointers: list[str]) -> JSONObject:
    """The proposed document shows the marker wherever the change sets a secret."""
    doc = redact(proposed)
    for pointer in pointers:
        set_at(doc, pointer, SECRET_MARKER)
    return doc


def _restored_document(doc: JSONObject, secrets: dict[str, str]) -> JSONObject:
    restored = copy.deepcopy(doc)
    for pointer, secret in secrets.items():
        set_at(restored, pointer, secret)
    return restored


# -- Plans --------------------------------------------------------------------------------------


def _plan(
    kind: str, base: JSONObject | None, proposed: JSONObject | None, pointers: list[str]
) -> list[Op]:
    if kind in {ChangeKind.EDIT, ChangeKind.REVERT}:
        if base is None or proposed is None:
            raise ValueError("An edit needs the version it was made from and the proposed one.")
        return with_secret_ops(minimal_patch(base, proposed), pointers, base)
    return []


def _name_of(doc: JSONObject | None) -> str:
    name = (doc or {}).get("persona_name")
    return name if isinstance(name, str) else ""


def change_request_create(
    *,
    workspace: Workspace,
    actor: AbstractBaseUser,
    kind: str,
    title: str,
    description: str = "",
    persona_id: str = "",
    persona_name: str = "",
    base: JSONObject | None,
    proposed: JSONObject | None,
    secrets: dict[str, str] | None = None,
    submit: bool = False,
    request_id: str = "",
) -> ChangeRequest:
    """Save a change without applying it (a draft, or open for review when `submit`).

    `base` and `proposed` come redacted; secrets the user typed come in `secrets`
    ({pointer: value}).
    """
    _require(
        workspace,
        actor,
        Perm.EDIT,
        "Your role in this workspace is Viewer: you can read personas but not propose changes.",
    )
    if kind not in ChangeKind.values:
        raise ValueError(f"Unknown kind of change: {kind!r}")
    if kind != ChangeKind.CREATE and not persona_id:
        raise ValueError("A change to an existing persona needs its persona id.")
    if kind == ChangeKind.DELETE:
        proposed, secrets = None, {}
    if kind == ChangeKind.CREATE:
        base = None
        if proposed is None:
            raise ValueError("A new persona needs its document.")
    secrets = _typed_secrets(proposed, secrets, base) if proposed is not None else {}
    pointers = sorted(secrets)
    base_doc = redact(base) if base is not None else None
    proposed_doc = _with_markers(proposed, pointers) if proposed is not None else None
    ops = _plan(kind, base_doc, proposed_doc, pointers)
    now = timezone.now()
    with transaction.atomic():
        change_request = ChangeRequest.objects.create(
            workspace=workspace,
            kind=kind,
            status=ChangeStatus.DRAFT,
            title=(title.strip() or "Untitled change")[:200],
            description=description,
            persona_id=persona_id,
            persona_name=(persona_name or _name_of(proposed_doc) or _name_of(base_doc))[:255],
            base_document=base_doc,
            proposed_document=proposed_doc,
            ops=ops,
            secrets_sealed=_sealed(secrets),
            author=actor,
            author_name=actor.get_username(),
        )
        _audit(change_request, actor, "review.created", request_id, payload=ops)
        if submit:
            change_request.submit(now=now)
            change_request.save(update_fields=["status", "submitted_at", "updated_at"])
            _audit(change_request, actor, "review.submitted", request_id)
            notify_change(change=change_request, event="submitted", actor=actor)
    return change_request


def _audit(
    change_request: ChangeRequest,
    actor: AbstractBaseUser | None,
    action: str,
    request_id: str,
    *,
    payload: JSON | list[Op] = None,
    note: str = "",
    before: JSONObject | None = None,
    after: JSONObject | None = None,
    error: TavusError | None = None,
) -> None:
    audit_record(
        workspace=change_request.workspace,
        actor=actor,
        action=action,
        request_id=request_id,
        persona_id=change_request.persona_id,
        persona_name=change_request.persona_name,
        target=f"Change #{change_request.pk}: {change_request.title}",
        payload=cast(JSON, payload),
        before=before,
        after=after,
        error=error,
        note=note,
        change_request_id=change_request.pk,
    )


def _locked(change_request: ChangeRequest) -> ChangeRequest:
    """The change request's row, locked for this transaction, with fresh values."""
    fresh = (
        ChangeRequest.objects.select_for_update()
        .select_related("workspace")
        .get(pk=change_request.pk)
    )
    change_request.__dict__.update(
        {k: v for k, v in fresh.__dict__.items() if not k.startswith("_")}
    )
    return change_request


def _reset_approvals(change_request: ChangeRequest) -> int:
    """The change changed: decisions made on the earlier version stop counting."""
    return change_request.reviews.filter(is_current=True).update(is_current=False)


def change_request_update(
    *,
    change_request: ChangeRequest,
    actor: AbstractBaseUser,
    proposed: JSONObject,
    secrets: dict[str, str] | None,
    title: str | None = None,
    description: str | None = None,
    request_id: str = "",
) -> ChangeRequest:
    """The author saves a new version of the proposal (from the persona editor).

    Secrets typed before stay unless typed again; ops are recomputed; earlier reviews stop counting.
    """
    _require_author_or(
        change_request,
        actor,
        Perm.ADMIN,
        "Only the author of this change (or a workspace admin) can edit it.",
    )
    if change_request.kind == ChangeKind.DELETE:
        raise InvalidTransition("A deletion has no document to edit: close it and start again.")
    with transaction.atomic():
        cr = _locked(change_request)
        cr.edit()
        merged = {**_unsealed(cr), **_typed_secrets(proposed, secrets)}
        proposed_doc = redact(proposed)
        # A secret the new version no longer has is no longer set by this change.
        merged = {p: v for p, v in merged.items() if lookup(proposed_doc, from_pointer(p))[0]}
        pointers = sorted(merged)
        cr.proposed_document = _with_markers(proposed_doc, pointers)
        cr.ops = _plan(cr.kind, cr.base_document, cr.proposed_document, pointers)
        cr.secrets_sealed = _sealed(merged)
        if title is not None:
            cr.title = (title.strip() or cr.title)[:200]
        if description is not None:
            cr.description = description
        if cr.kind == ChangeKind.CREATE:
            cr.persona_name = _name_of(cr.proposed_document)[:255] or cr.persona_name
        reset = _reset_approvals(cr)
        cr.save()
        note = "Earlier reviews no longer count." if reset else ""
        _audit(cr, actor, "review.updated", request_id, payload=cr.ops, note=note)
    return cr


def change_request_describe(
    *,
    change_request: ChangeRequest,
    actor: AbstractBaseUser,
    title: str,
    description: str,
    request_id: str = "",
) -> ChangeRequest:
    """Change only the title and description (the change itself stays, and so do its reviews)."""
    _require_author_or(
        change_request,
        actor,
        Perm.ADMIN,
        "Only the author of this change (or a workspace admin) can edit it.",
    )
    with transaction.atomic():
        cr = _locked(change_request)
        if not cr.is_editable:
            cr._refuse_finished("edited")
            raise InvalidTransition("This change cannot be edited now.")
        cr.title = (title.strip() or cr.title)[:200]
        cr.description = description
        cr.save(update_fields=["title", "description", "updated_at"])
        _audit(cr, actor, "review.updated", request_id, note="Title or description changed.")
    return cr


def change_request_submit(
    *, change_request: ChangeRequest, actor: AbstractBaseUser, request_id: str = ""
) -> ChangeRequest:
    """Send a draft (or a change sent back for changes) to reviewers."""
    _require_author_or(
        change_request,
        actor,
        Perm.ADMIN,
        "Only the author of this change (or a workspace admin) can send it for review.",
    )
    with transaction.atomic():
        cr = _locked(change_request)
        cr.submit(now=timezone.now())
        cr.save(update_fields=["status", "submitted_at", "updated_at"])
        _audit(cr, actor, "review.submitted", request_id)
        notify_change(change=cr, event="submitted", actor=actor)
    return cr


def _decide(
    change_request: ChangeRequest,
    actor: AbstractBaseUser,
    decision: str,
    comment: str,
    request_id: str,
) -> ChangeRequest:
    _require(
        change_request.workspace,
        actor,
        Perm.REVIEW,
        "Only reviewers and admins can review changes in this workspace.",
    )
    if _is_author(change_request, actor):
        verb = "approve" if decision == ReviewDecision.APPROVE else "request changes on"
        raise PermissionDenied(f"You can't {verb} your own change: ask a teammate to review it.")
    with transaction.atomic():
        cr = _locked(change_request)
        cr.check_reviewable()
        # A reviewer's newest decision replaces their earlier one.
        cr.reviews.filter(reviewer_id=actor.pk, is_current=True).update(is_current=False)
        Review.objects.create(
            change_request=cr, reviewer=actor, reviewer_name=actor.get_username(), decision=decision
        )
        if comment.strip():
            Comment.objects.create(
                change_request=cr, author=actor, author_name=actor.get_username(), body=comment
            )
        cr.settle_reviews(approvals_required=cr.workspace.approvals_required)
        cr.save(update_fields=["status", "updated_at"])
        action = (
            "review.approved" if decision == ReviewDecision.APPROVE else "review.changes_requested"
        )
        _audit(cr, actor, action, request_id, note=comment.strip())
        notify_change(change=cr, event=action.removeprefix("review."), actor=actor)
    return cr


def change_request_approve(
    *,
    change_request: ChangeRequest,
    actor: AbstractBaseUser,
    comment: str = "",
    request_id: str = "",
) -> ChangeRequest:
    """A reviewer (never the author) approves; enough approvals make the change ready to apply."""
    return _decide(change_request, actor, ReviewDecision.APPROVE, comment, request_id)


def change_request_request_changes(
    *,
    change_request: ChangeRequest,
    actor: AbstractBaseUser,
    comment: str = "",
    request_id: str = "",
) -> ChangeRequest:
    """A reviewer sends the change back to its author."""
    return _decide(change_request, actor, ReviewDecision.REQUEST_CHANGES, comment, request_id)


def change_request_comment(
    *,
    change_request: ChangeRequest,
    actor: AbstractBaseUser,
    body: str,
    op_index: int | None = None,
    request_id: str = "",
) -> Comment:
    """Any member may comment on the whole change or on one of its operations."""
    _require(change_request.workspace, actor, Perm.VIEW, "You are not a member of this workspace.")
    if not body.strip():
        raise ValueError("Write something before sending the comment.")
    if op_index is not None and not 0 <= op_index < len(change_request.ops or []):
        raise ValueError("That operation is not part of this change any more.")
    with transaction.atomic():
        comment = Comment.objects.create(
            change_request=change_request,
            author=actor,
            author_name=actor.get_username(),
            body=body.strip(),
            op_index=op_index,
        )
        where = f" on operation {op_index + 1}" if op_index is not None else ""
        _audit(
            change_request,
            actor,
            "review.commented",
            request_id,
            note=f"Comment{where}: {body.strip()}",
        )
        notify_change(change=change_request, event="commented", actor=actor)
    return comment


def change_request_close(
    *, change_request: ChangeRequest, actor: AbstractBaseUser, request_id: str = ""
) -> ChangeRequest:
    """Close a change without applying it (its author, a reviewer or an admin)."""
    _require_author_or(
        change_request,
        actor,
        Perm.REVIEW,
        "Only the author of this change, a reviewer or an admin can close it.",
    )
    with transaction.atomic():
        cr = _locked(change_request)
        cr.close()
        cr.save(update_fields=["status", "updated_at"])
        _audit(cr, actor, "review.closed", request_id)
    return cr


# -- Three-way comparison ---------------------------------------------------------------------


def _changed_pointers(before: JSONObject, after: JSONObject) -> list[str]:
    return sorted({str(op.get("path", "")) for op in minimal_patch(before, after)})


# -- Apply --------------------------------------------------------------------------------------


def _claim(change_request: ChangeRequest, allowed: frozenset[str]) -> None:
    """Move to "applying" with one conditional UPDATE: only one caller can win it."""
    now = timezone.now()
    stale = ChangeRequest.objects.filter(
        pk=change_request.pk, status=ChangeStatus.APPLYING, updated_at__lt=now - STALE_APPLYING
    )
    claimed = ChangeRequest.objects.filter(pk=change_request.pk, status__in=allowed).update(
        status=ChangeStatus.APPLYING, updated_at=now
    ) or stale.update(status=ChangeStatus.APPLYING, updated_at=now)
    if claimed != 1:
        change_request.refresh_from_db()
        if change_request.status == ChangeStatus.APPLYING:
            raise ApplyInProgress("This change is already being applied.")
        if change_request.status == ChangeStatus.APPLIED:
            raise InvalidTransition("This change was already applied.")
        raise InvalidTransition(
            f"This change is “{change_request.get_status_display()}” now, so it cannot be applied."
        )
    change_request.status = ChangeStatus.APPLYING


def _finish(change_request: ChangeRequest, fields: list[str]) -> None:
    change_request.save(update_fields=[*fields, "status", "updated_at"])


def _fail(
    cr: ChangeRequest,
    actor: AbstractBaseUser,
    message: str,
    request_id: str,
    error: TavusError | None = None,
) -> ChangeRequest:
    with transaction.atomic():
        cr.mark_failed(error=message)
        _finish(cr, ["last_error"])
        _audit(cr, actor, "review.apply_failed", request_id, error=error, note=message)
        notify_change(change=cr, event="apply_failed", actor=actor)
    return cr


_MISSING_SECRET = (
    "A secret in this change was hidden and its value is not stored with the change. "
    "Open the change in the editor and type the secret again. Nothing was sent to Tavus."
)


def change_request_apply(
    *, change_request: ChangeRequest, actor: AbstractBaseUser, request_id: str = ""
) -> ChangeRequest:
    """Apply the change to Tavus, once, against the live persona (plan, then apply).

    Unchanged live version → the stored patch; changed elsewhere → the patch rebased on it; changed
    in the same places → "conflict" and nothing is sent. A Tavus failure leaves it "failed" and
    retryable. Raises ApplyInProgress when someone else is applying it right now.
    """
    workspace = change_request.workspace
    role = _require(
        workspace,
        actor,
        Perm.EDIT,
        "Your role in this workspace is Viewer: you can read changes but not apply them.",
    )
    change_request.refresh_from_db()
    if not workspace.may_apply_change(
        can_edit=True,
        is_author=_is_author(change_request, actor),
        can_review=role_can(role, Perm.REVIEW),
    ):
        raise PermissionDenied(
            "Only the author of this change, a reviewer or an admin can apply it."
        )
    # A change left "applying" by a server that died mid-apply may be taken over; it passed
    # these checks when it was first claimed.
    stale = (
        change_request.status == ChangeStatus.APPLYING
        and change_request.updated_at < timezone.now() - STALE_APPLYING
    )
    if not stale:
        change_request.check_applicable(
            requires_approval=workspace.requires_approval,
            approvals_required=workspace.approvals_required,
        )
    _claim(
        change_request,
        change_request.applicable_statuses(requires_approval=workspace.requires_approval),
    )
    cr = change_request
    try:
        return _apply_claimed(cr, actor, request_id)
    except (TavusError, NoActiveKey) as exc:
        message = exc.user_message if isinstance(exc, TavusError) else str(exc)
        return _fail(
            cr, actor, message, request_id, error=exc if isinstance(exc, TavusError) else None
        )
    except BaseException:
        # Never leave the change stuck in "applying": it stays retryable, nothing typed is lost.
        _fail(cr, actor, "Something went wrong while applying this change. Try again.", request_id)
        raise


def _apply_claimed(cr: ChangeRequest, actor: AbstractBaseUser, request_id: str) -> ChangeRequest:
    secrets = _unsealed(cr)
    if cr.kind == ChangeKind.CREATE:
        document = _restored_document(cr.proposed_document or {}, secrets)
        if contains_marker(document):
            return _fail(cr, actor, _MISSING_SECRET, request_id)
        persona_id = persona_create(
            workspace=cr.workspace,
            document=document,
            actor=actor,
            request_id=request_id,
            change_request_id=cr.pk,
        )
        return _applied(cr, actor, request_id, result_persona_id=persona_id)

    base = cr.base_document or {}
    if cr.kind == ChangeKind.DELETE:
        live = persona_fetch(
            workspace=cr.workspace, persona_id=cr.persona_id, request_id=request_id
        ).persona
        live_redacted = redact(live)
        changed = _changed_pointers(base, live_redacted)
        if changed:
            return _conflicted(cr, actor, request_id, live_redacted, changed)
        persona_delete(
            workspace=cr.workspace,
            persona_id=cr.persona_id,
            before=live,
            actor=actor,
            request_id=request_id,
            change_request_id=cr.pk,
        )
        return _applied(cr, actor, request_id)

    pointers = sorted(secrets)

    def finish(ops: list[Op], live: JSONObject, rebased: bool) -> list[Op]:
        if rebased:  # a diff of two redacted documents misses a changed secret
            ops = with_secret_ops(ops, pointers, redact(live))
        sent = restore_ops(ops, live, secrets)
        if contains_marker(cast(JSON, sent)):
            raise MissingSecret(_MISSING_SECRET)
        return sent

    try:
        applied = persona_safe_apply(
            workspace=cr.workspace,
            persona_id=cr.persona_id,
            base=base,
            proposed=cr.proposed_document or {},
            actor=actor,
            request_id=request_id,
            action="persona.reverted" if cr.kind == ChangeKind.REVERT else "persona.patched",
            note=cr.title,
            change_request_id=cr.pk,
            redacted=True,
            planned_ops=list(cr.ops),
            finish_ops=finish,
        )
    except MissingSecret:
        return _fail(cr, actor, _MISSING_SECRET, request_id)
    if applied.conflicts:
        pointers_met = [conflict.pointer for conflict in applied.conflicts]
        return _conflicted(cr, actor, request_id, redact(applied.live), pointers_met)
    note = (
        "The persona had changed elsewhere since this change was made: it was rebased."
        if applied.rebased
        else ""
    )
    return _applied(cr, actor, request_id, note=note, ops=applied.ops)


def _applied(
    cr: ChangeRequest,
    actor: AbstractBaseUser,
    request_id: str,
    *,
    result_persona_id: str = "",
    note: str = "",
    ops: list[Op] | None = None,
) -> ChangeRequest:
    with transaction.atomic():
        cr.mark_applied(
            now=timezone.now(), by_name=actor.get_username(), result_persona_id=result_persona_id
        )
        _finish(
            cr, ["applied_at", "applied_by_name", "last_error", "result_persona_id", "persona_id"]
        )
        _audit(cr, actor, "review.applied", request_id, payload=ops, note=note)
        notify_change(change=cr, event="applied", actor=actor)
    return cr


def _conflicted(
    cr: ChangeRequest,
    actor: AbstractBaseUser,
    request_id: str,
    live_redacted: JSONObject,
    conflicts: list[str],
) -> ChangeRequest:
    with transaction.atomic():
        cr.mark_conflict()
        _finish(cr, ["last_error"])
        _audit(
            cr,
            actor,
            "review.conflict",
            request_id,
            payload={"conflicts": list[JSON](conflicts)},
            before=cr.base_document,
            after=live_redacted,
            note="The persona was changed in the same places since this change was made. "
            "Nothing was sent to Tavus.",
        )
        notify_change(change=cr, event="apply_failed", actor=actor)
    return cr


# -- Update from the live version -------------------------------------------------------------


def change_request_refresh_from_live(
    *, change_request: ChangeRequest, actor: AbstractBaseUser, request_id: str = ""
) -> ChangeRequest:
    """Rebase the proposal onto the live persona ("update the change from the live version").

    Edits elsewhere are taken in; where both changed a field, the proposed value stays and the
    live one becomes the base, so the change now says "live → proposed". Back to draft or review.
    """
    _require_author_or(
        change_request,
        actor,
        Perm.REVIEW,
        "Only the author of this change, a reviewer or an admin can update it.",
    )
    if change_request.kind == ChangeKind.CREATE:
        raise InvalidTransition("A new persona has no live version to update the change from.")
    if not change_request.is_editable:
        change_request._refuse_finished("updated")
    live = persona_fetch(
        workspace=change_request.workspace,
        persona_id=change_request.persona_id,
        request_id=request_id,
    ).persona
    live_redacted = redact(live)
    with transaction.atomic():
        cr = _locked(change_request)
        cr.rebased()
        base = cr.base_document or {}
        secrets = _unsealed(cr)
        if cr.kind == ChangeKind.DELETE:
            conflicts = _changed_pointers(base, live_redacted)
        else:
            proposed = cr.proposed_document or {}
            conflicts = [c.pointer for c in rebase(base, proposed, live_redacted).conflicts]
            new_proposed = carry_over(base, proposed, live_redacted)
            pointers = sorted(p for p in secrets if lookup(new_proposed, from_pointer(p))[0])
            secrets = {p: secrets[p] for p in pointers}
            cr.proposed_document = _with_markers(new_proposed, pointers)
            cr.ops = _plan(cr.kind, live_redacted, cr.proposed_document, pointers)
            cr.secrets_sealed = _sealed(secrets)
        cr.base_document = live_redacted
        reset = _reset_approvals(cr) if conflicts else 0
        if cr.is_reviewable:
            cr.settle_reviews(approvals_required=cr.workspace.approvals_required)
        cr.save()
        note = "Updated from the live version."
        if conflicts:
            note += f" {len(conflicts)} field(s) changed on both sides keep this change's value."
        if reset:
            note += " Earlier reviews no longer count."
        _audit(
            cr,
            actor,
            "review.updated",
            request_id,
            payload=cr.ops,
            before=base,
            after=live_redacted,
            note=note,
        )
    return cr
