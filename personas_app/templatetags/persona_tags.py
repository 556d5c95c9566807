"""Template filters for persona pages."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from django import forms, template
from django.forms import BoundField
from django.forms.utils import flatatt
from django.template import Context
from django.template.loader import render_to_string
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator

from ..forms.tools import PARAM_TYPES, ToolsEditor, ToolState

register = template.Library()


@register.filter(is_safe=True)
def element_text(value: object) -> SafeString:
    """`value` escaped for the text of an element such as <pre>: &, < and > only. Quotes are
    harmless outside attribute values, and a JSON document is full of them: escaped as &quot;
    they made the raw JSON of a large persona 40 % longer. Never use it inside an attribute."""
    return mark_safe(escape(str(value), quote=False))  # noqa: S308 - &, < and > are escaped


@register.filter
def iso_time(value: object) -> str:
    """Tavus's ISO-8601 timestamps as "19 Mar 2025, 10:00 UTC"; anything else as it is."""
    if not isinstance(value, str) or not value:
        return "—"
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%-d %b %Y, %H:%M UTC")


def _control(field: BoundField) -> SafeString:
    widget = field.field.widget
    attrs = {**widget.attrs, "name": field.html_name, "id": field.auto_id}
    value = field.value()
    if isinstance(widget, forms.CheckboxInput):
        return format_html(
            '<input type="checkbox"{}{}>', flatatt(attrs), " checked" if value else ""
        )
    if isinstance(widget, forms.Textarea):
        text = "" if value is None else str(value)
        return format_html("<textarea{}>\n{}</textarea>", flatatt(attrs), text)
    if isinstance(widget, forms.Select):
        chosen = "" if value is None else str(value)
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (key, " selected" if str(key) == chosen else "", label)
                for key, label in field.field.choices
            ),
        )
        return format_html("<select{}>{}</select>", flatatt(attrs), options)
    if isinstance(widget, forms.PasswordInput):
        return format_html('<input type="password"{}>', flatatt(attrs))  # write-only: never a value
    shown = "" if value is None else str(value)
    return format_html('<input type="{}" value="{}"{}>', widget.input_type, shown, flatatt(attrs))


@register.simple_tag
def editor_field(field: BoundField) -> SafeString:
    """One editor field (label, control, help, errors), rendered here rather than through Django's
    per-widget templates: the editor has dozens of fields and this is several times faster."""
    errors = field.errors
    checkbox = isinstance(field.field.widget, forms.CheckboxInput)
    if checkbox:
        head = format_html('<label class="checkbox">{} {}</label>', _control(field), field.label)
    else:
        head = format_html(
            '<label for="{}">{}</label>\n{}', field.auto_id, field.label, _control(field)
        )
    help_text = format_html('<p class="help">{}</p>', field.help_text) if field.help_text else ""
    error_list = (
        format_html(
            '<ul class="errorlist">{}</ul>',
            format_html_join("", "<li>{}</li>", ((e,) for e in errors)),
        )
        if errors
        else ""
    )
    return format_html(
        '<div class="field{}" id="wrap-{}">{}{}{}</div>',
        " field-error" if errors else "",
        field.auto_id,
        head,
        help_text,
        error_list,
    )


def _collapsed_tool(tool: ToolState, i: int, p: str, first: bool, last: bool) -> str:
    # Plain f-strings with escape(): this runs for every tool of a large persona on each render.
    key = f"{escape(p)}:{i}"
    buttons = [f'<button type="submit" name="editor_action" value="{key}:edit">Edit</button>']
    if not first:
        buttons.append(
            f'<button type="submit" name="editor_action" value="{key}:up" title="Move up">↑</button>'
        )
    if not last:
        buttons.append(
            f'<button type="submit" name="editor_action" value="{key}:down" title="Move down">↓</button>'
        )
    buttons.append(
        f'<button type="submit" name="editor_action" value="{key}:remove">Remove</button>'
    )
    field = f"{escape(p)}-{i}"
    hidden_json = (
        f'<input type="hidden" name="{field}-json" value="{escape(tool.json_text)}">'
        if tool.value is None
        else ""
    )
    errors = (
        '<ul class="errorlist">' + "".join(f"<li>{escape(e)}</li>" for e in tool.errors) + "</ul>"
        if tool.errors
        else ""
    )
    description = escape(Truncator(tool.summary_description).chars(90))
    return (
        f'<div class="tool{" field-error" if tool.errors else ""}" id="{field}">'
        f'<input type="hidden" name="{field}-orig" value="{"" if tool.orig is None else tool.orig}">'
        f'<input type="hidden" name="{field}-mode" value="collapsed">{hidden_json}'
        f'<div class="toolbar"><strong class="mono">{escape(tool.summary_name or "(no name)")}</strong> '
        f'<span class="muted small">{description}</span><span class="spacer"></span>'
        f"{''.join(buttons)}</div>{errors}</div>\n"
    )


@register.simple_tag(takes_context=True)
def tool_items(context: Context, ed: ToolsEditor) -> SafeString:
    """Every tool of a tools editor. Folded tools (nearly all of them, on large personas) are
    rendered here; an open tool uses personas/_tool_open.html."""
    count = len(ed.tools)
    parts: list[str] = []
    for i, tool in enumerate(ed.tools):
        if tool.mode == "collapsed":
            parts.append(_collapsed_tool(tool, i, ed.prefix, i == 0, i == count - 1))
        else:
            parts.append(
                render_to_string(
                    "personas/_tool_open.html",
                    {
                        "tool": tool,
                        "i": i,
                        "p": ed.prefix,
                        "number": i + 1,
                        "param_types": PARAM_TYPES,
                    },
                )
            )
    return mark_safe("".join(parts))  # noqa: S308 - every part above is built with format_html or a template
