"""History pages: the workspace audit log (with exports) and each persona's versions.

Every page here reads only the database, except the revert page, which fetches the live persona
once to plan the revert. Listings are keyset-paginated on the audit id (?before=<id> for older,
?after=<id> for newer); nothing here counts or offsets the log.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from ..audit_words import action_label, version_title
from ..forms.history import AuditFilterForm
from ..http import AppRequest, tavus_error_message
from ..models import AuditEvent, Outcome, Workspace
from ..persona.diffs import (
    describe_snapshots,
    document_summary,
    group_changes,
    patch_snapshots,
    with_secret_changes,
)
from ..persona.jsontypes import JSON, JSONObject, Op, from_pointer
from ..persona.patching import Change, apply_patch
from ..persona.redaction import redact, redact_ops
from ..selectors import (
    KeysetPage,
    audit_iter,
    audit_keyset_page,
    audit_snapshots,
    persona_event,
    persona_latest_version,
    persona_version_before,
    persona_version_choices,
    persona_versions,
)
from ..services.history import (
    RevertError,
    RevertPlan,
    RevertPlanChanged,
    persona_revert_plan,
    persona_revert_propose,
)
from ..services.history import persona_revert as revert_apply
from ..services.workspaces import NoActiveKey
from ..tavus import TavusError

# -- Shared helpers ------------------------------------------------------------------------------


def _cursor(raw: str | None) -> int | None:
    try:
        value = int(raw or "")
    except ValueError:
        return None
    return value if value > 0 else None


def _page_links(request: AppRequest, page: KeysetPage) -> dict[str, str]:
    """ "Newer" / "Older" links that keep every other query parameter."""
    base = {k: v for k, v in request.GET.items() if k not in {"before", "after", "show"}}

    def link(**cursor: int) -> str:
        return "?" + urlencode({**base, **cursor})

    return {
        "newer_url": link(after=page.newer) if page.newer is not None else "",
        "older_url": link(before=page.older) if page.older is not None else "",
        "newest_url": ("?" + urlencode(base)) if page.newer is not None else "",
    }


def _ops(payload: JSON) -> list[Op] | None:
    if isinstance(payload, list) and all(isinstance(op, dict) and "op" in op for op in payload):
        return redact_ops([op for op in payload if isinstance(op, dict)])
    return None


def _snapshot(value: JSON) -> JSONObject | None:
    return redact(value) if isinstance(value, dict) else None


def _is_persona_event(event: AuditEvent) -> bool:
    return event.action.startswith("persona.") and bool(event.persona_id)


# -- Audit log -----------------------------------------------------------------------------------


@dataclass
class AuditRow:
    """One audit record in plain words for the page."""

    event: AuditEvent
    who: str
    what: str
    detail_url: str = ""
    persona_url: str = ""
    review_url: str = ""


def _audit_row(event: AuditEvent, slug: str) -> AuditRow:
    who = "The dashboard" if event.actor_name in ("", "system") else event.actor_name
    row = AuditRow(event=event, who=who, what=action_label(event.action))
    if event.persona_id:
        row.persona_url = reverse("personas:persona_detail", args=[slug, event.persona_id])
        if _is_persona_event(event):
            row.detail_url = reverse(
                "personas:persona_version", args=[slug, event.persona_id, event.pk]
            )
    if event.change_request_id:
        row.review_url = reverse("personas:review_detail", args=[slug, event.change_request_id])
    return row


def _known_actors(request: AppRequest) -> list[str]:
    names = request.workspace.memberships.select_related("user").values_list(
        "user__username", flat=True
    )
    return sorted({*names, "system"})


@require_GET
def audit_list(request: AppRequest, slug: str) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    form.is_valid()
    show = _cursor(request.GET.get("show"))
    if request.htmx and show is not None:
        return _audit_event_fragment(request, show)
    page = audit_keyset_page(
        workspace=request.workspace,
        filters=form.filters(),
        before=_cursor(request.GET.get("before")),
        after=_cursor(request.GET.get("after")),
        documents=False,
    )
    query = form.query()
    keep = {k: v for k, v in request.GET.items() if k != "show"}
    context: dict[str, object] = {
        "nav_section": "audit",
        "form": form,
        "rows": [_audit_row(e, slug) for e in page.rows],
        "show": show,
        "show_query": urlencode(keep) + ("&" if keep else ""),
        "filtered": bool(query),
        "known_actors": _known_actors(request),
        "export_csv_url": reverse("personas:audit_export", args=[slug])
        + "?"
        + urlencode({**query, "format": "csv"}),
        "export_jsonl_url": reverse("personas:audit_export", args=[slug])
        + "?"
        + urlencode({**query, "format": "jsonl"}),
        **_page_links(request, page),
    }
    template = "history/audit.html#rows" if request.htmx else "history/audit.html"
    return render(request, template, context)


def _audit_event_fragment(request: AppRequest, event_id: int) -> HttpResponse:
    event = AuditEvent.objects.filter(workspace=request.workspace, id=event_id).first()
    if event is None:
        raise Http404("No such audit record.")
    return render(
        request,
        "history/audit.html#event-json",
        {"row": _audit_row(event, request.workspace.slug), "show": event.pk},
    )


# -- Export ---------------------------------------------------------------------------------------

_EXPORT_FIELDS = [
    "id",
    "time",
    "actor",
    "action",
    "outcome",
    "persona_id",
    "persona_name",
    "subject",
    "tavus_status",
    "tavus_error",
    "note",
    "request_id",
    "change_request_id",
    "payload",
    "before",
    "after",
]
# Spreadsheets run cells that start like a formula; a leading apostrophe makes them plain text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _export_record(event: AuditEvent) -> dict[str, JSON]:
    payload = event.payload
    if _ops(payload) is not None:
        payload = _ops(payload)  # type: ignore[assignment]
    elif isinstance(payload, dict):
        payload = redact(payload)
    return {
        "id": event.pk,
        "time": event.created_at.isoformat(),
        "actor": event.actor_name,
        "action": event.action,
        "outcome": event.outcome,
        "persona_id": event.persona_id,
        "persona_name": event.persona_name,
        "subject": event.target,
        "tavus_status": event.http_status,
        "tavus_error": event.error_message,
        "note": event.note,
        "request_id": event.request_id,
        "change_request_id": event.change_request_id,
        "payload": payload,
        "before": _snapshot(event.before),
        "after": _snapshot(event.after),
    }


def _csv_cell(value: JSON) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_lines(events: Iterator[AuditEvent]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return text

    writer.writerow(_EXPORT_FIELDS)
    yield flush()
    for event in events:
        record = _export_record(event)
        writer.writerow([_csv_cell(record[name]) for name in _EXPORT_FIELDS])
        yield flush()


def _jsonl_lines(events: Iterator[AuditEvent]) -> Iterator[str]:
    for event in events:
        yield json.dumps(_export_record(event), ensure_ascii=False) + "\n"


@require_GET
def audit_export(request: AppRequest, slug: str) -> HttpResponseBase:
    form = AuditFilterForm(request.GET)
    form.is_valid()
    kind = request.GET.get("format", "csv")
    if kind not in {"csv", "jsonl"}:
        kind = "csv"
    events = audit_iter(workspace=request.workspace, filters=form.filters())
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    if kind == "csv":
        response = StreamingHttpResponse(_csv_lines(events), content_type="text/csv; charset=utf-8")
    else:
        response = StreamingHttpResponse(
            _jsonl_lines(events), content_type="application/x-ndjson; charset=utf-8"
        )
    filename = f"audit-{slug}-{stamp}.{kind}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


# -- A persona's versions -------------------------------------------------------------------------


@dataclass
class TimelineEntry:
    """One entry of a persona's timeline, with its per-layer diff against the previous version."""

    event: AuditEvent
    title: str
    previous: AuditEvent | None = None
    groups: list[tuple[str, list[Change]]] = field(default_factory=list)
    patch: list[Op] | None = None
    patch_source: str = ""
    sent_body: JSONObject | None = None
    is_version: bool = False
    failed: bool = False
    first: bool = False
    default_compare: str = ""  # "a" or "b": which compare radio starts checked
    has_body: bool = False  # a request body (not ops) was sent: shown on the entry's own page
    url: str = ""  # the entry's own page (its revert page is url + "revert/")
    change_html: str = ""  # the timeline's "what changed" block, rendered (see _timeline)


