"""The audit log's table rows, built in Python: `{% load audit_tags %}`, `{% audit_rows rows %}`.

A page shows 50 records, and each row as template code took ~36 variable lookups, two `date`
filters and a dozen `{% if %}` (~10 µs per lookup on the machines this runs on): about half of the
page's time. Here a row is a few f-strings in which every value from the record goes through _e(),
which escapes exactly as the template's autoescaping did. The rest of the page (table, empty
message, pagination, the recorded JSON of an opened record) stays in templates/history/audit.html.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from html import escape
from typing import TYPE_CHECKING

from django import template
from django.template import Context
from django.template.loader import get_template
from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import capfirst

if TYPE_CHECKING:
    from ..views.history import AuditRow

register = template.Library()

# The opened record's JSON; the view also renders this partial alone for htmx.
_EVENT_JSON = "history/audit.html#event-json"


def _e(value: object) -> str:
    """What autoescaping prints for a value: safe strings as they are, anything else escaped.

    Django's escape() is wrapped for lazy strings, which costs more than the escaping itself; a
    page escapes ~800 values here.
    """
    html = getattr(value, "__html__", None)
    return html() if html is not None else escape(str(value))


def _when(moment: datetime, zone: tzinfo) -> tuple[str, str]:
    """`{{ moment|date:'c' }}` and `{{ moment|date:"j M Y, H:i" }}`, in the current time zone as
    templates show datetimes."""
    local = moment.astimezone(zone) if timezone.is_aware(moment) else moment
    month = str(MONTHS_3[local.month]).title()
    return local.isoformat(), f"{local.day} {month} {local.year:04d}, {local:%H:%M}"


def _what_cell(row: AuditRow) -> str:
    e = row.event
    parts = [f'<span class="what">{_e(capfirst(row.what))}</span>']
    if e.persona_id:
        parts.append(
            f'<div><a href="{_e(row.persona_url)}">{_e(e.persona_name or "(no name)")}</a> '
            f'<span class="mono muted small">{_e(e.persona_id)}</span></div>'
        )
    if e.target:
        parts.append(f"<div>{_e(e.target)}</div>")
    if e.note:
        parts.append(f'<div class="muted small">{_e(e.note)}</div>')
    if row.review_url:
        parts.append(
            f'<div class="small"><a href="{_e(row.review_url)}">'
            f"Change request #{_e(e.change_request_id)}</a></div>"
        )
    return "\n".join(parts)


def _outcome_cell(row: AuditRow) -> str:
    e = row.event
    failed = e.outcome == "error"
    parts = [
        '<span class="pill err">Failed</span>'
        if failed
        else '<span class="pill ok">Succeeded</span>'
    ]
    if e.http_status:
        parts.append(f'<div class="small muted">Tavus: {_e(e.http_status)}</div>')
    if e.error_message:
        parts.append(f'<div class="small tavus-said">{_e(e.error_message)}</div>')
    return "\n".join(parts)


def _view_link(row: AuditRow) -> str:
    if not row.detail_url:
        return ""
    e = row.event
    text = "View version" if e.outcome == "ok" and e.action != "persona.deleted" else "View"
    return f'<a href="{_e(row.detail_url)}">{text}</a><br>\n'


def _row(row: AuditRow, zone: tzinfo, show_query: str, opened: str | None) -> str:
    """One record's <tr>; `opened` is the recorded JSON of the record that is open (else None)."""
    e = row.event
    pk = _e(e.pk)
    iso, when = _when(e.created_at, zone)
    if opened is None:
        body = f'<a href="?{show_query}show={pk}#event-{pk}">Show the recorded JSON</a>'
    else:
        body = opened
    return (
        f'<tr id="event-{pk}" class="audit-row{" failed" if e.outcome == "error" else ""}">\n'
        f'<td class="nowrap"><time datetime="{_e(iso)}">{_e(when)}</time></td>\n'
        f"<td>{_e(row.who)}</td>\n"
        f"<td>\n{_what_cell(row)}\n</td>\n"
        f"<td>\n{_outcome_cell(row)}\n</td>\n"
        f'<td class="nowrap">\n'
        f'{_view_link(row)}<details class="event-json"{" open" if opened is not None else ""}\n'
        f'  hx-get="?show={pk}" hx-trigger="toggle once" hx-target="find .event-json-body"'
        f' hx-swap="innerHTML">\n'
        f"<summary>JSON</summary>\n"
        f'<div class="event-json-body">\n{body}\n</div>\n'
        f"</details>\n"
        f"</td>\n"
        f"</tr>"
    )


@register.simple_tag(takes_context=True)
def audit_rows(context: Context, rows: list[AuditRow]) -> SafeString:
    """One <tr> per record; the record whose id is `show` is opened, with its recorded JSON.

    Every value from a record goes through _e(), as autoescaping did in the template.
    """
    show = context.get("show")
    show_query = _e(context.get("show_query", ""))
    zone = timezone.get_current_timezone()
    parts = []
    for row in rows:
        opened = None
        if show is not None and show == row.event.pk:
            with context.push(row=row):
                opened = get_template(_EVENT_JSON).template.render(context)  # type: ignore[attr-defined]
        parts.append(_row(row, zone, show_query, opened))
    return mark_safe("\n".join(parts))  # noqa: S308 - every value in the rows is escaped by _e()
