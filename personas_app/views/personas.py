"""Persona pages: list, detail, create, edit (with live previews), delete, export, pickers."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ..http import AppRequest, tavus_error_message
from ..services.workspaces import NoActiveKey, tavus_client_for
from ..tavus import TavusError

PAGE_SIZE = 20
_SEARCH_PAGE_LIMIT = 100
_SEARCH_MAX_PAGES = 10


def _int_param(request: AppRequest, name: str, default: int) -> int:
    try:
        return max(1, int(request.GET.get(name, default)))
    except ValueError:
        return default


@require_GET
def persona_list(request: AppRequest, slug: str) -> HttpResponse:
    page = _int_param(request, "page", 1)
    persona_type = request.GET.get("type", "user")
    if persona_type not in {"user", "system"}:
        persona_type = "user"
    query = request.GET.get("q", "").strip()
    context: dict[str, object] = {"nav_section": "personas", "type": persona_type, "q": query}
    try:
        client = tavus_client_for(request.workspace)
        if query:
            personas, total = _search(client, persona_type, query)
            start = (page - 1) * PAGE_SIZE
            rows = personas[start : start + PAGE_SIZE]
        else:
            result = client.list_personas(page=page, limit=PAGE_SIZE, persona_type=persona_type)
            rows, total = result.get("data", []), int(result.get("total_count", 0))
    except (TavusError, NoActiveKey) as exc:
        context["tavus_error"] = tavus_error_message(exc)
        context["no_key"] = isinstance(exc, NoActiveKey)
        rows, total = [], 0
    pages = max(1, -(-total // PAGE_SIZE))

    def page_url(n: int) -> str:
        return "?" + urlencode({"type": persona_type, "q": query, "page": n})

    context.update(
        personas=rows,
        total=total,
        page_label=f"Page {page} of {pages}",
        page_prev_url=page_url(page - 1) if page > 1 else "",
        page_next_url=page_url(page + 1) if page < pages else "",
    )
    template = "personas/list.html#rows" if request.htmx else "personas/list.html"
    return render(request, template, context)


def _search(client: object, persona_type: str, query: str) -> tuple[list[dict], int]:
    """Tavus has no name search: read up to 1 000 personas and filter by name or id here."""
    found: list[dict] = []
    needle = query.casefold()
    for page in range(1, _SEARCH_MAX_PAGES + 1):
        result = client.list_personas(  # type: ignore[attr-defined]
            page=page, limit=_SEARCH_PAGE_LIMIT, persona_type=persona_type
        )
        data = result.get("data", [])
        found += [
            p
            for p in data
            if needle in str(p.get("persona_name", "")).casefold()
            or needle == str(p.get("persona_id", "")).casefold()
        ]
        if len(data) < _SEARCH_PAGE_LIMIT:
            break
    return found, len(found)


# Temporary: being written now.
def _todo(request: AppRequest, **kwargs: object) -> HttpResponse:
    from django.http import Http404

    raise Http404


persona_create = persona_create_preview = persona_detail = persona_edit = _todo
persona_edit_preview = persona_migrate_legacy = persona_delete = persona_export = _todo
picker_replicas = picker_documents = _todo