def _diff_groups(
    before: JSON, after: JSON, ops: list[Op] | None = None
) -> list[tuple[str, list[Change]]]:
    if not isinstance(after, dict):
        return []
    changes = describe_snapshots(before if isinstance(before, dict) else {}, after)
    return group_changes(with_secret_changes(changes, ops or []))


@dataclass(frozen=True)
class _EntryDiff:
    """What an entry shows of its change. Worked out from audit records, which never change."""

    groups: list[tuple[str, list[Change]]]
    patch: list[Op] | None
    patch_source: str


def _version_diff(after: JSON, previous: JSON, sent_ops: list[Op] | None) -> _EntryDiff:
    """A version against the one before it (None for a first version: no diff)."""
    groups = _diff_groups(previous, after, sent_ops) if previous is not None else []
    if sent_ops is not None:
        return _EntryDiff(groups, sent_ops, "sent")
    if isinstance(previous, dict) and isinstance(after, dict):
        return _EntryDiff(groups, redact_ops(patch_snapshots(previous, after)), "computed")
    return _EntryDiff(groups, None, "")


def _failed_diff(before: JSON, sent_ops: list[Op] | None) -> _EntryDiff:
    return _EntryDiff(_attempted_groups(before, sent_ops), sent_ops, "sent")


def _entry_head(event: AuditEvent, *, is_version: bool) -> TimelineEntry:
    failed = event.outcome == Outcome.ERROR
    return TimelineEntry(
        event=event,
        title=version_title(event.action),
        is_version=is_version,
        failed=failed,
        has_body=isinstance(event.payload, dict) and (is_version or failed),
    )


