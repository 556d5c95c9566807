"""Persona pages: list, detail, create, edit (with live previews), delete, export, pickers.

Reads go through services.personas (one upstream request per page); previews never call Tavus;
writes go through services.personas (apply) or services.reviews (propose a change request).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from ..editor import (
    EditorPlace,
    EditorStateError,
    drop_markers,
    pack_state,
    payload_preview,
    section_statuses,
    split_secrets,
    strip_read_only,
    unpack_state,
)
from ..forms.editor import PersonaEditor
from ..forms.layers import LLM_MODELS
from ..forms.tools import (
    ITEM_TYPES,
    PARAM_TYPES,
    Handled,
    KeyValueRows,
    ToolsEditor,
    ToolState,
)
from ..http import AppRequest, tavus_error_message
from ..models import ChangeRequest
from ..persona.checks import persona_warnings
from ..persona.diffs import document_summary, group_changes
from ..persona.jsontypes import JSONObject, dumps_readable
from ..persona.layers import label_for
from ..persona.legacy import describe_migration, legacy_fields, migrate_legacy
from ..persona.patching import Conflict, carry_over, describe_changes, minimal_patch
from ..persona.redaction import redact, redact_ops, redact_value, secret_paths_present
from ..persona.safety import UnsafeJSON, loads_checked
from ..persona.templates import TEMPLATES, template_doc
from ..selectors import counterparts_for, persona_is_followed
from ..services.personas import (
    Fetched,
    MissingSecret,
    ReferenceNames,
    documents_for_picker,
    guardrails_for_picker,
    last_known_version,
    objectives_for_picker,
    persona_apply_patch,
    persona_fetch,
    persona_listing,
    persona_reference_names,
    persona_safe_apply,
    persona_search,
    replicas_for_picker,
)
from ..services.personas import (
    persona_create as persona_create_service,
)
from ..services.personas import (
    persona_delete as persona_delete_service,
)
from ..services.workspaces import NoActiveKey
from ..tavus import TavusError, TavusNotFound, TavusRateLimited, TavusUnavailable

PAGE_SIZE = 20


def _int_param(request: AppRequest, name: str, default: int) -> int:
    try:
        return max(1, int(request.GET.get(name, default)))
    except ValueError:
        return default


def _listing_args(request: HttpRequest) -> tuple[int, str, str]:
    """(page, persona type, search text) of a persona list request."""
    page = _int_param(request, "page", 1)
    persona_type = request.GET.get("type", "user")
    if persona_type not in {"user", "system"}:
        persona_type = "user"
    return page, persona_type, request.GET.get("q", "").strip()


@require_GET
def persona_list(request: AppRequest, slug: str) -> HttpResponse:
    page, persona_type, query = _listing_args(request)
    context: dict[str, object] = {"nav_section": "personas", "type": persona_type, "q": query}
    template = "personas/list.html#rows" if request.htmx else "personas/list.html"

    def page_url(n: int) -> str:
        return "?" + urlencode({"type": persona_type, "q": query, "page": n})

    # Selecting personas for a change set (views/changesets.py): stock personas cannot change.
    if persona_type == "user" and request.membership.role != "viewer":
        context.update(
            selectable=True,
            selected=set(request.GET.getlist("persona")),
            select_page=request.GET.get("select") == "page",
            select_page_url=page_url(page) + "&select=page",
            clear_url=page_url(page),
            changeset_new_url=reverse("personas:changeset_new", args=[slug]),
        )

    def prepare(rows: list[Any], total: int) -> HttpResponse:
        pages = max(1, -(-total // PAGE_SIZE))
        # One reverse() for every row's link instead of one per row.
        detail_prefix = reverse("personas:persona_detail", args=[slug, "-"])[:-2]
        return render(
            request,
            template,
            {
                **context,
                "personas": rows,
                "detail_prefix": detail_prefix,
                "total": total,
                "page_label": f"Page {page} of {pages}",
                "page_prev_url": page_url(page - 1) if page > 1 else "",
                "page_next_url": page_url(page + 1) if page < pages else "",
            },
        )

    try:
        if query:
            personas, total = persona_search(
                workspace=request.workspace, persona_type=persona_type, query=query
            )
            start = (page - 1) * PAGE_SIZE
            return prepare(personas[start : start + PAGE_SIZE], total)
        result = persona_listing(
            workspace=request.workspace, page=page, limit=PAGE_SIZE, persona_type=persona_type
        )
        return prepare(result.get("data", []), int(result.get("total_count", 0)))
    except (TavusError, NoActiveKey) as exc:
        context["tavus_error"] = tavus_error_message(exc)
        context["tavus_reading"] = True
        context["no_key"] = type(exc) is NoActiveKey  # not a refused address
        return prepare([], 0)


def _persona_name(doc: JSONObject) -> str:
    name = doc.get("persona_name")
    return name if isinstance(name, str) and name else str(doc.get("persona_id", "(no name)"))


def _fetch_or_message(request: AppRequest, persona_id: str) -> tuple[JSONObject | None, Any, str]:
    """(persona, outside-change record, error message)."""
    try:
        fetched = persona_fetch(
            workspace=request.workspace, persona_id=persona_id, request_id=request.request_id
        )
    except (TavusError, NoActiveKey) as exc:
        return None, None, tavus_error_message(exc)
    return fetched.persona, fetched.outside_change, ""


def _persona_page(request: AppRequest, persona_id: str) -> tuple[JSONObject | None, dict[str, Any]]:
    """The live persona (None when Tavus failed) and the context every persona page starts from."""
    persona, _, error = _fetch_or_message(request, persona_id)
    return persona, {"nav_section": "personas", "persona_id": persona_id, "tavus_error": error}


def _live_persona_page(
    request: AppRequest, persona_id: str, template: str, page: Callable[[Fetched], dict[str, Any]]
) -> HttpResponse:
    """A page of one live persona: `page(fetched)` is its context; a Tavus failure shows its
    message on the same template."""
    context: dict[str, Any] = {"nav_section": "personas", "persona_id": persona_id}
    try:
        fetched = persona_fetch(
            workspace=request.workspace, persona_id=persona_id, request_id=request.request_id
        )
    except (TavusError, NoActiveKey) as exc:
        # A page that only reads: there is no typed work to reassure about.
        error = {"tavus_error": tavus_error_message(exc), "tavus_reading": True}
        return render(
            request, template, {**context, **error, **_fallback(request, persona_id, exc)}
        )
    return render(request, template, {**context, "tavus_error": "", **page(fetched)})


def _fallback(request: AppRequest, persona_id: str, exc: Exception) -> dict[str, Any]:
    """What a persona page can still offer when Tavus cannot show the persona, from the last
    version the dashboard recorded: restore a deleted persona, or draft a change request while
    Tavus is unreachable."""
    if not isinstance(exc, TavusNotFound | TavusUnavailable | TavusRateLimited):
        return {}
    last = last_known_version(workspace=request.workspace, persona_id=persona_id)
    if last is None:
        return {}
    slug = request.workspace.slug
    if isinstance(exc, TavusNotFound):
        url = (
            reverse("personas:persona_create", args=[slug])
            + "?"
            + urlencode({"restore": persona_id})
        )
        return {"last_version": last, "restore_url": url}
    url = reverse("personas:persona_edit", args=[slug, persona_id]) + "?from=last"
    return {"last_version": last, "draft_url": url}


def _detail_context(fetched: Fetched, names: ReferenceNames) -> dict[str, Any]:
    persona, shown = fetched.persona, fetched.redacted
    return {
        "persona": persona,
        "persona_name": _persona_name(persona),
        "sections": document_summary(shown, redacted=True, names=names.by_pointer),
        "names_pending": not names.complete,
        "raw_json": dumps_readable(shown, depth=5),
        "legacy": legacy_fields(persona),
        "warnings": persona_warnings(persona),
        "outside_change": fetched.outside_change,
        "is_system": persona.get("persona_type") == "system",
    }


@require_GET
def persona_detail(request: AppRequest, slug: str, persona_id: str) -> HttpResponse:
    # The page makes one upstream request: replica, objective and guardrail names come from the
    # picker lists already cached; when one is not, the page asks for its settings again with
    # ?names (htmx), and that fragment reads the lists.
    if request.htmx and "names" in request.GET:
        try:
            fetched = persona_fetch(
                workspace=request.workspace, persona_id=persona_id, request_id=request.request_id
            )
        except (TavusError, NoActiveKey):
            return HttpResponse(status=204)  # the page keeps showing the ids
        names = persona_reference_names(workspace=request.workspace, persona=fetched.persona)
        sections = document_summary(fetched.redacted, redacted=True, names=names.by_pointer)
        return render(request, "personas/detail.html#settings", {"sections": sections})

    def page(fetched: Fetched) -> dict[str, Any]:
        names = persona_reference_names(
            workspace=request.workspace, persona=fetched.persona, cached_only=True
        )
        # Promotion: the same persona in other workspaces (database only, no Tavus call).
        counterparts = counterparts_for(
            workspace=request.workspace, persona_id=persona_id, user=request.user
        )
        following = persona_is_followed(
            user=request.user, workspace=request.workspace, persona_id=persona_id
        )
        return {
            **_detail_context(fetched, names),
            "counterparts": counterparts,
            "following": following,
        }

    return _live_persona_page(request, persona_id, "personas/detail.html", page)


# -- the editor -------------------------------------------------------------------------------------
def _editor_context(
    request: AppRequest,
    editor: PersonaEditor,
    *,
    base_state: str,
    start_state: str = "",
    persona_id: str = "new",
) -> dict[str, Any]:
    slug = request.workspace.slug
    if persona_id == "new":
        editor_url = reverse("personas:persona_create", args=[slug])
    else:
        editor_url = reverse("personas:persona_edit", args=[slug, persona_id])
    return {
        "nav_section": "personas",
        "editor": editor,
        "editor_url": editor_url,
        "base_state": base_state,
        "start_state": start_state,
        "llm_models": LLM_MODELS,
        "param_types": PARAM_TYPES,
        "item_types": ITEM_TYPES,
        "requires_approval": request.workspace.requires_approval,
    }


def _place(request: AppRequest, persona_id: str = "new") -> EditorPlace:
    """The page an editor state belongs to: this workspace, this persona, this user."""
    return EditorPlace(request.workspace.pk, persona_id, request.user.pk)


def _editor_from_post(
    request: AppRequest, persona_id: str = "new"
) -> tuple[JSONObject, PersonaEditor]:
    """(base document, bound editor) from the hidden states and the posted fields."""
    place = _place(request, persona_id)
    base_token = request.POST.get("base_state", "")
    base = unpack_state(base_token, place)
    start_token = request.POST.get("start_state", "")
    start = unpack_state(start_token, place) if start_token else base
    # A token always decrypts to the same document, so it names the start's content: the schema
    # check finds the layers the user did not touch by it (see persona_problems).
    name = ("editor-state", start_token or base_token)
    return base, PersonaEditor(start, request.POST, start_name=name)


def _preview_context(base: JSONObject | None, editor: PersonaEditor) -> dict[str, Any]:
    """The preview, the problems (each with a link to its control) and the section menu's
    counts: changes against `base` (the live persona), or against the document the editor
    started from on the create page."""
    doc = editor.check()
    composed = editor.composed if editor.composed is not None else editor.start
    changes = describe_changes(base if base is not None else editor.start, composed)
    sections = section_statuses((c.pointer for c in changes), editor.issues)
    context: dict[str, Any] = {
        "editor": editor,
        "doc_ok": doc is not None,
        "issues": editor.issues,
        "sections": sections,
        "change_count": len(changes),
        "problems": editor.issues,
        "warnings": editor.warnings,
    }
    prompt = composed.get("system_prompt") if isinstance(composed.get("system_prompt"), str) else ""
    context_text = composed.get("context") if isinstance(composed.get("context"), str) else ""
    context.update(
        prompt_chars=len(prompt), prompt_tokens=len(prompt) // 4, context_chars=len(context_text)
    )
    if doc is None:
        return context
    if base is None:
        shown, dropped = payload_preview(doc)
        context.update(payload_json=shown, dropped_secrets=dropped, payload_bytes=len(shown))
    else:
        shown_ops = redact_ops(minimal_patch(base, doc))
        context.update(
            ops=shown_ops,
            ops_json=dumps_readable(shown_ops, depth=3),
            changes=group_changes(changes),
        )
    return context


def _live_preview(
    request: AppRequest, template: str, base: JSONObject | None, editor: PersonaEditor
) -> HttpResponse:
    """The live preview, with the section menu, the action bar's status and the fields' message
    slots out of band. Slots are sent when they hold a message now, or held one on the page
    (app.js names those in error_slots_shown); without that list, all of them."""
    context = _preview_context(base, editor)
    shown = request.POST.get("error_slots_shown")
    wanted = set(shown.split()) if shown is not None else None
    context["error_slots"] = [
        (slot_id, lines)
        for slot_id, lines in editor.error_slots()
        if lines or wanted is None or slot_id in wanted
    ]
    return render(request, template, {**context, "oob": True})


def _added_row(tool: ToolState, parent_path: str) -> dict[str, Any]:
    """The row just added to a tool's parameters (or to the fields of the row at
    `parent_path`), and the hidden count that goes with it."""
    parent = tool.row_at(parent_path) if parent_path else None
    rows = parent.fields if parent is not None else tool.params
    count_id = f"{parent.key}-fcount" if parent is not None else f"{tool.key}-pcount"
    return {"row": rows[-1], "count_id": count_id, "count": len(rows)}


def _editor_fragment(
    request: AppRequest, handled: Handled, context: dict[str, Any]
) -> HttpResponse:
    """The part of the editor an htmx action changed, rendered from the bound editor; the rest
    of the page (and what was typed there, secrets included) is not touched. The live preview
    follows (the editor-changed event)."""
    editor: PersonaEditor = context["editor"]
    extra: dict[str, Any] = {}
    if handled.kind == "kv-removed":
        response = HttpResponse("")  # the page removes the row itself (hx-swap="delete")
    else:
        if isinstance(handled.editor, ToolsEditor):
            ed, i = handled.editor, handled.index
            extra = {"ed": ed, "p": ed.prefix, "i": i}
            if handled.kind != "list":
                extra.update(tool=ed.tools[i], number=i + 1)
            if handled.kind == "row-added":
                extra.update(_added_row(ed.tools[i], handled.row_path))
        elif isinstance(handled.editor, KeyValueRows):
            extra = {"rows": handled.editor, "n": handled.index, "focus": True}
        else:
            extra = {"f": editor.form("tts")}
        template = {
            "list": "personas/_tools_editor.html",
            "tool": "personas/_tools_editor.html#tool-item",
            "tool-added": "personas/_tools_editor.html#tool-appended",
            "row-added": "personas/_tool_open.html#row-appended",
            "naming": "personas/_tool_open.html#naming",
            "kv-row": "personas/_kv_rows.html#kv-row",
            "tts": "personas/_editor.html#tts-voice-settings",
        }[handled.kind]
        response = render(request, template, {**context, **extra})
    if handled.kind != "naming":  # typing the label already refreshes the preview
        trigger_client_event(response, "editor-changed", after="settle")
    return response


def _propose(
    request: AppRequest,
    *,
    kind: str,
    persona_id: str,
    base: JSONObject | None,
    proposed: JSONObject | None,
    persona_name: str,
) -> HttpResponse:
    from ..services.reviews import change_request_create

    base_red = redact(base) if base is not None else None
    if proposed is not None:
        proposed_red, secrets = split_secrets(proposed, base)
    else:
        proposed_red, secrets = None, {}
    title = request.POST.get("cr_title", "").strip() or f"{kind.title()} {persona_name}"
    change = change_request_create(
        workspace=request.workspace,
        actor=request.user,
        kind=kind,
        title=title[:200],
        description=request.POST.get("cr_description", ""),
        persona_id=persona_id,
        persona_name=persona_name,
        base=base_red,
        proposed=proposed_red,
        secrets=secrets,
        submit=True,
        request_id=request.request_id,
    )
    messages.success(request, "Your change was saved as a change request and sent for review.")
    return redirect("personas:review_detail", slug=request.workspace.slug, cr_id=change.pk)


def _change_request(request: AppRequest, persona_id: str = "") -> ChangeRequest | None:
    """The change request named by ?cr= (or a posted cr), if it belongs here."""
    raw = request.GET.get("cr") or request.POST.get("cr") or ""
    if not raw.isdigit():
        return None
    return ChangeRequest.objects.filter(
        pk=int(raw), workspace=request.workspace, persona_id=persona_id
    ).first()


def _save_into_change_request(
    request: AppRequest, change: ChangeRequest, *, base: JSONObject | None, doc: JSONObject
) -> HttpResponse | None:
    """Save the edited document as the change request's new proposal; None when refused."""
    from django.core.exceptions import PermissionDenied

    from ..models.reviews import InvalidTransition
    from ..services.reviews import change_request_update

    proposed, secrets = split_secrets(doc, base)
    try:
        change_request_update(
            change_request=change,
            actor=request.user,
            proposed=proposed,
            secrets=secrets,
            request_id=request.request_id,
        )
    except (InvalidTransition, PermissionDenied) as exc:
        messages.error(request, str(exc))
        return None
    messages.success(request, "The change request now holds your edits.")
    return redirect("personas:review_detail", slug=request.workspace.slug, cr_id=change.pk)


