"""Per-layer diffs for pages: group field changes by editor section and format values to read.

Shared by the history pages, the persona editor's preview and the review pages, all through the
template include ``templates/includes/_diff.html``, and by the persona's page. Pure module:
imports only the standard library and the persona-document modules (glossary, layers, patching,
redaction); never Django.

API (everything a page needs):

``group_changes(changes) -> list[tuple[str, list[Change]]]``
    ``changes`` from ``patching.describe_changes(before, after)``. Returns (section title,
    changes) pairs in editor order (Identity, Language model, Voice, ...), empty sections left
    out. This is the ``changes`` context of ``_diff.html``::

        {% include "includes/_diff.html" with changes=groups %}
        {# optional: before_label="Version #12" after_label="Now" empty_text="No differences." #}

``show_value(value, *, pointer="", limit=TRUNCATE_AT) -> Shown``
    How one value reads on a page: strings as they are (cut at ``limit`` characters with the full
    text kept in ``Shown.full``), lists one item per line, objects as indented JSON, absent or
    empty values "(not set)", true/false as "Yes"/"No", secrets "(hidden)". ``_diff.html``
    calls it through the ``diff_tags`` filters ``shown_before``/``shown_after``.

``change_summary(change) -> str``
    One line for a change: "changed", "added", "removed", or for a secret "changed (hidden)".

``text_diff(before, after) -> list[tuple[str, str]] | None``
    For a long or multi-line text (system prompt, context): ("same"|"added"|"removed", text)
    runs, word by word; None when the values are not two strings worth diffing inline.

``with_secret_changes(changes, ops) -> list[Change]``
    Redacted snapshots hide a changed secret (both sides read the marker), so a diff of two
    versions misses it; this adds a "changed (hidden)" row for each secret the ops set.

``describe_snapshots(before, after)`` / ``patch_snapshots(before, after)``
    ``patching.describe_changes`` / ``minimal_patch`` for two versions of a large persona: the
    same result, but what the versions share is dropped first (history pages compare dozens).

``document_summary(doc, *, names=None) -> list[Section]``
    Every field of one snapshot, by section, for the persona's page and "the persona as it was
    at this version": each a ``Setting`` with its label, its value, what it is (glossary) and
    what a known choice means. Objects read as labelled ``parts`` (header values masked), tool
    lists as ``Tool``s with their parameters in words, lists as lists; never a JSON block.
    ``names`` maps a pointer (``/default_replica_id``, ``/guardrail_ids``, ...) to {id: display
    name}: a known id reads "Anna - Studio (r90bbd427f71)", an unknown one stays the id.
"""

from __future__ import annotations

import difflib
import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from .glossary import choice_for, explain
from .jsontypes import JSON, JSONObject, Op, clone, to_pointer
from .layers import LABEL_SEPARATOR, LAYERS, label_for, layer_for
from .patching import (
    READ_ONLY_FIELDS,
    Change,
    ChangeKind,
    changes_by_layer,
    describe_changes,
    minimal_patch,
)
from .redaction import SECRET_MARKER, is_secret_pointer, redact, redact_value

__all__ = [
    "TRUNCATE_AT",
    "Parameter",
    "Section",
    "Setting",
    "Shown",
    "Tool",
    "change_summary",
    "describe_snapshots",
    "document_summary",
    "group_changes",
    "patch_snapshots",
    "show_value",
    "text_diff",
    "with_secret_changes",
]

TRUNCATE_AT = 160
# Word diffs of huge texts are slow (difflib is quadratic at worst) and unreadable anyway.
_TEXT_DIFF_MAX_WORDS = 4000
# Below this share of words in common, two texts are shown side by side instead of inline.
_TEXT_DIFF_MIN_SIMILARITY = 0.5
_TEXT_DIFF_MIN_CHARS = 60


@dataclass(frozen=True)
class Shown:
    """A value ready for a page. `lines` has one entry per list item (or one for a scalar)."""

    text: str
    lines: list[str] = field(default_factory=list)
    full: str = ""
    truncated: bool = False
    is_empty: bool = False
    is_secret: bool = False
    is_block: bool = False  # indented JSON: show in a <pre>


def group_changes(changes: Iterable[Change]) -> list[tuple[str, list[Change]]]:
    """Changes grouped under their editor section title, in LAYERS order, empty sections left out."""
    return [(layer.title, items) for layer, items in changes_by_layer(changes)]


def _cut(text: str, limit: int) -> tuple[str, bool]:
    if len(text) <= limit:
        return text, False
    return text[:limit].rstrip() + "…", True