def _fill(entry: TimelineEntry, diff: _EntryDiff) -> None:
    entry.groups, entry.patch, entry.patch_source = diff.groups, diff.patch, diff.patch_source


def _timeline_entry(event: AuditEvent, previous: AuditEvent | None) -> TimelineEntry:
    """One entry with its diff and the body it sent, from full records (a version's own page)."""
    entry = _entry_head(event, is_version=event.is_version)
    entry.previous = previous
    sent_ops = _ops(event.payload)
    if entry.is_version:
        entry.first = previous is None
        _fill(entry, _version_diff(event.after, previous.after if previous else None, sent_ops))
    elif entry.failed:
        _fill(entry, _failed_diff(event.before, sent_ops))
    if entry.has_body:
        entry.sent_body = redact(event.payload)  # type: ignore[arg-type]
    return entry


def _attempted_groups(before: JSON, ops: list[Op] | None) -> list[tuple[str, list[Change]]]:
    """What a failed edit tried to change (its ops applied to the version it started from)."""
    if not ops or not isinstance(before, dict):
        return []
    attempted = _applied(before, ops)
    if attempted is None:
        try:
            attempted = apply_patch(before, ops)
        except Exception:
            return []
    return _diff_groups(before, attempted, ops)


def _list_index(segment: str, size: int) -> int | None:
    if not (segment.isascii() and segment.isdigit()) or (segment != "0" and segment[0] == "0"):
        return None
    index = int(segment)
    return index if index < size else None


def _applied(doc: JSONObject, ops: list[Op]) -> JSONObject | None:
    """`ops` (add, remove, replace) applied to a copy of `doc`; None when one does not apply.

    patching.apply_patch deep-copies the whole document first (~4 ms for a persona with 50
    tools); here only the objects and lists on each op's path are copied, the rest is shared.
    """
    result: JSONObject = dict(doc)
    for op in ops:
        kind, path = op.get("op"), op.get("path")
        if kind not in {"add", "remove", "replace"} or not isinstance(path, str):
            return None
        try:
            *parents, last = from_pointer(path)
        except ValueError:
            return None
        node: JSON = result
        for segment in parents:
            if isinstance(node, dict) and segment in node:
                key: str | int = segment
            elif isinstance(node, list) and (index := _list_index(segment, len(node))) is not None:
                key = index
            else:
                return None
            child = node[key]  # type: ignore[index]
            if not isinstance(child, dict | list):
                return None
            copied: JSON = dict(child) if isinstance(child, dict) else list(child)
            node[key] = copied  # type: ignore[index]
            node = copied
        value = op.get("value")
        if isinstance(node, dict):
            if kind != "add" and last not in node:
                return None
            if kind == "remove":
                del node[last]
            else:
                node[last] = value
        elif isinstance(node, list):
            if kind == "add":
                at = len(node) if last == "-" else _list_index(last, len(node) + 1)
                if at is None:
                    return None
                node.insert(at, value)
                continue
            at = _list_index(last, len(node))
            if at is None:
                return None
            if kind == "remove":
                del node[at]
            else:
                node[at] = value
        else:
            return None
    return result