def _start_document(request: AppRequest) -> tuple[JSONObject, str]:
    """The document a new persona starts from: a template, a duplicate, or blank."""
    template = request.GET.get("template", "")
    if template in TEMPLATES:
        return template_doc(template), f"Starting from the “{TEMPLATES[template].title}” template."
    restore = request.GET.get("restore", "")
    last = last_known_version(workspace=request.workspace, persona_id=restore) if restore else None
    if last is not None and isinstance(last.after, dict):
        doc, _ = drop_markers(strip_read_only(last.after))  # snapshots are stored redacted
        when = last.created_at.strftime("%-d %b %Y, %H:%M")
        return doc, (
            f"Restoring “{last.persona_name or restore}” from the last version the dashboard "
            f"recorded ({when}). Secrets are never kept: type them again if it needs them."
        )
    duplicate = request.GET.get("duplicate", "")
    if duplicate:
        persona, _, error = _fetch_or_message(request, duplicate)
        if persona is not None:
            doc, dropped = drop_markers(strip_read_only(redact(persona)))
            doc["persona_name"] = f"Copy of {_persona_name(persona)}"
            note = (
                " Secret keys were not copied: enter them again if the copy needs them."
                if dropped
                else ""
            )
            return doc, f"Starting from a copy of “{_persona_name(persona)}”.{note}"
        messages.error(request, error)
    return template_doc("blank"), ""