def _scalar_text(value: JSON) -> str:
    if value is True:
        return "Yes"
    if value is False:
        return "No"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def show_value(value: JSON, *, pointer: str = "", limit: int = TRUNCATE_AT) -> Shown:
    """How `value` (found at `pointer`) reads on a page; see the module docstring."""
    if value is None or value == "" or value == [] or value == {}:
        return Shown(text="(not set)", lines=["(not set)"], is_empty=True)
    if value == SECRET_MARKER or (pointer and is_secret_pointer(pointer)):
        return Shown(text="(hidden)", lines=["(hidden)"], is_secret=True)
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        lines = [_cut(_scalar_text(v), limit)[0] for v in value]
        full = "\n".join(_scalar_text(v) for v in value)
        return Shown(
            text=", ".join(lines), lines=lines, full=full, truncated=full != "\n".join(lines)
        )
    if isinstance(value, dict | list):
        # Masks secrets inside (header values), whatever document the caller passed in.
        text = json.dumps(redact_value(pointer, value), indent=2, ensure_ascii=False)
        return Shown(text=text, lines=[text], full=text, is_block=True)
    full = _scalar_text(value)
    short, truncated = _cut(full, limit)
    return Shown(text=short, lines=[short], full=full, truncated=truncated)


def _secret_change(change: Change) -> bool:
    return is_secret_pointer(change.pointer) or SECRET_MARKER in (change.before, change.after)


def change_summary(change: Change) -> str:
    """One line: what kind of change, never a secret's value."""
    if _secret_change(change):
        return {"added": "set (hidden)", "removed": "removed (hidden)"}.get(
            change.kind, "changed (hidden)"
        )
    return change.kind


def with_secret_changes(changes: list[Change], ops: Iterable[Op]) -> list[Change]:
    """`changes` plus a hidden row for every secret an add/replace op sets and no change shows."""
    shown = {change.pointer for change in changes}
    extra: list[Change] = []
    for op in ops:
        path = op.get("path")
        if op.get("op") not in {"add", "replace"} or not isinstance(path, str):
            continue
        if path in shown or not is_secret_pointer(path):
            continue
        shown.add(path)
        before = SECRET_MARKER if op.get("op") == "replace" else None
        kind: ChangeKind = "changed" if before is not None else "added"
        extra.append(
            Change(path, label_for(path), layer_for(path).key, before, SECRET_MARKER, kind)
        )
    return [*changes, *extra]


_WORD = re.compile(r"\s+|[^\s]+")


def text_diff(before: JSON, after: JSON) -> list[tuple[str, str]] | None:
    """Word-level runs for two long or multi-line strings; None when an inline diff is no help."""
    if not isinstance(before, str) or not isinstance(after, str) or before == after:
        return None
    longest = max(len(before), len(after))
    if longest < _TEXT_DIFF_MIN_CHARS and "\n" not in before + after:
        return None
    a, b = _WORD.findall(before), _WORD.findall(after)
    if len(a) > _TEXT_DIFF_MAX_WORDS or len(b) > _TEXT_DIFF_MAX_WORDS:
        return None
    runs: list[tuple[str, str]] = []

    def push(kind: str, text: str) -> None:
        if not text:
            return
        if runs and runs[-1][0] == kind:
            runs[-1] = (kind, runs[-1][1] + text)
        else:
            runs.append((kind, text))

    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    # A rewrite reads better as before/after than as interleaved fragments of both.
    if matcher.ratio() < _TEXT_DIFF_MIN_SIMILARITY:
        return None
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            push("same", "".join(a[i1:i2]))
            continue
        push("removed", "".join(a[i1:i2]))
        push("added", "".join(b[j1:j2]))
    return runs


def _leaves(doc: JSONObject) -> list[tuple[str, JSON]]:
    # Fields one level inside each layer (a layer's settings), top-level fields as they are.
    found: list[tuple[str, JSON]] = []
    for key, value in doc.items():
        if key in READ_ONLY_FIELDS:
            continue
        if key == "layers" and isinstance(value, dict):
            for layer_key, layer in value.items():
                if isinstance(layer, dict) and layer:
                    found += [
                        (to_pointer(("layers", layer_key, name)), v) for name, v in layer.items()
                    ]
                else:
                    found.append((to_pointer(("layers", layer_key)), layer))
            continue
        found.append((to_pointer((key,)), value))
    return found


# -- One snapshot, every setting labelled -------------------------------------------------------
# Objects (voice settings, headers, provider parameters) read as labelled values and tools as
# names, descriptions and parameters in words, never as JSON; past this depth a value is shown as
# one line of JSON (no persona Tavus documents nests that deep).
_MAX_DEPTH = 5