# What each timeline entry changed is kept in the cache, rendered: audit records never change, so
# neither does the diff of a version against the one before it. A page whose entries are all
# cached reads no snapshot (each is ~90 KB of JSON for a large persona) and renders no diff. Keys
# hold the records' times as well as their ids (SQLite can give the highest id again after a
# delete), the entry's address, and a fingerprint of the templates that render the block.
_CHANGE_CACHE_SECONDS = 7 * 24 * 3600
_CHANGE_TEMPLATE = "history/persona_history.html#entry-change"


def _templates_fingerprint() -> str:
    """Changes whenever the templates of the cached block change (read once per process, except
    with DEBUG, where templates are edited while the server runs)."""
    return _fingerprint_now() if settings.DEBUG else _fingerprint_at_start()


def _fingerprint_now() -> str:
    digest = hashlib.sha256()
    for name in ("history/persona_history.html", "includes/_diff.html"):
        # A template's origin and its loader's get_contents() are Django's documented template API.
        origin = get_template(name).origin
        digest.update(origin.loader.get_contents(origin).encode())
    return digest.hexdigest()[:16]


_fingerprint_at_start = functools.cache(_fingerprint_now)


def _change_key(entry: TimelineEntry, previous: AuditEvent | None) -> str:
    def mark(record: AuditEvent) -> str:
        return f"{record.pk}@{record.created_at.timestamp()}"

    event = entry.event
    before = mark(previous) if previous is not None else "-"
    return (
        f"history-change:{_templates_fingerprint()}:{event.workspace_id}:{mark(event)}:{before}:"
        f"{entry.url}"
    )


def _worked_out_diffs(
    entries: list[TimelineEntry],
    previous: dict[int, AuditEvent | None],
    *,
    workspace: Workspace,
) -> dict[int, _EntryDiff]:
    """Diffs of these entries from their snapshots, read in two queries (afters, befores)."""
    after_ids = {e.event.pk for e in entries if e.is_version}
    after_ids |= {p.pk for e in entries if e.is_version and (p := previous.get(e.event.pk))}
    afters = audit_snapshots(workspace=workspace, event_ids=sorted(after_ids), side="after")
    befores = audit_snapshots(
        workspace=workspace,
        event_ids=[e.event.pk for e in entries if not e.is_version],
        side="before",
    )
    diffs: dict[int, _EntryDiff] = {}
    for entry in entries:
        pk, sent_ops = entry.event.pk, _ops(entry.event.payload)
        if entry.is_version:
            before = previous.get(pk)
            diffs[pk] = _version_diff(
                afters.get(pk), afters.get(before.pk) if before else None, sent_ops
            )
        else:
            diffs[pk] = _failed_diff(befores.get(pk), sent_ops)
    return diffs


def _timeline(
    rows: list[AuditEvent], *, workspace: Workspace, persona_id: str, history_url: str
) -> list[TimelineEntry]:
    """Entries for a page of persona_versions rows (which come without their snapshots)."""
    entries = [_entry_head(e, is_version=bool(getattr(e, "has_snapshot", False))) for e in rows]
    versions = [e.event for e in entries if e.is_version]
    previous: dict[int, AuditEvent | None] = {
        newer.pk: older for newer, older in itertools.pairwise(versions)
    }
    if versions:
        previous[versions[-1].pk] = persona_version_before(
            workspace=workspace, persona_id=persona_id, event_id=versions[-1].pk, snapshot=False
        )
    keys: dict[int, str] = {}
    for entry in entries:
        entry.url = f"{history_url}{entry.event.pk}/"
        if entry.is_version or entry.failed:
            entry.first = entry.is_version and previous.get(entry.event.pk) is None
            keys[entry.event.pk] = _change_key(entry, previous.get(entry.event.pk))
    found: dict[str, str] = cache.get_many(list(keys.values())) if keys else {}
    missing = [e for e in entries if e.event.pk in keys and keys[e.event.pk] not in found]
    if missing:
        diffs = _worked_out_diffs(missing, previous, workspace=workspace)
        fresh: dict[str, str] = {}
        for entry in missing:
            _fill(entry, diffs[entry.event.pk])
            fresh[keys[entry.event.pk]] = render_to_string(_CHANGE_TEMPLATE, {"entry": entry})
        cache.set_many(fresh, timeout=_CHANGE_CACHE_SECONDS)
        found.update(fresh)
    for entry in entries:
        if entry.event.pk in keys:
            # A SafeString, also from the cache (pickled as such): printed as the HTML it is.
            entry.change_html = found[keys[entry.event.pk]]
    for entry, default in zip([e for e in entries if e.is_version], ("b", "a"), strict=False):
        entry.default_compare = default
    return entries