def _import_text(request: AppRequest) -> tuple[str, str]:
    """(the JSON text to import, or an error): a file or pasted text, at most MAX_IMPORT_BYTES,
    refused by its size before it is read."""
    limit = settings.MAX_IMPORT_BYTES
    too_large = (
        f"This is larger than the {limit // 1024} KB a persona can be imported from. "
        "Check that it is one persona's JSON."
    )
    upload = request.FILES.get("import_file")
    if upload is not None:
        if upload.size is not None and upload.size > limit:
            return "", too_large
        return upload.read(limit + 1).decode("utf-8", errors="replace"), ""
    pasted = request.POST.get("import_json", "")
    if len(pasted) > limit:  # characters: at least as many bytes
        return "", too_large
    return pasted, ""


def _parse_import(request: AppRequest) -> tuple[JSONObject | None, str, list[str]]:
    """(the imported persona, an error, the labels of the secrets it held and that were left
    out: the editor never holds a secret it did not have typed into a field)."""
    text, error = _import_text(request)
    if error:
        return None, error, []
    if not text.strip():
        return None, "Paste a persona's JSON or choose a .json file.", []
    try:
        value = loads_checked(text)
    except UnsafeJSON as exc:
        return None, f"This JSON cannot be imported: {exc}", []
    except json.JSONDecodeError as exc:
        where = f"(line {exc.lineno}, column {exc.colno})"
        return None, f"This is not valid JSON: {exc.msg} {where}.", []
    if isinstance(value, dict) and isinstance(value.get("data"), list) and value["data"]:
        value = value["data"][0]  # the shape Tavus's GET answers with
    if not isinstance(value, dict):
        return None, "The JSON must be one persona: an object in curly braces { … }.", []
    doc = strip_read_only(value)
    held = [label_for(pointer) for pointer in secret_paths_present(doc)]
    doc, _ = drop_markers(redact(doc))
    return doc, "", held


