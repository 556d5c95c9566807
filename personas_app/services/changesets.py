"""Change sets: one edit for many personas, planned per persona, reviewed once, applied in the
background by task workers (django-tasks), exactly once per persona.

Planning reads every persona once (at most TAVUS_MAX_CONCURRENCY reads in flight) and stores, per
persona, the redacted live version, the redacted proposed version and the minimal patch between
them; personas the edit leaves unchanged are kept apart ("no change") and nothing is ever sent to
them. Secrets the change sets are sealed per persona (crypto.seal), as change requests do.

Applying moves the change set to "applying" and enqueues, in the same transaction, one task per
persona and a watcher. A task claims its persona's item with a conditional write under the
workspace's row lock (at most TAVUS_MAX_CONCURRENCY items of a workspace are held at once),
then goes through services.personas.persona_safe_apply: re-read, rebase or report a conflict, one
PATCH, audited. Just before the PATCH the claim is renewed; a task that finds its claim taken
over sends nothing. An item that is no longer "waiting" is never sent again. A claim left by a
worker that was killed is stale once its lease has run out (every request its holder could
still have in flight has ended by then); the watcher hands it to another task, which re-reads
the persona first and marks the item sent when Tavus already holds the change. A 429 puts the
item back in the queue for after Retry-After; a PATCH whose answer was lost and could not be
read back keeps its claim, so it is verified the same way before anything is sent again.

Nothing here renders HTML or reads requests.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django_tasks import TaskContext, TaskResultStatus, task
from django_tasks.exceptions import TaskResultDoesNotExist

from ..crypto import seal, unseal
from ..models import (
    AuditEvent,
    ChangeSet,
    ChangeSetComment,
    ChangeSetItem,
    ChangeSetReview,
    ChangeSetStatus,
    ItemKind,
    ItemStatus,
    Membership,
    Outcome,
    ReviewDecision,
    Workspace,
)
from ..models.reviews import InvalidTransition
from ..permissions import Perm, role_can
from ..persona.edits import apply_edit, edit_problems
from ..persona.jsontypes import JSON, JSONObject, Op, clone, from_pointer, lookup, set_at
from ..persona.patching import minimal_patch
from ..persona.payloads import create_payload
from ..persona.redaction import (
    SECRET_MARKER,
    contains_marker,
    redact,
    redact_ops,
    restore_ops,
    secret_paths_present,
    with_secret_ops,
)
from ..persona.safety import storable
from ..tavus import TavusAnswerLost, TavusError, TavusNotFound, TavusRateLimited
from .audit import audit_record
from .notifications import notify_change
from .personas import (
    MissingSecret,
    apply_lease,
    persona_create,
    persona_fetch,
    persona_observe,
    persona_safe_apply,
)
from .workspaces import NoActiveKey, tavus_client_for

__all__ = [
    "ChangeSetError",
    "change_set_apply",
    "change_set_approve",
    "change_set_close",
    "change_set_comment",
    "change_set_counts",
    "change_set_create",
    "change_set_create_from_documents",
    "change_set_item_run",
    "change_set_item_task",
    "change_set_request_changes",
    "change_set_revert",
    "change_set_submit",
    "change_set_watch",
    "change_set_watch_task",
    "claim_lease",
    "personas_read",
    "plan_persona",
]

logger = logging.getLogger(__name__)

# An item whose answer was lost is verified and tried again at most this many times in all.
MAX_ATTEMPTS = 3


class ChangeSetError(Exception):
    """A change set that cannot be made as asked, with a message for the person who asked."""


# -- Who may do what ------------------------------------------------------------------------------
# `actor=None` is an operator at the command line (manage.py personas): no membership is checked.


def _require(
    workspace: Workspace, actor: AbstractBaseUser | None, perm: Perm, message: str
) -> str | None:
    if actor is None:
        return None
    role = (
        Membership.objects.filter(workspace=workspace, user_id=actor.pk)
        .values_list("role", flat=True)
        .first()
    )
    if not role_can(role, perm):
        raise PermissionDenied(message)
    return role


def _is_author(change_set: ChangeSet, actor: AbstractBaseUser | None) -> bool:
    return (
        actor is not None and change_set.author_id is not None and change_set.author_id == actor.pk
    )


def _require_author_or(
    change_set: ChangeSet, actor: AbstractBaseUser | None, perm: Perm, message: str
) -> None:
    """The author (an editor at least) may; other members need `perm`."""
    role = _require(
        change_set.workspace,
        actor,
        Perm.EDIT,
        "Your role in this workspace is Viewer: you can read changes but not act on them.",
    )
    if actor is not None and not _is_author(change_set, actor) and not role_can(role, perm):
        raise PermissionDenied(message)


def _name_of(actor: AbstractBaseUser | None) -> str:
    return actor.get_username() if actor is not None else "manage.py personas"


def _audit(
    change_set: ChangeSet,
    actor: AbstractBaseUser | None,
    action: str,
    request_id: str,
    *,
    payload: JSON | list[Op] = None,
    note: str = "",
    item: ChangeSetItem | None = None,
    error: TavusError | None = None,
) -> AuditEvent:
    return audit_record(
        workspace=change_set.workspace,
        actor=actor,
        action=action,
        request_id=request_id,
        persona_id=item.persona_id if item is not None else "",
        persona_name=item.persona_name if item is not None else "",
        target=f"Change set #{change_set.pk}: {change_set.title}",
        payload=cast(JSON, payload),
        error=error,
        note=note,
        change_set_id=change_set.pk,
    )


def _locked(change_set: ChangeSet) -> ChangeSet:
    """The change set's row, locked for this transaction, with fresh values."""
    fresh = ChangeSet.objects.select_for_update().select_related("workspace").get(pk=change_set.pk)
    change_set.__dict__.update({k: v for k, v in fresh.__dict__.items() if not k.startswith("_")})
    return change_set