def _persona_name(rows: list[AuditEvent], latest: AuditEvent | None) -> str:
    for event in [latest, *rows]:
        if event is not None and event.persona_name:
            return event.persona_name
    return ""


@require_GET
def persona_history(request: AppRequest, slug: str, persona_id: str) -> HttpResponse:
    page = persona_versions(
        workspace=request.workspace,
        persona_id=persona_id,
        before=_cursor(request.GET.get("before")),
        after=_cursor(request.GET.get("after")),
    )
    # On the newest page the newest version, if it has one, is the last known version.
    newest = [e for e in page.rows if getattr(e, "has_snapshot", False)][:1]
    if page.newer is None and newest:
        latest: AuditEvent | None = newest[0]
    else:
        latest = persona_latest_version(workspace=request.workspace, persona_id=persona_id)
    context: dict[str, object] = {
        "nav_section": "personas",
        "persona_id": persona_id,
        "persona_name": _persona_name(page.rows, latest),
        "entries": _timeline(
            page.rows,
            workspace=request.workspace,
            persona_id=persona_id,
            history_url=reverse("personas:persona_history", args=[slug, persona_id]),
        ),
        "latest": latest,
        "can_edit": request.membership.role != "viewer",
        **_page_links(request, page),
    }
    template = (
        "history/persona_history.html#timeline" if request.htmx else "history/persona_history.html"
    )
    return render(request, template, context)


def _event_or_404(request: AppRequest, persona_id: str, event_id: int) -> AuditEvent:
    event = persona_event(workspace=request.workspace, persona_id=persona_id, event_id=event_id)
    if event is None:
        raise Http404("This persona has no such version.")
    return event


@require_GET
def persona_version(request: AppRequest, slug: str, persona_id: str, event_id: int) -> HttpResponse:
    event = _event_or_404(request, persona_id, event_id)
    previous = (
        persona_version_before(
            workspace=request.workspace, persona_id=persona_id, event_id=event.pk
        )
        if event.is_version
        else None
    )
    latest = persona_latest_version(workspace=request.workspace, persona_id=persona_id)
    snapshot = _snapshot(event.after) if event.is_version else _snapshot(event.before)
    context: dict[str, object] = {
        "nav_section": "personas",
        "persona_id": persona_id,
        "persona_name": event.persona_name or (latest.persona_name if latest else ""),
        "entry": _timeline_entry(event, previous),
        "snapshot": snapshot,
        "snapshot_is_before": not event.is_version,
        "summary": document_summary(snapshot) if snapshot else [],
        "latest": latest,
        "is_latest": latest is not None and latest.pk == event.pk,
        "can_edit": request.membership.role != "viewer",
    }
    return render(request, "history/persona_version.html", context)


@require_GET
def persona_compare(request: AppRequest, slug: str, persona_id: str) -> HttpResponse:
    workspace = request.workspace
    latest = persona_latest_version(workspace=workspace, persona_id=persona_id)
    a_id, b_id = _cursor(request.GET.get("a")), _cursor(request.GET.get("b"))
    if b_id is None and latest is not None:
        b_id = latest.pk
    a = persona_event(workspace=workspace, persona_id=persona_id, event_id=a_id) if a_id else None
    b = persona_event(workspace=workspace, persona_id=persona_id, event_id=b_id) if b_id else None
    problem = ""
    if (a_id and (a is None or not a.is_version)) or (b_id and (b is None or not b.is_version)):
        problem = (
            "Choose two versions of this persona to compare (failed attempts have no version)."
        )
    elif a is None or b is None:
        problem = "Choose the two versions to compare."
    context: dict[str, object] = {
        "nav_section": "personas",
        "persona_id": persona_id,
        "persona_name": latest.persona_name if latest else "",
        "a": a,
        "b": b,
        "latest": latest,
        "problem": problem,
        "choices": persona_version_choices(workspace=workspace, persona_id=persona_id),
        "can_edit": request.membership.role != "viewer",
    }
    if not problem and a is not None and b is not None:
        a_doc, b_doc = redact(a.after), redact(b.after)  # type: ignore[arg-type]
        context.update(
            groups=group_changes(describe_snapshots(a_doc, b_doc)),
            patch=redact_ops(patch_snapshots(a_doc, b_doc)),
            a_json=a_doc,
            b_json=b_doc,
        )
    return render(request, "history/persona_compare.html", context)


