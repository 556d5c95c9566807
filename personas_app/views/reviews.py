"""Review pages: the queue, one change request (diff, ops, checks, discussion, decisions) and its
transitions (submit, comment, approve / request changes, apply, close, update from live).

Permissions per URL come from URL_RULES (middleware); finer rules (the author can't approve their
own change, only the author or a reviewer may close it...) are the service's, which raises
PermissionDenied with a plain message: that becomes the 403 page (or an htmx error toast).
Every write works without JavaScript (POST, then redirect with a message); htmx requests get the
fragment of the page that changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from personas_app.audit_words import action_label
from personas_app.forms.reviews import ChangeDetailsForm, CommentForm, DecisionForm
from personas_app.http import AppRequest, tavus_error_message
from personas_app.models import ChangeKind, ChangeRequest, ChangeStatus, Review, ReviewDecision
from personas_app.models.reviews import InvalidTransition
from personas_app.permissions import Perm, role_can
from personas_app.persona.checks import persona_warnings
from personas_app.persona.diffs import Shown, group_changes, show_value
from personas_app.persona.jsontypes import JSON, JSONObject, Op, from_pointer, lookup
from personas_app.persona.layers import label_for, layer_for
from personas_app.persona.patching import Change, Conflict, describe_changes, rebase
from personas_app.persona.redaction import SECRET_MARKER, redact_ops
from personas_app.persona.schema import Problem, persona_problems
from personas_app.selectors import (
    REVIEW_TABS,
    change_request_history,
    change_request_in,
    change_request_last_conflict,
    review_required_of,
    review_tab_counts,
    review_waiting_ids,
)
from personas_app.selectors import (
    review_queue as select_review_queue,
)
from personas_app.services import reviews as service
from personas_app.services.workspaces import NoActiveKey
from personas_app.tavus import TavusError

_DETAIL = "reviews/detail.html"
QUEUE_PAGE_SIZE = 25


def _change_request(request: AppRequest, cr_id: int, *, documents: bool = True) -> ChangeRequest:
    change_request = change_request_in(
        workspace=request.workspace, cr_id=cr_id, documents=documents
    )
    if change_request is None:
        raise Http404("No such change request in this workspace.")
    return change_request


def _detail_url(change_request: ChangeRequest) -> str:
    return reverse(
        "personas:review_detail", args=[change_request.workspace.slug, change_request.pk]
    )


# -- Queue ----------------------------------------------------------------------------------------


@require_GET
def review_queue(request: AppRequest, slug: str) -> HttpResponse:
    tabs = dict(REVIEW_TABS)
    tab = request.GET.get("tab", "waiting")
    if tab not in tabs:
        tab = "waiting"
    paginator = Paginator(
        select_review_queue(workspace=request.workspace, user=request.user, tab=tab),
        QUEUE_PAGE_SIZE,
    )
    page = paginator.get_page(request.GET.get("page"))
    counts = review_tab_counts(workspace=request.workspace, user=request.user)
    context: dict[str, object] = {
        "nav_section": "reviews",
        "tab": tab,
        "tab_title": tabs[tab],
        "tabs": [(key, title, counts.get(key, 0)) for key, title in REVIEW_TABS],
        "changes": page.object_list,
        "waiting_for_me": review_waiting_ids(workspace=request.workspace, user=request.user),
        "required_of_me": review_required_of(
            workspace=request.workspace, user=request.user, changes=page.object_list
        ),
        "page_label": f"Page {page.number} of {paginator.num_pages}",
        "page_prev_url": f"?tab={tab}&page={page.number - 1}" if page.has_previous() else "",
        "page_next_url": f"?tab={tab}&page={page.number + 1}" if page.has_next() else "",
    }
    template = "reviews/queue.html#rows" if request.htmx else "reviews/queue.html"
    return render(request, template, context)


# -- Detail ---------------------------------------------------------------------------------------


# Op values longer than this (as compact JSON) show a short form; the whole value is one click
# away (?show_op=<index>, or the op_value fragment with htmx). A 20 000-character prompt or a
# 50-tool list would otherwise fill the table.
OP_VALUE_SHORT = 240


@dataclass(frozen=True)
class OpRow:
    """One operation of the patch as reviewers see it (secret values masked)."""

    index: int
    op: Op
    label: str
    layer_title: str
    value_json: str  # indented JSON of the whole value; "" when only the short form is shown
    value_short: str  # compact JSON, cut at OP_VALUE_SHORT characters
    value_size: str  # "20,000 characters", "50 items"... for the "show the whole value" link
    has_value: bool
    is_secret: bool
    comments: list[object]


def _value_size(value: JSON, compact: str) -> str:
    """How big a value is, in words: "20,000 characters", "50 items, 64,000 characters"."""
    if isinstance(value, str):
        return f"{len(value):,} characters"
    size = f"{len(compact):,} characters"
    if isinstance(value, list | dict):
        noun = "item" if isinstance(value, list) else "setting"
        return f"{len(value):,} {noun}{'s' if len(value) != 1 else ''}, {size}"
    return size


def _op_row(index: int, op: Op, comments: list[object], *, expanded: bool) -> OpRow:
    path = str(op.get("path", ""))
    value = op.get("value")
    is_secret = value == SECRET_MARKER
    compact = "" if is_secret else json.dumps(value, ensure_ascii=False)
    is_long = len(compact) > OP_VALUE_SHORT
    show_all = not is_secret and (expanded or not is_long)
    return OpRow(
        index=index,
        op=op,
        label=label_for(path),
        layer_title=layer_for(path).title,
        value_json=json.dumps(value, indent=2, ensure_ascii=False) if show_all else "",
        value_short=compact[:OP_VALUE_SHORT].rstrip() + "…" if is_long else compact,
        value_size=_value_size(value, compact) if is_long else "",
        has_value="value" in op,
        is_secret=is_secret,
        comments=comments,
    )


def _op_rows(
    change_request: ChangeRequest,
    comments_by_op: dict[int, list[object]],
    *,
    show_op: int | None = None,
) -> list[OpRow]:
    return [
        _op_row(index, op, comments_by_op.get(index, []), expanded=index == show_op)
        for index, op in enumerate(redact_ops(list(change_request.ops or [])))
    ]


def _secret_changes(change_request: ChangeRequest, shown: list[Change]) -> list[Change]:
    """Rows for the secrets the change sets: "API key: changed (hidden)", never a value.

    Both redacted documents hold the marker where a secret is kept or changed, so a plain diff
    cannot see a new secret value; the sealed pointers can.
    """
    already = {change.pointer for change in shown}
    rows = []
    for pointer in service.change_request_secret_pointers(change_request=change_request):
        if pointer in already:
            continue
        found, _ = lookup(change_request.base_document or {}, from_pointer(pointer))
        rows.append(
            Change(
                pointer,
                label_for(pointer),
                layer_for(pointer).key,
                SECRET_MARKER if found else None,
                SECRET_MARKER,
                "changed" if found else "added",
            )
        )
    return rows


def _read_documents(change_request: ChangeRequest) -> None:
    """Read both documents in one query if the change request was loaded without them."""
    deferred = change_request.get_deferred_fields() & {"base_document", "proposed_document"}
    if deferred:
        change_request.refresh_from_db(fields=sorted(deferred))


def _diff_groups(change_request: ChangeRequest) -> list[tuple[str, list[Change]]]:
    base: JSONObject = change_request.base_document or {}
    proposed: JSONObject = change_request.proposed_document or {}
    changes = describe_changes(base, proposed)
    return group_changes([*changes, *_secret_changes(change_request, changes)])


@dataclass(frozen=True)
class ConflictRow:
    """One field of the three-way view, each value ready to show."""

    pointer: str
    label: str
    base: Shown
    live: Shown
    proposed: Shown


def _conflict_rows(conflicts: list[Conflict]) -> list[ConflictRow]:
    return [
        ConflictRow(
            c.pointer,
            c.label,
            show_value(c.base, pointer=c.pointer),
            show_value(c.live, pointer=c.pointer),
            show_value(c.proposed, pointer=c.pointer),
        )
        for c in conflicts
    ]


def _conflicts(change_request: ChangeRequest) -> list[Conflict]:
    """Base / live / proposed for each field both sides changed (from the last conflict met)."""
    if change_request.status != ChangeStatus.CONFLICT:
        return []
    event = change_request_last_conflict(change_request=change_request)
    if event is None or not isinstance(event.after, dict):
        return []
    _read_documents(change_request)
    base: JSONObject = change_request.base_document or {}
    live: JSONObject = event.after
    if change_request.kind == ChangeKind.DELETE:
        return [
            Conflict(c.pointer, c.label, c.before, c.after, None)
            for c in describe_changes(base, live)
        ]
    return rebase(base, change_request.proposed_document or {}, live).conflicts


@dataclass(frozen=True)
class Allowed:
    """Which buttons this user sees, and why Apply is not offered when it is not."""

    edit: bool
    submit: bool
    review: bool
    apply: bool
    close: bool
    refresh: bool
    apply_blocker: str
    own_change: bool


def _allowed(request: AppRequest, change_request: ChangeRequest) -> Allowed:
    role = request.membership.role
    workspace = request.workspace
    is_author = change_request.author_id == request.user.pk
    can_edit = role_can(role, Perm.EDIT)
    author_or_admin = can_edit and (is_author or role_can(role, Perm.ADMIN))
    author_or_reviewer = can_edit and (is_author or role_can(role, Perm.REVIEW))
    blocker = ""
    try:
        change_request.check_applicable(
            requires_approval=workspace.requires_approval,
            approvals_required=workspace.approvals_required,
        )
    except InvalidTransition as exc:
        blocker = str(exc)
    may_apply = workspace.may_apply_change(
        can_edit=can_edit, is_author=is_author, can_review=role_can(role, Perm.REVIEW)
    )
    if not may_apply and not blocker:
        blocker = "Only the author of this change, a reviewer or an admin can apply it."
    active = not change_request.is_finished and change_request.status != ChangeStatus.APPLYING
    return Allowed(
        edit=author_or_admin and change_request.is_editable,
        submit=author_or_admin
        and change_request.status in {ChangeStatus.DRAFT, ChangeStatus.CHANGES_REQUESTED},
        review=role_can(role, Perm.REVIEW) and not is_author and change_request.is_reviewable,
        apply=may_apply and not blocker,
        close=author_or_reviewer and active,
        refresh=author_or_reviewer
        and change_request.kind != ChangeKind.CREATE
        and change_request.is_editable
        and (is_author or change_request.status == ChangeStatus.CONFLICT),
        apply_blocker=blocker if active else "",
        own_change=is_author,
    )


def _editor_url(change_request: ChangeRequest) -> str:
    slug = change_request.workspace.slug
    if change_request.kind == ChangeKind.CREATE:
        return reverse("personas:persona_create", args=[slug]) + f"?cr={change_request.pk}"
    return (
        reverse("personas:persona_edit", args=[slug, change_request.persona_id])
        + f"?cr={change_request.pk}"
    )


def _checks(change_request: ChangeRequest) -> tuple[list[Problem], list[Problem]]:
    proposed = change_request.proposed_document
    if not isinstance(proposed, dict):
        return [], []
    return list(persona_warnings(proposed)), list(persona_problems(proposed))


@dataclass(frozen=True)
class Content:
    """What one version of a change shows that depends only on its documents and secrets."""

    groups: list[tuple[str, list[Change]]]
    warnings: list[Problem]
    problems: list[Problem]


# Every save of a change request moves updated_at (auto_now), and the documents and secrets
# change only through a full save, so (id, updated_at) names one version of them. The entry holds
# redacted values only (secrets read "changed (hidden)").
CONTENT_CACHE_SECONDS = 3600


def _content(change_request: ChangeRequest) -> Content:
    """The per-layer diff and the checks of this version of the change, computed once.

    Reading two large documents, diffing and validating them is most of the page's work; the
    page is read many times (each reviewer, every htmx refresh) between two versions.
    """
    key = f"review-content:1:{change_request.pk}:{change_request.updated_at.isoformat()}"
    content = cache.get(key)
    if isinstance(content, Content):
        return content
    _read_documents(change_request)
    warnings, problems = _checks(change_request)
    content = Content(_diff_groups(change_request), warnings, problems)
    cache.set(key, content, CONTENT_CACHE_SECONDS)
    return content


@dataclass(frozen=True)
class ReviewRow:
    """One review as the page lists it, with why it no longer counts (when it does not)."""

    review: Review
    replaced: bool  # the same reviewer decided again later


def _reviews(change_request: ChangeRequest) -> list[ReviewRow]:
    reviews = list(change_request.reviews.all())
    return [
        ReviewRow(
            review,
            any(later.reviewer_id == review.reviewer_id for later in reviews[index + 1 :]),
        )
        for index, review in enumerate(reviews)
    ]


def _detail_context(
    request: AppRequest, change_request: ChangeRequest, **extra: object
) -> dict[str, object]:
    comments = list(change_request.comments.all())
    comments_by_op: dict[int, list[object]] = {}
    for comment in comments:
        if comment.op_index is not None:
            comments_by_op.setdefault(comment.op_index, []).append(comment)
    content = _content(change_request)
    conflicts = _conflicts(change_request)
    workspace = request.workspace
    detail_url = _detail_url(change_request)
    context: dict[str, object] = {
        "nav_section": "reviews",
        "cr": change_request,
        "allowed": _allowed(request, change_request),
        "reviews": _reviews(change_request),
        "rule_checks": change_request.rule_checks(),
        "approvals": change_request.approval_count(),
        "approvals_needed": max(1, workspace.approvals_required),
        "requires_approval": workspace.requires_approval,
        "groups": content.groups,
        "op_rows": _op_rows(
            change_request, comments_by_op, show_op=_int_or_none(request.GET.get("show_op"))
        ),
        "general_comments": [c for c in comments if c.op_index is None],
        "warnings": content.warnings,
        "problems": content.problems,
        "conflict_rows": _conflict_rows(conflicts),
        "conflicts": conflicts,
        "before_label": "Before" if change_request.kind != ChangeKind.CREATE else "(new)",
        "history": [
            (event, action_label(event.action))
            for event in change_request_history(change_request=change_request)
        ],
        "editor_url": _editor_url(change_request),
        "detail_url": detail_url,
        "comment_url": reverse("personas:review_comment", args=[workspace.slug, change_request.pk]),
        "comment_form": CommentForm(),
        "decision_form": DecisionForm(),
        "comment_op": _int_or_none(request.GET.get("comment_op")),
    }
    if change_request.status == ChangeStatus.FAILED and change_request.last_error:
        context.setdefault("tavus_error", change_request.last_error)
    context.update(extra)
    return context


def _int_or_none(raw: str | None) -> int | None:
    try:
        return int(raw) if raw not in (None, "") else None
    except ValueError:
        return None


_PARTS = {"state", "discussion"}


def _op_value(request: AppRequest, change_request: ChangeRequest) -> HttpResponse:
    """htmx: the whole value of one operation (the table shows long values cut short)."""
    index = _int_or_none(request.GET.get("show_op"))
    ops = list(change_request.ops or [])
    if index is None or not 0 <= index < len(ops):
        raise Http404("That operation is not part of this change any more.")
    row = _op_row(index, redact_ops([ops[index]])[0], [], expanded=True)
    return render(request, f"{_DETAIL}#op-value", {"row": row})


@require_GET
def review_detail(request: AppRequest, slug: str, cr_id: int) -> HttpResponse:
    # The documents are read only when the cached diff and checks miss (or for a conflict).
    change_request = _change_request(request, cr_id, documents=False)
    if request.htmx and request.GET.get("part") == "op_value":
        return _op_value(request, change_request)
    context = _detail_context(request, change_request)
    part = request.GET.get("part", "")
    if request.htmx and part in _PARTS:
        return render(request, f"{_DETAIL}#{part}", context)
    return render(request, _DETAIL, context)


# -- Title and description ----------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def review_edit(request: AppRequest, slug: str, cr_id: int) -> HttpResponse:
    change_request = _change_request(request, cr_id)
    initial = {"title": change_request.title, "description": change_request.description}
    form = ChangeDetailsForm(request.POST if request.method == "POST" else None, initial=initial)
    context: dict[str, object] = {
        "nav_section": "reviews",
        "cr": change_request,
        "form": form,
        "allowed": _allowed(request, change_request),
        "editor_url": _editor_url(change_request),
        "detail_url": _detail_url(change_request),
    }
    if request.method == "POST" and form.is_valid():
        try:
            service.change_request_describe(
                change_request=change_request,
                actor=request.user,
                title=form.cleaned_data["title"],
                description=form.cleaned_data["description"],
                request_id=request.request_id,
            )
        except InvalidTransition as exc:
            context["error"] = str(exc)
        else:
            messages.success(request, "Saved the title and description.")
            if request.htmx:
                return HttpResponseClientRedirect(_detail_url(change_request))
            return redirect(_detail_url(change_request))
    template = "reviews/edit.html#details-form" if request.htmx else "reviews/edit.html"
    return render(request, template, context)


# -- Transitions ----------------------------------------------------------------------------------


def _after_write(
    request: AppRequest,
    change_request: ChangeRequest,
    *,
    notice: str = "",
    error: str = "",
    level: int = messages.SUCCESS,
    **extra: object,
) -> HttpResponse:
    """htmx: the page's state panel, re-rendered, and an event for the rest of the page.
    Without JS: a message, then back to the change's page."""
    if request.htmx:
        context = _detail_context(
            request, change_request, notice=notice, notice_level=level, error=error, **extra
        )
        response = render(request, f"{_DETAIL}#state", context)
        return trigger_client_event(response, "review-changed")
    if error:
        messages.error(request, error)
    elif notice:
        messages.add_message(request, level, notice)
    return redirect(_detail_url(change_request))