def _create_start(request: AppRequest, context: dict[str, Any]) -> JSONObject:
    """The document the create page starts from: imported JSON, a change request, a template,
    a duplicate or a restored version (notes about it go into `context`)."""
    if request.method == "POST":
        doc, import_error, secrets_left_out = _parse_import(request)
        context["import_json"] = request.POST.get("import_json", "")
        if doc is None:
            context["import_error"] = import_error
            return template_doc("blank")
        context["start_note"] = "Imported. Check the settings below, then create."
        if secrets_left_out:
            messages.warning(
                request,
                "The imported JSON held secrets, which the editor never keeps: type "
                "them again in their fields (" + ", ".join(secrets_left_out) + ").",
            )
        return doc
    change = _change_request(request)
    if change is not None and change.proposed_document:
        context.update(change=change, start_note=f"Editing change request #{change.pk}.")
        return change.proposed_document
    doc, context["start_note"] = _start_document(request)
    return doc


def _editor_action(
    request: AppRequest, template: str, base: JSONObject | None, context: dict[str, Any]
) -> HttpResponse:
    """An add/remove/move/open button of the editor: with htmx, only the fragment it changed
    comes back; without, the whole page (with everything typed but secrets, which are
    write-only)."""
    editor: PersonaEditor = context["editor"]
    handled = editor.handle_action(request.POST.get("editor_action", ""))
    if request.htmx and handled is not None:
        return _editor_fragment(request, handled, context)
    context.update(_preview_context(base, editor))
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
def persona_create(request: AppRequest, slug: str) -> HttpResponse:
    context: dict[str, Any] = {"templates": TEMPLATES.values(), "import_json": ""}
    if request.method == "GET" or "import" in request.POST:
        doc = _create_start(request, context)
        editor = PersonaEditor(doc)
        context.update(
            _editor_context(request, editor, base_state=pack_state(doc, _place(request)))
        )
        context.update(_preview_context(None, editor))
        return render(request, "personas/create.html", context)
    try:
        _start, editor = _editor_from_post(request)
    except EditorStateError as exc:
        messages.error(request, str(exc))
        return redirect("personas:persona_create", slug=slug)
    context.update(_editor_context(request, editor, base_state=request.POST["base_state"]))
    context["change"] = _change_request(request)
    if request.POST.get("editor_action"):
        return _editor_action(request, "personas/create.html", None, context)
    context.update(_preview_context(None, editor))
    doc = editor.document
    if doc is None or editor.has_errors:
        messages.error(request, "Some settings need your attention: see the messages next to them.")
        return render(request, "personas/create.html", context)
    change = context["change"]
    if change is not None and request.POST.get("submit") == "save_cr":
        saved = _save_into_change_request(request, change, base=None, doc=doc)
        return saved or render(request, "personas/create.html", context)
    doc, _ = drop_markers(doc)
    if request.workspace.sends_to_review(asked=request.POST.get("submit") == "propose"):
        return _propose(
            request,
            kind="create",
            persona_id="",
            base=None,
            proposed=doc,
            persona_name=_persona_name(doc),
        )
    try:
        persona_id = persona_create_service(
            workspace=request.workspace,
            document=doc,
            actor=request.user,
            request_id=request.request_id,
        )
    except (TavusError, NoActiveKey) as exc:
        context["tavus_error"] = tavus_error_message(exc)
        return render(request, "personas/create.html", context)
    messages.success(request, f"Created “{_persona_name(doc)}” on Tavus.")
    return redirect("personas:persona_detail", slug=slug, persona_id=persona_id)