# -- Revert ---------------------------------------------------------------------------------------


def _revert_context(
    request: AppRequest, persona_id: str, event: AuditEvent | None, plan: RevertPlan | None
) -> dict[str, object]:
    context: dict[str, object] = {
        "nav_section": "personas",
        "persona_id": persona_id,
        "event": event,
        "plan": plan,
        "requires_approval": request.workspace.requires_approval,
    }
    if plan is not None:
        live, target = redact(plan.live), redact(plan.target)
        context.update(
            persona_name=str(live.get("persona_name") or (event.persona_name if event else "")),
            groups=group_changes(describe_snapshots(live, target)),
            patch=redact_ops(plan.ops),
            secrets_kept=[_label(p) for p in plan.secrets_kept],
            outside_change=plan.outside_change,
        )
    elif event is not None:
        context["persona_name"] = event.persona_name
    return context


def _label(pointer: str) -> str:
    from ..persona.layers import label_for

    return label_for(pointer)


def _render_revert(
    request: AppRequest,
    persona_id: str,
    event: AuditEvent | None,
    plan: RevertPlan | None,
    **extra: object,
) -> HttpResponse:
    context = _revert_context(request, persona_id, event, plan)
    context.update(extra)
    return render(request, "history/persona_revert.html", context)


@require_http_methods(["GET", "POST"])
def persona_revert(request: AppRequest, slug: str, persona_id: str, event_id: int) -> HttpResponse:
    event = _event_or_404(request, persona_id, event_id)
    if request.method == "POST" and not request.workspace.sends_to_review():
        return _revert_apply(request, slug, persona_id, event)
    if request.method == "POST":
        return _revert_propose(request, slug, persona_id, event)
    try:
        plan = persona_revert_plan(
            workspace=request.workspace,
            persona_id=persona_id,
            event_id=event.pk,
            request_id=request.request_id,
        )
    except RevertError as exc:
        return _render_revert(request, persona_id, event, None, revert_problem=str(exc))
    except (TavusError, NoActiveKey) as exc:
        return _render_revert(
            request, persona_id, event, None, tavus_error=tavus_error_message(exc)
        )
    return _render_revert(request, persona_id, event, plan)


def _revert_apply(
    request: AppRequest, slug: str, persona_id: str, event: AuditEvent
) -> HttpResponse:
    try:
        result = revert_apply(
            workspace=request.workspace,
            persona_id=persona_id,
            event_id=event.pk,
            actor=request.user,
            request_id=request.request_id,
            expected_fingerprint=request.POST.get("fingerprint", ""),
        )
    except RevertPlanChanged as exc:
        return _render_revert(request, persona_id, event, exc.plan, plan_changed=str(exc))
    except RevertError as exc:
        return _render_revert(request, persona_id, event, None, revert_problem=str(exc))
    except (TavusError, NoActiveKey) as exc:
        return _render_revert(
            request, persona_id, event, None, tavus_error=tavus_error_message(exc)
        )
    if result.plan.is_empty:
        messages.info(request, "The persona already matches this version; nothing was sent.")
    elif not result.changed:
        messages.info(
            request, "Tavus reported nothing to change: the persona already matches this version."
        )
    else:
        messages.success(request, f"Reverted to the version from {_when(event)} (#{event.pk}).")
    return redirect("personas:persona_history", slug=slug, persona_id=persona_id)


def _when(event: AuditEvent) -> str:
    return timezone.localtime(event.created_at).strftime("%d %b %Y, %H:%M")


def _revert_propose(
    request: AppRequest, slug: str, persona_id: str, event: AuditEvent
) -> HttpResponse:
    """The workspace requires review: the revert becomes a change request, sent for review."""
    try:
        change_request = persona_revert_propose(
            workspace=request.workspace,
            persona_id=persona_id,
            event_id=event.pk,
            actor=request.user,
            request_id=request.request_id,
        )
    except RevertError as exc:
        return _render_revert(request, persona_id, event, None, revert_problem=str(exc))
    except (TavusError, NoActiveKey) as exc:
        return _render_revert(
            request, persona_id, event, None, tavus_error=tavus_error_message(exc)
        )
    messages.success(request, "The revert was sent for review as a change request.")
    return redirect("personas:review_detail", slug=slug, cr_id=change_request.pk)