def _transition(
    request: AppRequest,
    cr_id: int,
    run: Callable[[ChangeRequest], ChangeRequest],
    notice: str,
) -> HttpResponse:
    change_request = _change_request(request, cr_id)
    try:
        change_request = run(change_request)
    except InvalidTransition as exc:
        change_request.refresh_from_db()
        return _after_write(request, change_request, error=str(exc))
    return _after_write(request, change_request, notice=notice)


@require_POST
def review_submit(request: AppRequest, slug: str, cr_id: int) -> HttpResponse:
    return _transition(
        request,
        cr_id,
        lambda cr: service.change_request_submit(
            change_request=cr, actor=request.user, request_id=request.request_id
        ),
        "Sent for review. Reviewers see it in their queue now.",
    )


@require_POST
def review_close(request: AppRequest, slug: str, cr_id: int) -> HttpResponse:
    return _transition(
        request,
        cr_id,
        lambda cr: service.change_request_close(
            change_request=cr, actor=request.user, request_id=request.request_id
        ),
        "Closed. Nothing was sent to Tavus; the change stays here for the record.",
    )


@require_POST
def review_comment(request: AppRequest, slug: str, cr_id: int) -> HttpResponse:
    change_request = _change_request(request, cr_id)
    form = CommentForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            service.change_request_comment(
                change_request=change_request,
                actor=request.user,
                body=form.cleaned_data["body"],
                op_index=form.cleaned_data["op_index"],
                request_id=request.request_id,
            )
        except ValueError as exc:
            error = str(exc)
        else:
            if request.htmx:
                context = _detail_context(request, change_request, comment_notice="Comment added.")
                return render(request, f"{_DETAIL}#discussion", context)
            messages.success(request, "Comment added.")
            return redirect(_detail_url(change_request) + "#discussion")
    # Bad input: the form again with what was typed and the reason, status 200.
    op_index = form.cleaned_data.get("op_index") if hasattr(form, "cleaned_data") else None
    context = _detail_context(
        request,
        change_request,
        comment_form=form,
        comment_op=op_index if op_index is not None else _int_or_none(request.POST.get("op_index")),
        comment_error=error,
    )
    if request.htmx:
        return render(request, f"{_DETAIL}#discussion", context)
    return render(request, _DETAIL, context)