@require_POST
def persona_create_preview(request: AppRequest, slug: str) -> HttpResponse:
    template = "personas/create.html#preview"
    try:
        _, editor = _editor_from_post(request)
    except EditorStateError as exc:
        return render(request, template, {"state_error": str(exc)})
    return _live_preview(request, template, None, editor)


def _masked_conflict(conflict: Conflict) -> Conflict:
    """A conflict as a page may show it: the values at a secret's place masked."""
    return replace(
        conflict,
        base=redact_value(conflict.pointer, conflict.base),
        live=redact_value(conflict.pointer, conflict.live),
        proposed=redact_value(conflict.pointer, conflict.proposed),
    )


def _conflict_words(conflicts: list[Any]) -> str:
    return ", ".join(c.label for c in conflicts)


def _edit_change_request(
    request: AppRequest, persona_id: str, change: ChangeRequest
) -> HttpResponse:
    """The editor on a change request's proposal (its base is what the request started from)."""
    base, start = change.base_document or {}, change.proposed_document or {}
    editor = PersonaEditor(start)
    context = _editor_context(
        request,
        editor,
        base_state=pack_state(base, _place(request, persona_id)),
        start_state=pack_state(start, _place(request, persona_id)),
        persona_id=persona_id,
    )
    context.update(persona_id=persona_id, persona_name=_persona_name(start), change=change)
    context.update(_preview_context(base, editor))
    return render(request, "personas/edit.html", context)