_TYPE_WORDS: dict[str, tuple[str, str]] = {
    "string": ("text", "pieces of text"),
    "number": ("number", "numbers"),
    "integer": ("whole number", "whole numbers"),
    "boolean": ("yes or no", "yes-or-no values"),
    "object": ("group of values", "groups of values"),
    "array": ("list", "lists"),
    "null": ("nothing", "nothings"),
}


@dataclass(frozen=True)
class Parameter:
    """One parameter of a tool, in words: `kind` is its type ("text", "list of numbers")."""

    name: str
    kind: str
    required: bool
    description: str = ""
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tool:
    """A function the persona may ask the app to call (Tavus runs none itself)."""

    name: str
    description: str
    parameters: tuple[Parameter, ...]


@dataclass(frozen=True)
class Setting:
    """One setting of a snapshot as a page shows it.

    `shown` is the value (the label of a known choice, with the value itself in `code` when
    they differ); `help` says what the setting is and `meaning` what the chosen value does
    (glossary). An object has labelled `parts` instead, a tool list `tools`; `is_list` asks
    for a list even of one item.
    """

    pointer: str
    label: str
    shown: Shown
    help: str = ""
    meaning: str = ""
    code: str = ""
    parts: tuple[Setting, ...] = ()
    tools: tuple[Tool, ...] = ()
    is_list: bool = False


@dataclass(frozen=True)
class Section:
    """The settings of one editor section (LAYERS order), with what the section is for."""

    key: str
    title: str
    help: str
    settings: tuple[Setting, ...]


def _type_words(spec: JSON, *, plural: bool = False) -> str:
    if not isinstance(spec, dict):
        return "values" if plural else "any value"
    kinds = spec.get("type")
    names = [kinds] if isinstance(kinds, str) else kinds if isinstance(kinds, list) else []
    words = [
        _TYPE_WORDS[k][plural] if isinstance(k, str) and k in _TYPE_WORDS else str(k) for k in names
    ]
    if not words:
        return "values" if plural else "any value"
    text = " or ".join(words)
    if names == ["array"] and isinstance(spec.get("items"), dict):
        text = f"{text} of {_type_words(spec['items'], plural=True)}"
    properties = spec.get("properties")
    if names == ["object"] and isinstance(properties, dict) and properties:
        text = f"{text} ({', '.join(properties)})"
    return text


def _parameters(schema: JSON) -> tuple[Parameter, ...]:
    props = schema.get("properties") if isinstance(schema, dict) else None
    required = schema.get("required") if isinstance(schema, dict) else None
    required = required if isinstance(required, list) else []
    if not isinstance(props, dict):
        return ()
    found: list[Parameter] = []
    for name, spec in props.items():
        description = spec.get("description") if isinstance(spec, dict) else None
        enum = spec.get("enum") if isinstance(spec, dict) else None
        found.append(
            Parameter(
                name=name,
                kind=_type_words(spec),
                required=name in required,
                description=description if isinstance(description, str) else "",
                choices=tuple(_scalar_text(v) for v in enum) if isinstance(enum, list) else (),
            )
        )
    return tuple(found)


def _tool(item: JSON) -> Tool | None:
    """A function tool ({"type": "function", "function": {...}}) in words; None for another shape."""
    function = item.get("function") if isinstance(item, dict) else None
    if not isinstance(function, dict):
        return None
    name, description = function.get("name"), function.get("description")
    return Tool(
        name=name if isinstance(name, str) and name else "(no name)",
        description=description if isinstance(description, str) else "",
        parameters=_parameters(function.get("parameters")),
    )


def _relative(label: str, parent_label: str) -> str:
    # "Custom LLM headers > Authorization" under "Custom LLM headers" reads "Authorization".
    prefix = parent_label + LABEL_SEPARATOR
    return label[len(prefix) :] if label.startswith(prefix) else label