@require_POST
def review_decide(request: AppRequest, slug: str, cr_id: int) -> HttpResponse:
    change_request = _change_request(request, cr_id)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        context = _detail_context(request, change_request, decision_form=form)
        template = f"{_DETAIL}#state" if request.htmx else _DETAIL
        return render(request, template, context)
    decision = form.cleaned_data["decision"]
    comment = form.cleaned_data["comment"]
    if decision == ReviewDecision.APPROVE:
        run = service.change_request_approve
        notice = "Approved."
    else:
        run = service.change_request_request_changes
        notice = "Sent back to the author with your comment."
    try:
        change_request = run(
            change_request=change_request,
            actor=request.user,
            comment=comment,
            request_id=request.request_id,
        )
    except InvalidTransition as exc:
        change_request.refresh_from_db()
        return _after_write(request, change_request, error=str(exc))
    if change_request.status == ChangeStatus.APPROVED:
        notice += " It has the approvals it needs and can be applied."
    return _after_write(request, change_request, notice=notice)


@require_POST
def review_apply(request: AppRequest, slug: str, cr_id: int) -> HttpResponse:
    change_request = _change_request(request, cr_id)
    try:
        change_request = service.change_request_apply(
            change_request=change_request, actor=request.user, request_id=request.request_id
        )
    except InvalidTransition as exc:
        change_request.refresh_from_db()
        return _after_write(request, change_request, error=str(exc))
    if change_request.status == ChangeStatus.APPLIED:
        return _after_write(request, change_request, notice=_applied_notice(change_request))
    if change_request.status == ChangeStatus.CONFLICT:
        return _after_write(
            request,
            change_request,
            level=messages.WARNING,
            notice="Nothing was sent: the persona was changed in the same places since this "
            "change was made. Compare the versions below, then update the change from the "
            "live version.",
        )
    return _after_write(
        request,
        change_request,
        error=f"{change_request.last_error} Nothing in this change request was lost.",
    )


