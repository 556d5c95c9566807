"""Template filters for per-layer diffs and audit JSON: `{% load diff_tags %}`.

Thin wrappers over personas_app.persona.diffs (which holds the rules) so templates can show a Change's
before/after values, a one-line summary, a word diff and redacted, indented JSON.
"""

from __future__ import annotations

import json

from django import template

from ..persona.diffs import Shown, change_summary, show_value, text_diff
from ..persona.jsontypes import JSON, Op
from ..persona.layers import label_for
from ..persona.patching import Change
from ..persona.redaction import redact, redact_ops

register = template.Library()


@register.filter
def shown_before(change: Change) -> Shown:
    return show_value(change.before, pointer=change.pointer)


@register.filter
def shown_after(change: Change) -> Shown:
    return show_value(change.after, pointer=change.pointer)


@register.filter(name="change_summary")
def change_summary_filter(change: Change) -> str:
    return change_summary(change)


@register.filter
def change_text_diff(change: Change) -> list[tuple[str, str]] | None:
    """Word runs for a long text change; None for secrets and short values."""
    if change_summary(change).endswith("(hidden)"):
        return None
    return text_diff(change.before, change.after)


@register.filter
def pretty_json(value: JSON) -> str:
    """Indented JSON with every secret masked (documents, op lists or anything else)."""
    if isinstance(value, dict):
        value = redact(value)
    elif isinstance(value, list) and all(isinstance(v, dict) and "op" in v for v in value):
        value = redact_ops([v for v in value if isinstance(v, dict)])  # type: ignore[assignment]
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


@register.filter
def op_label(op: Op) -> str:
    """The field an op touches, in plain words."""
    path = op.get("path")
    return label_for(path) if isinstance(path, str) else ""