# -- Secrets --------------------------------------------------------------------------------------


def _sealed(secrets: Mapping[str, str]) -> str:
    return seal(json.dumps(dict(secrets), sort_keys=True)) if secrets else ""


def _unsealed(item: ChangeSetItem) -> dict[str, str]:
    if not item.secrets_sealed:
        return {}
    data = json.loads(unseal(item.secrets_sealed))
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


# -- Planning ---------------------------------------------------------------------------------


@dataclass
class _Plan:
    """One persona's share of a change set, ready to store."""

    kind: str
    persona_id: str
    persona_name: str
    base: JSONObject | None
    proposed: JSONObject | None
    ops: list[Op]
    secrets: dict[str, str]
    status: str = ItemStatus.WAITING
    message: str = ""


def _persona_name(doc: JSONObject | None) -> str:
    name = (doc or {}).get("persona_name")
    return name if isinstance(name, str) else ""


def plan_persona(*, live: JSONObject, target: JSONObject) -> _Plan:
    """The change that turns `live` into `target` (both in clear): redacted versions, the minimal
    patch and the secrets it sets ({pointer: value}, where target's value differs from live's;
    a SECRET_MARKER in target means "keep live's")."""
    secrets: dict[str, str] = {}
    for pointer in secret_paths_present(target):
        _, value = lookup(target, from_pointer(pointer))
        if (
            isinstance(value, str)
            and value != SECRET_MARKER
            and lookup(live, from_pointer(pointer)) != (True, value)
        ):
            secrets[pointer] = value
    base = redact(live)
    proposed = redact(target)
    ops = with_secret_ops(minimal_patch(base, proposed), sorted(secrets), base)
    persona_id = str(live.get("persona_id", ""))
    return _Plan(
        kind=ItemKind.EDIT,
        persona_id=persona_id,
        persona_name=_persona_name(target) or _persona_name(live),
        base=base,
        proposed=proposed,
        ops=ops,
        secrets=secrets,
        status=ItemStatus.WAITING if ops else ItemStatus.NO_CHANGE,
        message="" if ops else "The edit changes nothing in this persona: nothing will be sent.",
    )