def _applied_notice(change_request: ChangeRequest) -> str:
    if change_request.kind == ChangeKind.CREATE:
        return f"Applied: the persona “{change_request.persona_name}” now exists in Tavus."
    if change_request.kind == ChangeKind.DELETE:
        return f"Applied: the persona “{change_request.persona_name}” was deleted in Tavus."
    return "Applied: the persona is live with this change."


@require_POST
def review_refresh(request: AppRequest, slug: str, cr_id: int) -> HttpResponse:
    change_request = _change_request(request, cr_id)
    try:
        change_request = service.change_request_refresh_from_live(
            change_request=change_request, actor=request.user, request_id=request.request_id
        )
    except InvalidTransition as exc:
        change_request.refresh_from_db()
        return _after_write(request, change_request, error=str(exc))
    except (TavusError, NoActiveKey) as exc:
        return _after_write(
            request,
            change_request,
            error="The live version could not be read from Tavus: "
            f"{tavus_error_message(exc)} Nothing was changed.",
        )
    messages.success(
        request,
        "Updated from the live version: the change now applies on top of the persona as it is. "
        "Check the differences below.",
    )
    # The diff, the ops and the status all changed: reload the whole page.
    if request.htmx:
        return HttpResponseClientRedirect(_detail_url(change_request))
    return redirect(_detail_url(change_request))