def _setting(pointer: str, value: JSON, *, label: str, full_label: str, depth: int) -> Setting:
    help_text = explain(pointer)
    if isinstance(value, dict) and value and depth < _MAX_DEPTH:
        parts = []
        for key, item in value.items():
            child = pointer + to_pointer((key,))
            child_label = label_for(child)
            parts.append(
                _setting(
                    child,
                    item,
                    label=_relative(child_label, full_label),
                    full_label=child_label,
                    depth=depth + 1,
                )
            )
        count = f"{len(parts)} setting{'s' if len(parts) != 1 else ''}"
        return Setting(
            pointer, label, Shown(text=count, lines=[count]), help_text, parts=tuple(parts)
        )
    if isinstance(value, list) and value and depth < _MAX_DEPTH:
        tools = [_tool(item) for item in value]
        if all(tools):
            count = f"{len(tools)} tool{'s' if len(tools) != 1 else ''}"
            shown = Shown(text=count, lines=[count])
            return Setting(pointer, label, shown, help_text, tools=tuple(t for t in tools if t))
        if not _scalars(value):
            items = [
                _setting(
                    f"{pointer}/{n}",
                    item,
                    label=f"#{n + 1}",
                    full_label=f"{full_label}{LABEL_SEPARATOR}#{n + 1}",
                    depth=depth + 1,
                )
                for n, item in enumerate(value)
            ]
            count = f"{len(items)} item{'s' if len(items) != 1 else ''}"
            shown = Shown(text=count, lines=[count])
            return Setting(pointer, label, shown, help_text, parts=tuple(items))
    if isinstance(value, dict | list) and depth >= _MAX_DEPTH and value:
        text = json.dumps(redact_value(pointer, value), ensure_ascii=False)
        short, truncated = _cut(text, TRUNCATE_AT)
        return Setting(pointer, label, Shown(short, [short], text, truncated), help_text)
    choice = choice_for(pointer, value)
    if choice is not None and not is_secret_pointer(pointer):
        code = "" if choice.label.lower() == choice.value.lower() else choice.value
        shown = Shown(text=choice.label, lines=[choice.label], full=choice.label)
        return Setting(pointer, label, shown, help_text, meaning=choice.help, code=code)
    # A page about one persona shows every text whole (a diff cuts them at TRUNCATE_AT).
    shown = show_value(value, pointer=pointer, limit=sys.maxsize)
    return Setting(
        pointer, label, shown, help_text, is_list=isinstance(value, list) and bool(value)
    )


def _named(value: JSON, names: Mapping[str, str]) -> JSON:
    """An id (or a list of ids) with the names `names` knows: "Anna - Studio (r90bbd427f71)"."""
    if isinstance(value, str) and value in names:
        return f"{names[value]} ({value})"
    if isinstance(value, list):
        return [_named(item, names) if isinstance(item, str) else item for item in value]
    return value


def document_summary(
    doc: JSONObject,
    *,
    redacted: bool = False,
    names: Mapping[str, Mapping[str, str]] | None = None,
) -> list[Section]:
    """Every setting of a persona snapshot, by editor section, each labelled and explained.

    Objects read as labelled values (secrets inside masked), tool lists as tools, lists as
    lists. Pass redacted=True when `doc` is already redacted. `names`: {pointer: {id: name}}
    for fields that hold ids of other Tavus resources.
    """
    names = names or {}
    grouped: dict[str, list[Setting]] = {}
    for pointer, value in _leaves(doc if redacted else redact(doc)):
        if pointer in names:
            value = _named(value, names[pointer])
        label = label_for(pointer)
        setting = _setting(pointer, value, label=label, full_label=label, depth=1)
        grouped.setdefault(layer_for(pointer).key, []).append(setting)
    return [
        Section(layer.key, layer.title, layer.help, tuple(grouped[layer.key]))
        for layer in LAYERS
        if layer.key in grouped
    ]


# -- Two versions of a large persona -----------------------------------------------------------
# describe_changes and minimal_patch align lists by serialising every item (json.dumps): for two
# versions of a persona with 50 tools that is ~3 ms per pair even when one description changed,
# and a history page compares many pairs. These give the same result, but first drop what the
# two versions have in common: dict keys whose values are equal, and most of the equal head and
# tail of lists of objects. Enough of those stay (as small placeholders) for the list rules to
# decide as on the whole lists; positions below a shortened head are shifted back afterwards.
#
# Objects are walked key by key and plain values compared with their types, so that is exact.
# Items of a list of objects are compared with Python's ==, which is JSON equality except that it
# mixes true, 1 and 1.0: a true that became 1 inside one tool, with nothing else in the tool
# changed, goes unnoticed (telling it would cost what this saves).

_KEPT = "\u0000kept"  # key of a placeholder for list items both versions share


@dataclass(frozen=True)
class _Shortened:
    """A list whose shared head and tail were cut: the originals, and how far positions moved."""

    before: JSON
    after: JSON
    shift: int


def _same(a: JSON, b: JSON) -> bool:
    if type(a) is not type(b) or a != b:
        return False
    if isinstance(a, list) and isinstance(b, list) and _scalars(a):
        return all(type(x) is type(y) for x, y in zip(a, b, strict=True))
    return True