def personas_read(
    *, workspace: Workspace, persona_ids: list[str], request_id: str = ""
) -> dict[str, JSONObject | TavusError]:
    """GET each persona once, at most TAVUS_MAX_CONCURRENCY at a time; a persona that cannot be
    read maps to its error. Outside changes are noted as every read does (persona_observe)."""
    client = tavus_client_for(workspace)

    def read(persona_id: str) -> JSONObject | TavusError:
        # Only HTTP in the pool's threads: the database is used from the caller's thread.
        try:
            persona = storable(client.get_persona(persona_id))
        except TavusError as exc:
            return exc
        assert isinstance(persona, dict)
        return persona

    workers = max(1, min(settings.TAVUS_MAX_CONCURRENCY, len(persona_ids)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tavus-read") as pool:
        results = dict(zip(persona_ids, pool.map(read, persona_ids), strict=True))
    for persona in results.values():
        if isinstance(persona, dict):
            persona_observe(workspace=workspace, persona=persona, request_id=request_id)
    return results


def _unreadable(persona_id: str, exc: TavusError) -> _Plan:
    return _Plan(
        kind=ItemKind.EDIT,
        persona_id=persona_id,
        persona_name="",
        base=None,
        proposed=None,
        ops=[],
        secrets={},
        status=ItemStatus.FAILED,
        message=f"Could not be read when the change set was made: {exc.user_message}",
    )


def _live_or_raise(
    workspace: Workspace, persona_ids: list[str], request_id: str
) -> dict[str, JSONObject | TavusError]:
    """Every persona read; a persona gone from Tavus becomes a failed item, any other failure
    (Tavus unreachable, a bad key) stops the whole change set before anything is saved."""
    live = personas_read(workspace=workspace, persona_ids=persona_ids, request_id=request_id)
    for exc in live.values():
        if isinstance(exc, TavusError) and not isinstance(exc, TavusNotFound):
            raise exc
    return live


def _create(
    *,
    workspace: Workspace,
    actor: AbstractBaseUser | None,
    plans: list[_Plan],
    title: str,
    description: str,
    edit: list[Op],
    source: str,
    submit: bool,
    request_id: str,
    reverts: ChangeSet | None = None,
) -> ChangeSet:
    if not any(plan.status == ItemStatus.WAITING for plan in plans):
        raise ChangeSetError(
            "Nothing would change: every persona already is as proposed (or could not be read)."
        )
    now = timezone.now()
    with transaction.atomic():
        change_set = ChangeSet.objects.create(
            workspace=workspace,
            title=(title.strip() or "Untitled change set")[:200],
            description=description,
            edit=redact_ops(edit),
            source=source,
            reverts=reverts,
            author=actor,
            author_name=_name_of(actor),
        )
        ChangeSetItem.objects.bulk_create(
            ChangeSetItem(
                change_set=change_set,
                kind=plan.kind,
                persona_id=plan.persona_id,
                persona_name=plan.persona_name[:255],
                base=plan.base,
                proposed=plan.proposed,
                ops=plan.ops,
                secrets_sealed=_sealed(plan.secrets),
                status=plan.status,
                message=plan.message,
            )
            for plan in plans
        )
        waiting = sum(1 for plan in plans if plan.status == ItemStatus.WAITING)
        _audit(
            change_set,
            actor,
            "changeset.created",
            request_id,
            payload=edit,
            note=f"{len(plans)} persona(s): {waiting} to change, "
            f"{sum(1 for p in plans if p.status == ItemStatus.NO_CHANGE)} unchanged.",
        )
        if submit:
            change_set.submit(now=now)
            change_set.save(update_fields=["status", "submitted_at", "updated_at"])
            _audit(change_set, actor, "changeset.submitted", request_id)
            notify_change(change=change_set, event="submitted", actor=actor)
    return change_set


def change_set_create(
    *,
    workspace: Workspace,
    actor: AbstractBaseUser | None,
    persona_ids: list[str],
    edit: list[Op],
    title: str,
    description: str = "",
    submit: bool = False,
    request_id: str = "",
) -> ChangeSet:
    """Plan one edit (persona/edits.py) for each persona and save it as a change set: a draft,
    or open for review when `submit`. Each persona is read once; nothing is sent to Tavus."""
    _require(
        workspace,
        actor,
        Perm.EDIT,
        "Your role in this workspace is Viewer: you can read personas but not propose changes.",
    )
    problems = edit_problems(cast(JSON, edit))
    if problems:
        raise ChangeSetError(" ".join(problems))
    ids = list(dict.fromkeys(pid for pid in persona_ids if pid))
    if not ids:
        raise ChangeSetError("Choose at least one persona.")
    live = _live_or_raise(workspace, ids, request_id)
    plans = [
        _unreadable(pid, persona)
        if isinstance(persona, TavusError)
        else plan_persona(live=persona, target=apply_edit(persona, edit))
        for pid, persona in live.items()
    ]
    return _create(
        workspace=workspace,
        actor=actor,
        plans=plans,
        title=title,
        description=description,
        edit=edit,
        source="edit",
        submit=submit,
        request_id=request_id,
    )


def change_set_create_from_documents(
    *,
    workspace: Workspace,
    actor: AbstractBaseUser | None,
    documents: list[JSONObject],
    title: str,
    description: str = "",
    submit: bool = False,
    request_id: str = "",
) -> ChangeSet:
    """A change set that makes each persona what its document says (personas as code): a
    document with a persona_id edits that persona (a field it leaves out is removed), one without
    creates a new persona. Secrets in the documents are in clear (filled in by the caller)."""
    _require(
        workspace,
        actor,
        Perm.EDIT,
        "Your role in this workspace is Viewer: you can read personas but not propose changes.",
    )
    by_id = {str(doc["persona_id"]): doc for doc in documents if doc.get("persona_id")}
    live = _live_or_raise(workspace, list(by_id), request_id)
    gone = [pid for pid, persona in live.items() if isinstance(persona, TavusError)]
    if gone:
        raise ChangeSetError(
            f"These personas no longer exist on Tavus: {', '.join(gone)}. Remove their files, or "
            "remove the persona_id from a file to create the persona again."
        )
    plans = [
        plan_persona(live=cast(JSONObject, live[pid]), target=doc) for pid, doc in by_id.items()
    ]
    for doc in documents:
        if doc.get("persona_id"):
            continue
        payload = create_payload(doc)
        secrets = {
            pointer: value
            for pointer in secret_paths_present(payload)
            if isinstance(value := lookup(payload, from_pointer(pointer))[1], str)
        }
        plans.append(
            _Plan(
                kind=ItemKind.CREATE,
                persona_id="",
                persona_name=_persona_name(payload),
                base=None,
                proposed=redact(payload),
                ops=[],
                secrets=secrets,
            )
        )
    if not plans:
        raise ChangeSetError("There are no persona documents to propose.")
    return _create(
        workspace=workspace,
        actor=actor,
        plans=plans,
        title=title,
        description=description,
        edit=[],
        source="files",
        submit=submit,
        request_id=request_id,
    )


def change_set_revert(
    *,
    change_set: ChangeSet,
    actor: AbstractBaseUser | None,
    title: str = "",
    submit: bool = False,
    request_id: str = "",
) -> ChangeSet:
    """A new change set that undoes this one for every persona it changed (the inverse patches),
    reviewed like any other. Applying it rebases onto the live personas or reports conflicts.
    Secrets are never reverted: their earlier values were never stored."""
    _require(
        change_set.workspace,
        actor,
        Perm.EDIT,
        "Your role in this workspace is Viewer: you can read changes but not revert them.",
    )
    sent = list(change_set.items.filter(status=ItemStatus.SENT, kind=ItemKind.EDIT))
    if not sent:
        raise InvalidTransition(
            "Nothing of this change set was sent to Tavus, so there is nothing to revert."
        )
    plans = []
    for item in sent:
        base, proposed = item.proposed or {}, item.base or {}
        ops = minimal_patch(base, proposed)
        plans.append(
            _Plan(
                kind=ItemKind.EDIT,
                persona_id=item.persona_id,
                persona_name=item.persona_name,
                base=base,
                proposed=proposed,
                ops=ops,
                secrets={},
                status=ItemStatus.WAITING if ops else ItemStatus.NO_CHANGE,
                message="" if ops else "Only secrets changed here, and secrets are not reverted.",
            )
        )
    return _create(
        workspace=change_set.workspace,
        actor=actor,
        plans=plans,
        title=title or f"Revert “{change_set.title}”",
        description=f"Undoes change set #{change_set.pk}.",
        edit=[],
        source="revert",
        submit=submit,
        request_id=request_id,
        reverts=change_set,
    )


# -- Review ---------------------------------------------------------------------------------------


def change_set_submit(
    *, change_set: ChangeSet, actor: AbstractBaseUser | None, request_id: str = ""
) -> ChangeSet:
    """Send a draft (or a change set sent back for changes) to reviewers."""
    _require_author_or(
        change_set,
        actor,
        Perm.ADMIN,
        "Only the author of this change set (or a workspace admin) can send it for review.",
    )
    with transaction.atomic():
        cs = _locked(change_set)
        cs.submit(now=timezone.now())
        cs.save(update_fields=["status", "submitted_at", "updated_at"])
        _audit(cs, actor, "changeset.submitted", request_id)
        notify_change(change=cs, event="submitted", actor=actor)
    return cs


def _decide(
    change_set: ChangeSet, actor: AbstractBaseUser, decision: str, comment: str, request_id: str
) -> ChangeSet:
    _require(
        change_set.workspace,
        actor,
        Perm.REVIEW,
        "Only reviewers and admins can review changes in this workspace.",
    )
    if _is_author(change_set, actor):
        verb = "approve" if decision == ReviewDecision.APPROVE else "request changes on"
        raise PermissionDenied(
            f"You can't {verb} your own change set: ask a teammate to review it."
        )
    with transaction.atomic():
        cs = _locked(change_set)
        cs.check_reviewable()
        cs.reviews.filter(reviewer_id=actor.pk, is_current=True).update(is_current=False)
        ChangeSetReview.objects.create(
            change_set=cs, reviewer=actor, reviewer_name=actor.get_username(), decision=decision
        )
        if comment.strip():
            ChangeSetComment.objects.create(
                change_set=cs, author=actor, author_name=actor.get_username(), body=comment.strip()
            )
        cs.settle_reviews(approvals_required=cs.workspace.approvals_required)
        cs.save(update_fields=["status", "updated_at"])
        action = (
            "changeset.approved"
            if decision == ReviewDecision.APPROVE
            else "changeset.changes_requested"
        )
        _audit(cs, actor, action, request_id, note=comment.strip())
        notify_change(change=cs, event=action.removeprefix("changeset."), actor=actor)
    return cs


def change_set_approve(
    *, change_set: ChangeSet, actor: AbstractBaseUser, comment: str = "", request_id: str = ""
) -> ChangeSet:
    """A reviewer (never the author) approves the whole change set, once for every persona."""
    return _decide(change_set, actor, ReviewDecision.APPROVE, comment, request_id)


def change_set_request_changes(
    *, change_set: ChangeSet, actor: AbstractBaseUser, comment: str = "", request_id: str = ""
) -> ChangeSet:
    """A reviewer sends the change set back to its author."""
    return _decide(change_set, actor, ReviewDecision.REQUEST_CHANGES, comment, request_id)


def change_set_comment(
    *,
    change_set: ChangeSet,
    actor: AbstractBaseUser,
    body: str,
    item: ChangeSetItem | None = None,
    request_id: str = "",
) -> ChangeSetComment:
    """Any member may comment on the whole change set or on one of its personas."""
    _require(change_set.workspace, actor, Perm.VIEW, "You are not a member of this workspace.")
    if not body.strip():
        raise ValueError("Write something before sending the comment.")
    if item is not None and item.change_set_id != change_set.pk:
        raise ValueError("That persona is not part of this change set.")
    with transaction.atomic():
        comment = ChangeSetComment.objects.create(
            change_set=change_set,
            item=item,
            author=actor,
            author_name=actor.get_username(),
            body=body.strip(),
        )
        _audit(change_set, actor, "changeset.commented", request_id, note=body.strip(), item=item)
        notify_change(change=change_set, event="commented", actor=actor)
    return comment


def change_set_close(
    *, change_set: ChangeSet, actor: AbstractBaseUser | None, request_id: str = ""
) -> ChangeSet:
    """Close a change set without applying it (its author, a reviewer or an admin)."""
    _require_author_or(
        change_set,
        actor,
        Perm.REVIEW,
        "Only the author of this change set, a reviewer or an admin can close it.",
    )
    with transaction.atomic():
        cs = _locked(change_set)
        cs.close()
        cs.save(update_fields=["status", "updated_at"])
        _audit(cs, actor, "changeset.closed", request_id)
    return cs


# -- Apply ----------------------------------------------------------------------------------------


def claim_lease() -> timedelta:
    """How long a claim stands without news from its holder: as long as one apply may hold its
    persona (services.personas.apply_lease), so a claim taken over can no longer be raced."""
    return apply_lease()


def _watch_interval() -> timedelta:
    return max(timedelta(seconds=0.5), claim_lease() / 4)


def _enqueue_item(item_id: int, *, run_after: datetime | None = None) -> None:
    """Queue a task for the item and remember it (the watcher checks that it runs)."""
    queued = change_set_item_task.using(run_after=run_after) if run_after else change_set_item_task
    task_id = str(queued.enqueue(item_id).id)
    ChangeSetItem.objects.filter(pk=item_id).update(task_id=task_id)


def _enqueue_watch(change_set_id: int, *, now: datetime) -> None:
    change_set_watch_task.using(run_after=now + _watch_interval()).enqueue(change_set_id)


def change_set_apply(
    *,
    change_set: ChangeSet,
    actor: AbstractBaseUser | None,
    request_id: str = "",
    background: bool = True,
) -> ChangeSet:
    """Apply the change set: one background task per persona still waiting (and a watcher),
    enqueued with the move to "applying" in one transaction. `background=False` (the personas
    command) runs the same tasks' work in this process, one persona after another."""
    workspace = change_set.workspace
    role = _require(
        workspace,
        actor,
        Perm.EDIT,
        "Your role in this workspace is Viewer: you can read changes but not apply them.",
    )
    if actor is not None and not workspace.may_apply_change(
        can_edit=True,
        is_author=_is_author(change_set, actor),
        can_review=role_can(role, Perm.REVIEW),
    ):
        raise PermissionDenied(
            "Only the author of this change set, a reviewer or an admin can apply it."
        )
    now = timezone.now()
    with transaction.atomic():
        cs = _locked(change_set)
        cs.check_applicable(
            requires_approval=workspace.requires_approval,
            approvals_required=workspace.approvals_required,
        )
        cs.start_applying(now=now, by_name=_name_of(actor))
        cs.applied_by = actor
        cs.watched_at = now
        cs.save()
        waiting = list(cs.items.filter(status=ItemStatus.WAITING).values_list("pk", flat=True))
        _audit(
            cs,
            actor,
            "changeset.apply_started",
            request_id,
            note=f"{len(waiting)} persona(s) to change.",
        )
        if waiting:
            if background:
                for item_id in waiting:
                    _enqueue_item(item_id)
            # Also inline: a worker, if one runs, finishes what this process could not.
            _enqueue_watch(cs.pk, now=now)
    if not background:
        _run_inline(cs, waiting)
    _settle_if_done(cs.pk)
    cs.refresh_from_db()
    return cs


INLINE_PASSES = 4


def _run_inline(change_set: ChangeSet, item_ids: list[int]) -> None:
    """Apply the items in this process, one after another; items a 429 put back are tried again
    on a later pass (after a pause), a few times at most."""
    for attempt in range(INLINE_PASSES):
        if attempt:
            time.sleep(attempt)
        for item_id in item_ids:
            change_set_item_run(item_id=item_id, worker="inline")
        item_ids = list(
            change_set.items.filter(status=ItemStatus.WAITING, claimed_by="").values_list(
                "pk", flat=True
            )
        )
        if not item_ids:
            return


def change_set_counts(change_set: ChangeSet) -> dict[str, int]:
    """How many items are in each status (every status present, zero or not)."""
    counts = dict.fromkeys(ItemStatus.values, 0)
    for row in change_set.items.values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    return counts


def _settle_if_done(change_set_id: int) -> None:
    """Finish the change set once no item is waiting: applied, partly applied or failed."""
    with transaction.atomic():
        cs = ChangeSet.objects.select_for_update().select_related("workspace").get(pk=change_set_id)
        if cs.status != ChangeSetStatus.APPLYING:
            return
        counts = change_set_counts(cs)
        if counts[ItemStatus.WAITING]:
            return
        problems = counts[ItemStatus.CONFLICT] + counts[ItemStatus.FAILED]
        cs.finish(
            now=timezone.now(),
            sent=counts[ItemStatus.SENT],
            unchanged=counts[ItemStatus.NO_CHANGE],
            problems=problems,
        )
        cs.save(update_fields=["status", "applied_at", "updated_at"])
        _audit(
            cs,
            cs.applied_by,
            "changeset.applied" if not problems else "changeset.apply_finished",
            f"cs-{cs.pk}",
            payload=cast(JSON, counts),
            note=f"{counts[ItemStatus.SENT]} sent, {counts[ItemStatus.NO_CHANGE]} unchanged, "
            f"{counts[ItemStatus.CONFLICT]} in conflict, {counts[ItemStatus.FAILED]} failed.",
        )
        notify_change(
            change=cs, event="apply_failed" if problems else "applied", actor=cs.applied_by
        )


@dataclass
class _Claim:
    item: ChangeSetItem
    token: str
    recovering: bool


def _claim(item_id: int, token: str) -> _Claim | None:
    """Take the item for this task, or None: it is done, another live task holds it, or the
    workspace already has TAVUS_MAX_CONCURRENCY items in flight (then it is queued again)."""
    now = timezone.now()
    lease = claim_lease()
    with transaction.atomic():
        item = (
            ChangeSetItem.objects.select_for_update()
            .select_related("change_set__workspace")
            .filter(pk=item_id)
            .first()
        )
        if item is None or item.status != ItemStatus.WAITING:
            return None
        change_set = item.change_set
        if change_set.status != ChangeSetStatus.APPLYING:
            return None
        stale = item.claimed_at is not None and item.claimed_at < now - lease
        if item.claimed_by and not stale:
            return None
        # The workspace's row lock makes "count, then claim" one step across workers.
        Workspace.objects.select_for_update().filter(pk=change_set.workspace_id).first()
        in_flight = (
            ChangeSetItem.objects.filter(
                change_set__workspace_id=change_set.workspace_id,
                status=ItemStatus.WAITING,
                claimed_at__gte=now - lease,
            )
            .exclude(claimed_by="")
            .count()
        )
        if in_flight >= settings.TAVUS_MAX_CONCURRENCY:
            _enqueue_item(item.pk, run_after=now + timedelta(seconds=0.2))
            return None
        recovering = bool(item.claimed_by)
        item.claimed_by = token
        item.claimed_at = now
        item.attempts += 1
        item.save(update_fields=["claimed_by", "claimed_at", "attempts"])
    return _Claim(item, token, recovering)


class _ClaimLost(Exception):
    """Another task took this item over (this one was too slow): send nothing."""


def _renew(claim: _Claim) -> None:
    """Just before the PATCH: the claim is still ours, and its lease starts again."""
    renewed = ChangeSetItem.objects.filter(
        pk=claim.item.pk, status=ItemStatus.WAITING, claimed_by=claim.token
    ).update(claimed_at=timezone.now())
    if renewed != 1:
        raise _ClaimLost


def _patch_record(item: ChangeSetItem) -> AuditEvent | None:
    """The audit record of the PATCH this item sent (its records share the item's request id)."""
    return (
        AuditEvent.objects.filter(
            workspace_id=item.change_set.workspace_id,
            request_id=item.request_id,
            outcome=Outcome.OK,
            action__in=["persona.patched", "persona.created"],
        )
        .order_by("-id")
        .first()
    )


def _finish(
    claim: _Claim,
    status: str,
    message: str = "",
    *,
    audit_action: str = "",
    error: TavusError | None = None,
    persona_id: str = "",
) -> str:
    """Record the item's outcome if the claim is still ours (one conditional write)."""
    item = claim.item
    with transaction.atomic():
        record = _patch_record(item) if status == ItemStatus.SENT else None
        fields: dict[str, object] = {
            "status": status,
            "message": message,
            "sent_at": timezone.now() if status == ItemStatus.SENT else None,
            "audit_event": record,
        }
        if persona_id:
            fields["persona_id"] = persona_id
        done = ChangeSetItem.objects.filter(
            pk=item.pk, status=ItemStatus.WAITING, claimed_by=claim.token
        ).update(**fields)
        if done and audit_action:
            if persona_id:
                item.persona_id = persona_id
            _audit(
                item.change_set,
                item.change_set.applied_by,
                audit_action,
                item.request_id,
                payload=item.ops,
                note=message,
                item=item,
                error=error,
            )
    return status if done else "lost"


def _holds_change(live: JSONObject, item: ChangeSetItem, secrets: Mapping[str, str]) -> bool:
    """Whether the live persona already holds everything this item sets (after a lost answer or
    a worker that stopped mid-way)."""
    seen = redact(live)
    proposed = item.proposed or {}
    for op in item.ops:
        path = from_pointer(str(op.get("path", "")))
        if op.get("op") == "remove":
            if lookup(seen, path)[0]:
                return False
        elif lookup(seen, path) != lookup(proposed, path):
            return False
    return all(lookup(live, from_pointer(p)) == (True, v) for p, v in secrets.items())


_MISSING_SECRET = (
    "A secret in this change was hidden and its value is not stored with the change set. "
    "Nothing was sent to Tavus."
)


def _apply_edit(claim: _Claim) -> str:
    item = claim.item
    change_set = item.change_set
    workspace = change_set.workspace
    secrets = _unsealed(item)
    if claim.recovering:
        live = persona_fetch(
            workspace=workspace, persona_id=item.persona_id, request_id=item.request_id
        ).persona
        if _holds_change(live, item, secrets):
            return _finish(
                claim,
                ItemStatus.SENT,
                "Checked again after its first attempt stopped: Tavus already holds this change, "
                "so nothing was sent again.",
                audit_action="changeset.item_verified",
            )
    pointers = sorted(secrets)

    def finish_ops(ops: list[Op], live: JSONObject, rebased: bool) -> list[Op]:
        if rebased:
            ops = with_secret_ops(ops, pointers, redact(live))
        sent = restore_ops(ops, live, secrets)
        if contains_marker(cast(JSON, sent)):
            raise MissingSecret(_MISSING_SECRET)
        _renew(claim)
        return sent

    applied = persona_safe_apply(
        workspace=workspace,
        persona_id=item.persona_id,
        base=item.base or {},
        proposed=item.proposed or {},
        actor=cast(AbstractBaseUser, change_set.applied_by),
        request_id=item.request_id,
        action="persona.patched",
        note=f"Change set #{change_set.pk}: {change_set.title}",
        change_set_id=change_set.pk,
        redacted=True,
        planned_ops=list(item.ops),
        finish_ops=finish_ops,
    )
    if applied.conflicts:
        fields = ", ".join(conflict.label for conflict in applied.conflicts)
        return _finish(
            claim,
            ItemStatus.CONFLICT,
            f"Changed on Tavus in the same places since the change set was made ({fields}). "
            "Nothing was sent.",
            audit_action="changeset.item_conflict",
        )
    if applied.outcome is None or not applied.outcome.changed:
        return _finish(
            claim, ItemStatus.NO_CHANGE, "Tavus already held this change: nothing was changed."
        )
    note = "Rebased: the persona had changed elsewhere." if applied.rebased else ""
    return _finish(claim, ItemStatus.SENT, note)


def _apply_create(claim: _Claim) -> str:
    item = claim.item
    if claim.recovering:
        # A POST cannot be checked by re-reading: never risk a second persona.
        return _finish(
            claim,
            ItemStatus.FAILED,
            "The worker creating this persona stopped before it finished. Check on Tavus "
            "whether the persona exists before creating it again: nothing was sent again.",
            audit_action="changeset.item_failed",
        )
    document = clone(item.proposed or {})
    assert isinstance(document, dict)
    for pointer, secret in _unsealed(item).items():
        set_at(document, pointer, secret)
    if contains_marker(document):
        return _finish(
            claim, ItemStatus.FAILED, _MISSING_SECRET, audit_action="changeset.item_failed"
        )
    _renew(claim)
    persona_id = persona_create(
        workspace=item.change_set.workspace,
        document=document,
        actor=cast(AbstractBaseUser, item.change_set.applied_by),
        request_id=item.request_id,
        change_set_id=item.change_set.pk,
    )
    return _finish(claim, ItemStatus.SENT, "Created.", persona_id=persona_id)


def change_set_item_run(*, item_id: int, worker: str = "") -> str:
    """Apply one persona of a change set being applied, if this task can claim it (see the
    module doc). Returns what happened: an item status, "skipped", "lost" or "retry"."""
    token = f"{worker or 'worker'}:{uuid.uuid4().hex[:12]}"[-64:]
    claim = _claim(item_id, token)
    if claim is None:
        return "skipped"
    item = claim.item
    try:
        apply = _apply_create if item.kind == ItemKind.CREATE else _apply_edit
        outcome = apply(claim)
    except _ClaimLost:
        return "lost"
    except TavusRateLimited as exc:
        # Tavus refused before doing anything: free the item and queue it for after Retry-After.
        wait = timedelta(seconds=exc.retry_after if exc.retry_after is not None else 1.0)
        with transaction.atomic():
            released = ChangeSetItem.objects.filter(
                pk=item.pk, status=ItemStatus.WAITING, claimed_by=token
            ).update(claimed_by="", claimed_at=None, message=exc.user_message)
            if released:
                _enqueue_item(item.pk, run_after=timezone.now() + wait)
        return "retry"
    except TavusAnswerLost as exc:
        if exc.saved is None and item.attempts < MAX_ATTEMPTS:
            # Whether Tavus saved it is unknown: the claim stays, and once its lease has run
            # out the watcher has it checked by re-reading before anything is sent again.
            ChangeSetItem.objects.filter(pk=item.pk, claimed_by=token).update(
                message=exc.user_message
            )
            return "retry"
        outcome = _finish(
            claim, ItemStatus.FAILED, exc.user_message, audit_action="changeset.item_failed"
        )
    except TavusError as exc:
        outcome = _finish(
            claim,
            ItemStatus.FAILED,
            exc.user_message,
            audit_action="changeset.item_failed",
            error=exc,
        )
    except (NoActiveKey, MissingSecret) as exc:
        outcome = _finish(claim, ItemStatus.FAILED, str(exc), audit_action="changeset.item_failed")
    except Exception:
        logger.exception("Change set item %s failed", item.pk)
        _finish(
            claim,
            ItemStatus.FAILED,
            "Something went wrong while applying this persona's change.",
            audit_action="changeset.item_failed",
        )
        raise
    _settle_if_done(item.change_set_id)
    return outcome


def _task_lost(task_id: str, lease: timedelta, now: datetime) -> bool:
    """Whether the queued task of an unclaimed item will never run it: it finished without
    claiming it (it was stopped before it could), or started longer than a lease ago."""
    if not task_id:
        return True
    try:
        result = change_set_item_task.get_result(task_id)
    except TaskResultDoesNotExist:
        return True
    if result.is_finished:
        return True
    started = result.started_at
    return (
        result.status == TaskResultStatus.RUNNING and started is not None and started < now - lease
    )


def change_set_watch(*, change_set_id: int) -> str:
    """Look after a change set being applied: queue its next look first (so a watcher that is
    stopped half-way is followed all the same), hand stale claims to new tasks, and finish the
    change set once nothing waits."""
    now = timezone.now()
    lease = claim_lease()
    with transaction.atomic():
        cs = ChangeSet.objects.select_for_update().filter(pk=change_set_id).first()
        if cs is None or cs.status != ChangeSetStatus.APPLYING:
            return "finished"
        _enqueue_watch(cs.pk, now=now)
        cs.watched_at = now
        cs.save(update_fields=["watched_at"])
        requeued = 0
        for item in cs.items.filter(status=ItemStatus.WAITING):
            stale = (
                bool(item.claimed_by)
                and item.claimed_at is not None
                and (item.claimed_at < now - lease)
            )
            # A task that stopped before claiming leaves an unclaimed item no task will run.
            lost = not item.claimed_by and _task_lost(item.task_id, lease, now)
            if stale or lost:
                _enqueue_item(item.pk)
                requeued += 1
    _settle_if_done(change_set_id)
    return f"requeued {requeued}"


# -- Tasks (run by `manage.py db_worker`) ---------------------------------------------------------


@task(takes_context=True)
def change_set_item_task(context: TaskContext, item_id: int) -> str:
    """Apply one persona of a change set (change_set_item_run)."""
    worker_ids = context.task_result.worker_ids
    return change_set_item_run(item_id=item_id, worker=worker_ids[-1] if worker_ids else "")


@task()
def change_set_watch_task(change_set_id: int) -> str:
    """Look after a change set being applied (change_set_watch)."""
    return change_set_watch(change_set_id=change_set_id)
