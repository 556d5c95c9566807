"""Change-set pages: pick personas, describe one edit, preview it per persona, propose it; then the
list, one change set (per-persona diffs, statuses, comments, reviews) and its transitions.

Permissions per URL come from URL_RULES (middleware); finer rules (not your own change set, only
the author or a reviewer closes it...) are the service's, raised as PermissionDenied (the 403
page). The preview reads each persona once and sends nothing; applying enqueues background tasks
(services/changesets.py) and the page follows them by polling its "state" fragment.
Every write works without JavaScript (POST, then redirect with a message).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from ..audit_words import action_label
from ..forms.changesets import FIELDS, MAX_STEPS, edit_summary, step_forms
from ..forms.reviews import ChangeDetailsForm, CommentForm, DecisionForm
from ..http import AppRequest, tavus_error_message
from ..models import ChangeSet, ChangeSetItem, ChangeSetStatus, ItemStatus, ReviewDecision
from ..models.reviews import InvalidTransition
from ..permissions import Perm, role_can
from ..persona.diffs import group_changes
from ..persona.edits import apply_edit
from ..persona.jsontypes import Op, dumps_readable
from ..persona.patching import Change, describe_changes
from ..persona.schema import Problem, persona_problems
from ..selectors import change_set_history, change_set_in, change_sets_for
from ..services import changesets as service
from ..services.personas import persona_search
from ..services.workspaces import NoActiveKey
from ..tavus import TavusError

_NEW = "changesets/new.html"
_DETAIL = "changesets/detail.html"
LIST_PAGE_SIZE = 25
# "All N matching" reads at most this many personas (persona_search's own limit).
MAX_SELECTION = 1000


def _url(name: str, change_set: ChangeSet) -> str:
    return reverse(f"personas:{name}", args=[change_set.workspace.slug, change_set.pk])


# -- The selection --------------------------------------------------------------------------------


@dataclass
class Selected:
    """A persona chosen for the change set (its name as last seen, for the page only)."""

    persona_id: str
    name: str = ""
    error: str = ""


def _selection_from_post(data: Any) -> list[Selected]:
    drop = data.get("drop", "")
    ids = [pid for pid in dict.fromkeys(data.getlist("persona")) if pid and pid != drop]
    return [Selected(pid, str(data.get(f"name-{pid}", ""))) for pid in ids[:MAX_SELECTION]]


def _selection_from_get(request: AppRequest) -> tuple[list[Selected], str]:
    """The personas picked on the list: checked rows, or every persona matching the search."""
    if request.GET.get("all"):
        persona_type = request.GET.get("type", "user")
        try:
            found, _ = persona_search(
                workspace=request.workspace,
                persona_type=persona_type if persona_type in {"user", "system"} else "user",
                query=request.GET.get("q", "").strip(),
            )
        except (TavusError, NoActiveKey) as exc:
            return [], tavus_error_message(exc)
        return [
            Selected(str(p.get("persona_id", "")), str(p.get("persona_name") or ""))
            for p in found
            if p.get("persona_id")
        ], ""
    ids = list(dict.fromkeys(pid for pid in request.GET.getlist("persona") if pid))
    selection = [Selected(pid) for pid in ids[:MAX_SELECTION]]
    if not selection:
        return [], ""
    # Their names (and whether Tavus can read them): one read each, nothing sent.
    try:
        live = service.personas_read(
            workspace=request.workspace, persona_ids=ids, request_id=request.request_id
        )
    except NoActiveKey as exc:
        return selection, tavus_error_message(exc)
    for chosen in selection:
        persona = live[chosen.persona_id]
        if isinstance(persona, TavusError):
            chosen.error = tavus_error_message(persona)
        else:
            chosen.name = str(persona.get("persona_name") or "")
    return selection, ""


# -- Preview --------------------------------------------------------------------------------------


@dataclass
class PreviewRow:
    """One persona in the preview: what the edit does to it, or why it cannot be read."""

    persona_id: str
    name: str
    groups: list[tuple[str, list[Change]]] = field(default_factory=list)
    ops_json: str = ""
    op_count: int = 0
    problems: list[Problem] = field(default_factory=list)
    error: str = ""


@dataclass
class Preview:
    changed: list[PreviewRow]
    unchanged: list[PreviewRow]
    unreadable: list[PreviewRow]


def _preview(request: AppRequest, selection: list[Selected], edit: list[Op]) -> Preview:
    """Each persona read once and the edit planned on it (services.changesets.plan_persona);
    nothing is stored or sent. Raises NoActiveKey when the workspace has no key."""
    live = service.personas_read(
        workspace=request.workspace,
        persona_ids=[s.persona_id for s in selection],
        request_id=request.request_id,
    )
    preview = Preview([], [], [])
    for chosen in selection:
        persona = live[chosen.persona_id]
        if isinstance(persona, TavusError):
            preview.unreadable.append(
                PreviewRow(chosen.persona_id, chosen.name, error=tavus_error_message(persona))
            )
            continue
        plan = service.plan_persona(live=persona, target=apply_edit(persona, edit))
        chosen.name = plan.persona_name
        row = PreviewRow(chosen.persona_id, plan.persona_name)
        if plan.ops:
            row.groups = group_changes(describe_changes(plan.base or {}, plan.proposed or {}))
            row.ops_json = dumps_readable(plan.ops)
            row.op_count = len(plan.ops)
            row.problems = persona_problems(plan.proposed or {})
            preview.changed.append(row)
        else:
            preview.unchanged.append(row)
    return preview


# -- New change set -------------------------------------------------------------------------------


def _new_context(
    request: AppRequest,
    selection: list[Selected],
    steps: list[Any],
    details: ChangeDetailsForm,
    **extra: object,
) -> dict[str, object]:
    return {
        "nav_section": "change_sets",
        "selection": selection,
        "steps": steps,
        "step_total": len(steps),
        "max_steps": MAX_STEPS,
        "can_add_step": len(steps) < MAX_STEPS,
        "details": details,
        "fields": FIELDS,
        "list_url": reverse("personas:persona_list", args=[request.workspace.slug]),
        **extra,
    }


def _edit_from(steps: list[Any]) -> list[Op] | None:
    """The edit the steps describe, or None when a step has a problem (shown next to it)."""
    valid = [form.is_valid() for form in steps]
    if not all(valid):
        return None
    return [cast(Op, form.step) for form in steps if form.step is not None]


def _render_new(request: AppRequest, context: dict[str, object]) -> HttpResponse:
    return render(request, f"{_NEW}#editor" if request.htmx else _NEW, context)


@require_http_methods(["GET", "POST"])
def changeset_new(request: AppRequest, slug: str) -> HttpResponse:
    if request.method == "GET":
        selection, error = _selection_from_get(request)
        details = ChangeDetailsForm(label_suffix="")
        context = _new_context(request, selection, step_forms({}), details)
        if error:
            context.update(tavus_error=error, tavus_reading=True)
        elif request.GET.get("all") and not selection:
            context["selection_error"] = "No persona matches this search."
        return _render_new(request, context)
    return _post_new(request, action=request.POST.get("action", ""))


@require_POST
def changeset_preview(request: AppRequest, slug: str) -> HttpResponse:
    return _post_new(request, action="preview")


def _post_new(request: AppRequest, *, action: str) -> HttpResponse:
    data = request.POST
    selection = _selection_from_post(data)
    if action == "add_step" or data.get("remove_step") or data.get("drop"):
        drop = _int(data.get("remove_step"))
        steps = step_forms(data, add=action == "add_step", drop=drop)
        typed = {k: data.get(k, "") for k in ("title", "description")}
        details = ChangeDetailsForm(initial=typed, label_suffix="")
        return _render_new(request, _new_context(request, selection, steps, details))
    steps = step_forms(data, bind=True)
    # The title is judged only when proposing: a preview says nothing about it.
    typed = {k: data.get(k, "") for k in ("title", "description")}
    details = (
        ChangeDetailsForm(data, label_suffix="")
        if action in {"propose", "draft"}
        else ChangeDetailsForm(initial=typed, label_suffix="")
    )
    context = _new_context(request, selection, steps, details)
    edit = _edit_from(steps)
    if not selection:
        context["selection_error"] = "Choose at least one persona: pick them on the persona list."
    if edit is not None and not edit:
        context["edit_error"] = "Describe at least one step."
    if edit is None or not edit or not selection:
        context["form_error"] = "Some of the edit needs fixing: see the notes next to the fields."
        return _render_new(request, context)
    if action == "preview":
        try:
            context["preview"] = _preview(request, selection, edit)
        except NoActiveKey as exc:
            context["tavus_error"] = tavus_error_message(exc)
        return _render_new(request, context)
    if not details.is_valid():
        context["form_error"] = "Give the change set a title."
        return _render_new(request, context)
    return _propose(request, context, selection, edit, details, submit=action != "draft")


def _propose(
    request: AppRequest,
    context: dict[str, object],
    selection: list[Selected],
    edit: list[Op],
    details: ChangeDetailsForm,
    *,
    submit: bool,
) -> HttpResponse:
    try:
        change_set = service.change_set_create(
            workspace=request.workspace,
            actor=request.user,
            persona_ids=[s.persona_id for s in selection],
            edit=edit,
            title=details.cleaned_data["title"],
            description=details.cleaned_data["description"],
            submit=submit,
            request_id=request.request_id,
        )
    except service.ChangeSetError as exc:
        context["form_error"] = str(exc)
        return _render_new(request, context)
    except (TavusError, NoActiveKey) as exc:
        context["tavus_error"] = f"{tavus_error_message(exc)} Nothing was saved."
        return _render_new(request, context)
    if submit:
        messages.success(request, "Proposed: reviewers see this change set in their queue now.")
    else:
        messages.success(request, "Saved as a draft. Send it for review when it is ready.")
    return redirect(_url("changeset_detail", change_set))


def _int(raw: object) -> int | None:
    try:
        return int(str(raw)) if raw not in (None, "") else None
    except ValueError:
        return None


# -- List -----------------------------------------------------------------------------------------

TABS = (
    ("", "All"),
    (ChangeSetStatus.OPEN, "Waiting for review"),
    (ChangeSetStatus.APPROVED, "Approved"),
    (ChangeSetStatus.APPLYING, "Applying"),
    (ChangeSetStatus.APPLIED, "Applied"),
    (ChangeSetStatus.DRAFT, "Drafts"),
)


@require_GET
def changeset_list(request: AppRequest, slug: str) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in ChangeSetStatus.values:
        status = ""
    paginator = Paginator(
        change_sets_for(workspace=request.workspace, status=status), LIST_PAGE_SIZE
    )
    page = paginator.get_page(request.GET.get("page"))
    context = {
        "nav_section": "change_sets",
        "tabs": TABS,
        "status": status,
        "change_sets": page.object_list,
        "page_label": f"Page {page.number} of {paginator.num_pages}",
        "page_prev_url": f"?status={status}&page={page.number - 1}" if page.has_previous() else "",
        "page_next_url": f"?status={status}&page={page.number + 1}" if page.has_next() else "",
    }
    return render(request, "changesets/list.html", context)


# -- Detail ---------------------------------------------------------------------------------------


def _change_set(request: AppRequest, cs_id: int) -> ChangeSet:
    change_set = change_set_in(workspace=request.workspace, cs_id=cs_id)
    if change_set is None:
        raise Http404("No such change set in this workspace.")
    return change_set


@dataclass(frozen=True)
class Allowed:
    """Which buttons this user sees, and why Apply is not offered when it is not."""

    submit: bool
    review: bool
    apply: bool
    close: bool
    revert: bool
    apply_blocker: str
    own: bool


def _allowed(request: AppRequest, change_set: ChangeSet) -> Allowed:
    role = request.membership.role
    workspace = request.workspace
    is_author = change_set.author_id == request.user.pk
    can_edit = role_can(role, Perm.EDIT)
    blocker = ""
    try:
        change_set.check_applicable(
            requires_approval=workspace.requires_approval,
            approvals_required=workspace.approvals_required,
        )
    except InvalidTransition as exc:
        blocker = str(exc)
    may_apply = workspace.may_apply_change(
        can_edit=can_edit, is_author=is_author, can_review=role_can(role, Perm.REVIEW)
    )
    if not may_apply and not blocker:
        blocker = "Only the author of this change set, a reviewer or an admin can apply it."
    active = not change_set.is_finished and change_set.status != ChangeSetStatus.APPLYING
    return Allowed(
        submit=can_edit
        and (is_author or role_can(role, Perm.ADMIN))
        and change_set.status in {ChangeSetStatus.DRAFT, ChangeSetStatus.CHANGES_REQUESTED},
        review=role_can(role, Perm.REVIEW)
        and not is_author
        and change_set.status in ChangeSet.REVIEWABLE,
        apply=may_apply and not blocker,
        close=can_edit and (is_author or role_can(role, Perm.REVIEW)) and active,
        revert=can_edit
        and change_set.status in {ChangeSetStatus.APPLIED, ChangeSetStatus.PARTIALLY_APPLIED},
        apply_blocker=blocker if active else "",
        own=is_author,
    )


@dataclass
class ItemRow:
    """One persona of the change set as its page shows it."""

    item: ChangeSetItem
    groups: list[tuple[str, list[Change]]]
    ops_json: str
    comments: list[object]


def _state_context(request: AppRequest, change_set: ChangeSet) -> dict[str, object]:
    """What the polled "state" fragment shows: status, progress, per-persona statuses, actions."""
    items = list(change_set.items.defer("base", "proposed", "secrets_sealed"))
    done = sum(1 for item in items if item.status != ItemStatus.WAITING)
    workspace = request.workspace
    return {
        "cs": change_set,
        "status_items": items,
        "done": done,
        "total": len(items),
        "counts": service.change_set_counts(change_set),
        "polling": change_set.status == ChangeSetStatus.APPLYING,
        "reviewable": change_set.status in ChangeSet.REVIEWABLE,
        "allowed": _allowed(request, change_set),
        "reviews": list(change_set.reviews.all()),
        "approvals": change_set.approval_count(),
        "approvals_needed": max(1, workspace.approvals_required),
        "requires_approval": workspace.requires_approval,
        # Which required-reviewer rules the change set triggers, and who met them (not while
        # applying: the polled fragment stays cheap and the rules no longer matter).
        "rule_checks": []
        if change_set.status == ChangeSetStatus.APPLYING or change_set.is_finished
        else change_set.rule_checks(),
        "is_change_set": True,
        "decision_form": DecisionForm(),
        "reverted_by": list(change_set.reverted_by.all()),
        "detail_url": _url("changeset_detail", change_set),
    }


def _detail_context(
    request: AppRequest, change_set: ChangeSet, **extra: object
) -> dict[str, object]:
    comments = list(change_set.comments.all())
    by_item: dict[int, list[object]] = {}
    for comment in comments:
        if comment.item_id is not None:
            by_item.setdefault(comment.item_id, []).append(comment)
    rows = [
        ItemRow(
            item,
            group_changes(describe_changes(item.base or {}, item.proposed or {}))
            if item.ops or item.kind == "create"
            else [],
            dumps_readable(item.ops) if item.ops else "",
            by_item.get(item.pk, []),
        )
        for item in change_set.items.all()
    ]
    context: dict[str, object] = {
        "nav_section": "change_sets",
        **_state_context(request, change_set),
        "rows": rows,
        "edit_lines": edit_summary(list(change_set.edit or [])),
        "general_comments": [c for c in comments if c.item_id is None],
        "comment_form": CommentForm(),
        "comment_item": None,
        "comment_url": _url("changeset_comment", change_set),
        **_history_context(change_set),
    }
    context.update(extra)
    return context


def _history_context(change_set: ChangeSet) -> dict[str, object]:
    return {
        "history": [
            (event, action_label(event.action))
            for event in change_set_history(change_set=change_set)
        ],
        "detail_url": _url("changeset_detail", change_set),
    }


@require_GET
def changeset_detail(request: AppRequest, slug: str, cs_id: int) -> HttpResponse:
    change_set = _change_set(request, cs_id)
    part = request.GET.get("part") if request.htmx else None
    if part == "history":
        return render(request, f"{_DETAIL}#history", _history_context(change_set))
    if part == "state":
        response = render(request, f"{_DETAIL}#state", _state_context(request, change_set))
        if change_set.is_finished:  # the last poll: the history below has news too
            return trigger_client_event(response, "changeset-changed")
        return response
    return render(request, _DETAIL, _detail_context(request, change_set))


# -- Transitions ----------------------------------------------------------------------------------


def _after_write(
    request: AppRequest, change_set: ChangeSet, *, notice: str = "", error: str = ""
) -> HttpResponse:
    """htmx: the state fragment again, with the notice; without JS: a message, then the page."""
    if request.htmx:
        context = {**_state_context(request, change_set), "notice": notice, "error": error}
        response = render(request, f"{_DETAIL}#state", context)
        return trigger_client_event(response, "changeset-changed")
    if error:
        messages.error(request, error)
    elif notice:
        messages.success(request, notice)
    return redirect(_url("changeset_detail", change_set))


def _transition(
    request: AppRequest, cs_id: int, run: Callable[[ChangeSet], ChangeSet], notice: str
) -> HttpResponse:
    change_set = _change_set(request, cs_id)
    try:
        change_set = run(change_set)
    except InvalidTransition as exc:
        change_set.refresh_from_db()
        return _after_write(request, change_set, error=str(exc))
    return _after_write(request, change_set, notice=notice)


@require_POST
def changeset_submit(request: AppRequest, slug: str, cs_id: int) -> HttpResponse:
    return _transition(
        request,
        cs_id,
        lambda cs: service.change_set_submit(
            change_set=cs, actor=request.user, request_id=request.request_id
        ),
        "Sent for review.",
    )


@require_POST
def changeset_close(request: AppRequest, slug: str, cs_id: int) -> HttpResponse:
    return _transition(
        request,
        cs_id,
        lambda cs: service.change_set_close(
            change_set=cs, actor=request.user, request_id=request.request_id
        ),
        "Closed. Nothing was sent to Tavus; the change set stays here for the record.",
    )


@require_POST
def changeset_apply(request: AppRequest, slug: str, cs_id: int) -> HttpResponse:
    return _transition(
        request,
        cs_id,
        lambda cs: service.change_set_apply(
            change_set=cs, actor=request.user, request_id=request.request_id
        ),
        "Applying: each persona is sent in the background. This page follows their progress.",
    )


@require_POST
def changeset_decide(request: AppRequest, slug: str, cs_id: int) -> HttpResponse:
    change_set = _change_set(request, cs_id)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        if request.htmx:
            context = {**_state_context(request, change_set), "decision_form": form}
            return render(request, f"{_DETAIL}#state", context)
        return render(request, _DETAIL, _detail_context(request, change_set, decision_form=form))
    if form.cleaned_data["decision"] == ReviewDecision.APPROVE:
        run, notice = service.change_set_approve, "Approved."
    else:
        run, notice = service.change_set_request_changes, "Sent back to the author."
    try:
        change_set = run(
            change_set=change_set,
            actor=request.user,
            comment=form.cleaned_data["comment"],
            request_id=request.request_id,
        )
    except InvalidTransition as exc:
        change_set.refresh_from_db()
        return _after_write(request, change_set, error=str(exc))
    if change_set.status == ChangeSetStatus.APPROVED:
        notice += " It has the approvals it needs and can be applied."
    return _after_write(request, change_set, notice=notice)


@require_POST
def changeset_comment(request: AppRequest, slug: str, cs_id: int) -> HttpResponse:
    change_set = _change_set(request, cs_id)
    form = CommentForm(request.POST)
    item_id = _int(request.POST.get("item"))
    item = change_set.items.filter(pk=item_id).first() if item_id is not None else None
    if item_id is not None and item is None:
        raise Http404("That persona is not part of this change set.")
    if form.is_valid():
        service.change_set_comment(
            change_set=change_set,
            actor=request.user,
            body=form.cleaned_data["body"],
            item=item,
            request_id=request.request_id,
        )
        messages.success(request, "Comment added.")
        anchor = f"#item-{item.pk}" if item is not None else "#discussion"
        return redirect(_url("changeset_detail", change_set) + anchor)
    context = _detail_context(request, change_set, comment_form=form, comment_item=item_id)
    return render(request, _DETAIL, context)


@require_POST
def changeset_revert(request: AppRequest, slug: str, cs_id: int) -> HttpResponse:
    change_set = _change_set(request, cs_id)
    try:
        revert = service.change_set_revert(
            change_set=change_set, actor=request.user, submit=True, request_id=request.request_id
        )
    except (InvalidTransition, service.ChangeSetError) as exc:
        messages.error(request, str(exc))
        return redirect(_url("changeset_detail", change_set))
    messages.success(
        request,
        f"A change set that undoes #{change_set.pk} was proposed for review: "
        "nothing changes until it is approved and applied.",
    )
    return redirect(_url("changeset_detail", revert))