def _scalars(items: list[JSON]) -> bool:
    return all(not isinstance(v, dict | list) for v in items)


def _pruned(
    a: JSON, b: JSON, path: tuple[str, ...], lists: dict[str, _Shortened]
) -> tuple[JSON, JSON]:
    """`a` and `b` without what they share; `lists` gets every list shortened, by pointer."""
    if isinstance(a, dict) and isinstance(b, dict):
        kept_a: JSONObject = {}
        kept_b: JSONObject = {}
        for key, value in a.items():
            if key not in b:
                kept_a[key] = value
                continue
            other = b[key]
            if isinstance(value, dict) and isinstance(other, dict):
                inner_a, inner_b = _pruned(value, other, (*path, key), lists)
                if inner_a or inner_b:
                    kept_a[key], kept_b[key] = inner_a, inner_b
            elif not _same(value, other):
                kept_a[key], kept_b[key] = _pruned(value, other, (*path, key), lists)
        for key, value in b.items():
            if key not in a:
                kept_b[key] = value
        return kept_a, kept_b
    # A list of plain values is always compared whole (describe_changes shows it whole).
    if not isinstance(a, list) or not isinstance(b, list) or (_scalars(a) and _scalars(b)):
        return a, b
    shortest = min(len(a), len(b))
    head = 0
    while head < shortest and _same(a[head], b[head]):
        head += 1
    tail = 0
    while tail < shortest - head and _same(a[-1 - tail], b[-1 - tail]):
        tail += 1
    # The list rules weigh the items changed against the items kept (patching._replace_whole_
    # list); the changed ones are at most the middles' sizes, so `enough` kept items give the
    # same verdict as all of them.
    enough = len(a) + len(b) - 2 * (head + tail) + 1
    keep_tail = min(tail, enough)
    keep_head = min(head, enough - keep_tail)
    if head + tail == 0:
        return a, b
    # Each placeholder is unique and in both lists at the same place, so the lists still align
    # as before: placeholders match each other, the items in between are compared as they are.
    heads: list[JSON] = [{_KEPT: f"head {n}"} for n in range(keep_head)]
    tails: list[JSON] = [{_KEPT: f"tail {n}"} for n in range(keep_tail)]
    lists[to_pointer(path)] = _Shortened(a, b, head - keep_head)
    return (
        [*heads, *a[head : len(a) - tail], *tails],
        [*heads, *b[head : len(b) - tail], *tails],
    )


def _unshortened(pointer: str, lists: dict[str, _Shortened]) -> str:
    """`pointer` in the whole documents: positions in a shortened list moved back."""
    for prefix, shortened in lists.items():
        if shortened.shift and pointer.startswith(prefix + "/"):
            index, slash, rest = pointer[len(prefix) + 1 :].partition("/")
            if index.isdigit():
                return f"{prefix}/{int(index) + shortened.shift}{slash}{rest}"
    return pointer


def describe_snapshots(
    before: JSONObject, after: JSONObject, *, reveal_secrets: bool = False
) -> list[Change]:
    """patching.describe_changes(before, after), quicker on two versions of a large persona."""
    lists: dict[str, _Shortened] = {}
    a, b = _pruned(before, after, (), lists)
    changes = describe_changes(a, b, reveal_secrets=reveal_secrets)  # type: ignore[arg-type]
    if not lists:
        return changes
    restored: list[Change] = []
    for change in changes:
        if change.pointer in lists:
            # A list shown whole: its real items, not the placeholders.
            whole = lists[change.pointer]
            old, new = whole.before, whole.after
            if not reveal_secrets:
                old, new = redact_value(change.pointer, old), redact_value(change.pointer, new)
            change = replace(change, before=old, after=new)
        else:
            pointer = _unshortened(change.pointer, lists)
            if pointer != change.pointer:
                change = replace(
                    change,
                    pointer=pointer,
                    label=label_for(pointer),
                    layer_key=layer_for(pointer).key,
                )
        restored.append(change)
    return restored


def patch_snapshots(before: JSONObject, after: JSONObject) -> list[Op]:
    """patching.minimal_patch(before, after), quicker on two versions of a large persona."""
    lists: dict[str, _Shortened] = {}
    a, b = _pruned(before, after, (), lists)
    ops = minimal_patch(a, b)  # type: ignore[arg-type]
    for op in ops:
        path = op.get("path")
        if not isinstance(path, str):
            continue
        if path in lists and "value" in op:
            op["value"] = clone(lists[path].after)  # a list replaced whole: its real items
        else:
            op["path"] = _unshortened(path, lists)
    return ops
