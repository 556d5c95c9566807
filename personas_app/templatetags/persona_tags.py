"""Template filters for persona pages."""

from __future__ import annotations

from datetime import UTC, datetime

from django import forms, template
from django.forms import BoundField
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

register = template.Library()


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
