"""Template filters for persona pages: plain formatting; editor markup lives in templates."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from django import template
from django.utils.safestring import SafeString, mark_safe

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