@require_http_methods(["GET", "POST"])
def persona_edit(request: AppRequest, slug: str, persona_id: str) -> HttpResponse:
    change = _change_request(request, persona_id)
    if request.method == "GET" and change is not None and change.proposed_document:
        return _edit_change_request(request, persona_id, change)
    if request.method == "GET" and request.GET.get("from") == "last":
        return _offline_draft(request, persona_id)
    if request.method == "GET":

        def page(fetched: Fetched) -> dict[str, Any]:
            persona, editor = fetched.persona, PersonaEditor(fetched.redacted)
            context = _editor_context(
                request,
                editor,
                base_state=pack_state(persona, _place(request, persona_id)),
                persona_id=persona_id,
            )
            context.update(_preview_context(fetched.redacted, editor))
            context.update(persona_name=_persona_name(persona))
            return context

        return _live_persona_page(request, persona_id, "personas/edit.html", page)
    try:
        base, editor = _editor_from_post(request, persona_id)
    except EditorStateError as exc:
        messages.error(request, str(exc))
        return redirect("personas:persona_edit", slug=slug, persona_id=persona_id)
    context = _editor_context(
        request,
        editor,
        base_state=request.POST["base_state"],
        start_state=request.POST.get("start_state", ""),
        persona_id=persona_id,
    )
    context.update(persona_id=persona_id, persona_name=_persona_name(base), change=change)
    context["offline_draft"] = request.POST.get("offline_draft") == "1"
    if request.POST.get("editor_action"):
        return _editor_action(request, "personas/edit.html", base, context)
    context.update(_preview_context(base, editor))
    doc = editor.document
    if doc is None or editor.has_errors:
        messages.error(request, "Some settings need your attention: see the messages next to them.")
        return render(request, "personas/edit.html", context)
    if change is not None and request.POST.get("submit") == "save_cr":
        saved = _save_into_change_request(request, change, base=base, doc=doc)
        return saved or render(request, "personas/edit.html", context)
    if not context["ops"]:
        messages.info(request, "Nothing changed, so nothing was sent to Tavus.")
        return redirect("personas:persona_detail", slug=slug, persona_id=persona_id)
    asked = request.POST.get("submit") == "propose" or context["offline_draft"]
    if request.workspace.sends_to_review(asked=asked):
        return _propose(
            request,
            kind="edit",
            persona_id=persona_id,
            base=base,
            proposed=doc,
            persona_name=_persona_name(doc),
        )
    return _apply_edit(request, context, base=base, doc=doc, persona_id=persona_id)


def _apply_edit(
    request: AppRequest,
    context: dict[str, Any],
    *,
    base: JSONObject,
    doc: JSONObject,
    persona_id: str,
) -> HttpResponse:
    """Re-read the live persona, rebase the edit onto it, and send the patch (or show a conflict)."""
    slug = request.workspace.slug
    try:
        applied = persona_safe_apply(
            workspace=request.workspace,
            persona_id=persona_id,
            base=base,
            proposed=doc,
            actor=request.user,
            request_id=request.request_id,
            redacted=True,  # the editor's base holds no secret: they are filled from live
        )
    except (TavusError, NoActiveKey, MissingSecret) as exc:
        context["tavus_error"] = (
            str(exc) if isinstance(exc, MissingSecret) else tavus_error_message(exc)
        )
        return render(request, "personas/edit.html", context)
    if applied.conflicts:
        live = redact(applied.live)
        merged = carry_over(base, doc, live)
        editor = PersonaEditor(merged)
        place = _place(request, persona_id)
        context.update(
            _editor_context(
                request, editor, base_state=pack_state(live, place), persona_id=persona_id
            )
        )
        context.update(_preview_context(live, editor))
        context["conflicts"] = [_masked_conflict(c) for c in applied.conflicts]
        messages.warning(
            request,
            "Someone changed this persona while you were editing ("
            + _conflict_words(applied.conflicts)
            + "). The editor now starts from their version with your values for those fields: "
            "check the preview and apply again.",
        )
        return render(request, "personas/edit.html", context)
    outcome = applied.outcome
    assert outcome is not None
    count = len(applied.ops)
    if outcome.changed:
        messages.success(
            request, f"Saved: {count} change{'s' if count != 1 else ''} sent to Tavus."
        )
    else:
        messages.info(request, "Tavus already had these settings; nothing changed.")
    return redirect("personas:persona_detail", slug=slug, persona_id=persona_id)


def _offline_draft(request: AppRequest, persona_id: str) -> HttpResponse:
    """The editor started from the last version the dashboard recorded, for a change request:
    Tavus cannot be read now, and the change is rebased on what it holds when it is applied."""
    last = last_known_version(workspace=request.workspace, persona_id=persona_id)
    if last is None or not isinstance(last.after, dict):
        messages.error(
            request, "The dashboard has no recorded version of this persona to start from."
        )
        return redirect(
            "personas:persona_detail", slug=request.workspace.slug, persona_id=persona_id
        )
    doc = last.after
    editor = PersonaEditor(doc)
    context = _editor_context(
        request,
        editor,
        base_state=pack_state(doc, _place(request, persona_id)),
        persona_id=persona_id,
    )
    context.update(_preview_context(doc, editor))
    context.update(
        persona_id=persona_id,
        persona_name=_persona_name(doc),
        offline_draft=True,
        last_version=last,
    )
    return render(request, "personas/edit.html", context)


@require_POST
def persona_edit_preview(request: AppRequest, slug: str, persona_id: str) -> HttpResponse:
    try:
        base, editor = _editor_from_post(request, persona_id)
    except EditorStateError as exc:
        return render(request, "personas/edit.html#preview", {"state_error": str(exc)})
    return _live_preview(request, "personas/edit.html#preview", base, editor)


@require_http_methods(["GET", "POST"])
def persona_migrate_legacy(request: AppRequest, slug: str, persona_id: str) -> HttpResponse:
    persona, context = _persona_page(request, persona_id)
    if persona is None:
        return render(request, "personas/migrate_legacy.html", context)
    migrated = migrate_legacy(persona)
    ops = minimal_patch(persona, migrated)
    context.update(
        persona_name=_persona_name(persona),
        lines=describe_migration(persona),
        ops_json=json.dumps(redact_ops(ops), indent=2, ensure_ascii=False),
        changes=group_changes(describe_changes(persona, migrated)),
        has_ops=bool(ops),
        requires_approval=request.workspace.requires_approval,
    )
    if request.method == "GET" or not ops:
        return render(request, "personas/migrate_legacy.html", context)
    if request.workspace.sends_to_review(asked=request.POST.get("submit") == "propose"):
        return _propose(
            request,
            kind="edit",
            persona_id=persona_id,
            base=persona,
            proposed=migrated,
            persona_name=_persona_name(persona),
        )
    try:
        persona_apply_patch(
            workspace=request.workspace,
            persona_id=persona_id,
            ops=ops,
            before=persona,
            actor=request.user,
            request_id=request.request_id,
            note="Migrated legacy fields",
        )
    except (TavusError, NoActiveKey) as exc:
        context["tavus_error"] = tavus_error_message(exc)
        return render(request, "personas/migrate_legacy.html", context)
    messages.success(request, "Legacy fields migrated to their current names.")
    return redirect("personas:persona_detail", slug=slug, persona_id=persona_id)


@require_http_methods(["GET", "POST"])
def persona_delete(request: AppRequest, slug: str, persona_id: str) -> HttpResponse:
    persona, context = _persona_page(request, persona_id)
    if persona is None:
        if request.method == "POST":  # the form stays, with what was typed, to try again
            context.update(show_form=True, typed=request.POST.get("confirm_name", ""))
        else:
            context["tavus_reading"] = True
        return render(request, "personas/delete.html", context)
    name = _persona_name(persona)
    context.update(persona_name=name, requires_approval=request.workspace.requires_approval)
    if request.method == "GET":
        return render(request, "personas/delete.html", context)
    typed = request.POST.get("confirm_name", "")
    context["typed"] = typed
    if typed.strip() != name:
        context["confirm_error"] = f"Type the persona's name exactly (“{name}”) to delete it."
        return render(request, "personas/delete.html", context)
    if request.workspace.sends_to_review():
        return _propose(
            request,
            kind="delete",
            persona_id=persona_id,
            base=persona,
            proposed=None,
            persona_name=name,
        )
    try:
        persona_delete_service(
            workspace=request.workspace,
            persona_id=persona_id,
            before=persona,
            actor=request.user,
            request_id=request.request_id,
        )
    except (TavusError, NoActiveKey) as exc:
        context["tavus_error"] = tavus_error_message(exc)
        return render(request, "personas/delete.html", context)
    messages.success(request, f"Deleted “{name}” from Tavus. Its history stays in the audit log.")
    return redirect("personas:persona_list", slug=slug)


@require_GET
def persona_export(request: AppRequest, slug: str, persona_id: str) -> HttpResponse:
    persona, _, error = _fetch_or_message(request, persona_id)
    if persona is None:
        messages.error(request, error)
        return HttpResponseRedirect(reverse("personas:persona_detail", args=[slug, persona_id]))
    body = json.dumps(redact(persona), indent=2, ensure_ascii=False) + "\n"
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="persona-{persona_id}.json"'
    return response


@require_GET
def picker_replicas(request: AppRequest, slug: str) -> HttpResponse:
    context: dict[str, Any] = {
        "current": request.GET.get("current", ""),
        "field_name": request.GET.get("name", "identity-default_replica_id"),
    }
    try:
        replicas = replicas_for_picker(workspace=request.workspace)
    except (TavusError, NoActiveKey) as exc:
        context["picker_error"] = tavus_error_message(exc)
        replicas = []
    context["stock"] = [r for r in replicas if r.get("replica_type") == "system"]
    context["own"] = [r for r in replicas if r.get("replica_type") != "system"]
    context["current_known"] = any(r.get("replica_id") == context["current"] for r in replicas)
    return render(request, "personas/_replica_picker.html", context)


@require_GET
def picker_documents(request: AppRequest, slug: str) -> HttpResponse:
    def values(name: str) -> list[str]:
        return [v.strip() for v in request.GET.get(name, "").split(",") if v.strip()]

    current_ids, current_tags = values("ids"), values("tags")
    context: dict[str, Any] = {
        "ids_name": "identity-document_ids",
        "tags_name": "identity-document_tags",
    }
    try:
        documents = documents_for_picker(workspace=request.workspace)
    except (TavusError, NoActiveKey) as exc:
        context["picker_error"] = tavus_error_message(exc)
        documents = []
    known_ids = [str(d.get("document_id", "")) for d in documents]
    tags = sorted({str(t) for d in documents for t in (d.get("tags") or [])})
    context.update(
        documents=[(d, str(d.get("document_id")) in current_ids) for d in documents],
        unknown_ids=[i for i in current_ids if i not in known_ids],
        tags=[(t, t in current_tags) for t in tags],
        unknown_tags=[t for t in current_tags if t not in tags],
        current_ids=", ".join(current_ids),
        current_tags=", ".join(current_tags),
    )
    return render(request, "personas/_document_picker.html", context)


@require_GET
def picker_objectives(request: AppRequest, slug: str) -> HttpResponse:
    current = request.GET.get("current", "").strip()
    context: dict[str, Any] = {"field_name": "identity-objectives_id", "current": current}
    try:
        objectives = objectives_for_picker(workspace=request.workspace)
    except (TavusError, NoActiveKey) as exc:
        context["picker_error"] = tavus_error_message(exc)
        objectives = []
    context["objectives"] = objectives
    context["current_known"] = any(o.get("objectives_id") == current for o in objectives)
    return render(request, "personas/_picker_objectives.html", context)


def _listed(request: AppRequest, name: str) -> list[str]:
    """A comma-separated list of a picker's query string (what the editor currently holds)."""
    return [v.strip() for v in request.GET.get(name, "").split(",") if v.strip()]


@require_GET
def picker_guardrails(request: AppRequest, slug: str) -> HttpResponse:
    current_ids, current_tags = _listed(request, "ids"), _listed(request, "tags")
    context: dict[str, Any] = {
        "ids_name": "identity-guardrail_ids",
        "tags_name": "identity-guardrail_tags",
        "current_ids": ", ".join(current_ids),
        "current_tags": ", ".join(current_tags),
    }
    try:
        guardrails = guardrails_for_picker(workspace=request.workspace)
    except (TavusError, NoActiveKey) as exc:
        context["picker_error"] = tavus_error_message(exc)
        guardrails = []
    by_id = {str(g.get("uuid")): g for g in guardrails}
    tagged: dict[str, int] = {}  # tag -> how many guardrails carry it
    for guardrail in guardrails:
        tags = guardrail.get("tags")
        for tag in tags if isinstance(tags, list) else []:
            tagged[str(tag)] = tagged.get(str(tag), 0) + 1
    # The persona's own choices come first, in its order, so an untouched picker posts them
    # back exactly as they were (a reordered list would be a change).
    context.update(
        chosen=[(i, by_id.get(i)) for i in current_ids],
        others=[g for i, g in by_id.items() if i not in current_ids],
        chosen_tags=[(t, tagged.get(t, 0)) for t in current_tags],
        other_tags=[(t, n) for t, n in sorted(tagged.items()) if t not in current_tags],
    )
    return render(request, "personas/_picker_guardrails.html", context)
