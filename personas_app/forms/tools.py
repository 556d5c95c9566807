"""Editors that Django forms model poorly: function tools and key/value rows.

Both read the posted data directly (a persona can have hundreds of tools; building a Django form per
parameter row would make every keystroke's preview slow). A tool that is not being edited travels as
one hidden JSON field and comes back exactly as it was. An open tool is edited as rows or as JSON,
and the two round-trip exactly: a tool the rows cannot show faithfully opens as JSON.

The rows speak plainly: parameter types are "text", "whole number", "list of…", "group of fields";
a list's items and a group's fields are rows too (nested rows). A tool's name can be suggested from
a plain label ("Look up order" → look_up_order). Actions (add, remove, move, open, switch mode) come
from a submit button named `editor_action`, so everything works without JS; with htmx, `handle`
says which part of the page changed, and only that fragment is sent back.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..editor import Issue
from ..persona.jsontypes import JSON, JSONObject, clone
from ..persona.redaction import SECRET_MARKER
from ..persona.safety import UnsafeJSON, loads_checked

# (JSON Schema type, what the editor calls it)
PARAM_TYPES: tuple[tuple[str, str], ...] = (
    ("string", "text"),
    ("number", "number"),
    ("integer", "whole number"),
    ("boolean", "yes/no"),
    ("array", "list of…"),
    ("object", "group of fields"),
)
# What a list may hold in rows (a list of lists is edited as JSON).
ITEM_TYPES: tuple[tuple[str, str], ...] = tuple(t for t in PARAM_TYPES if t[0] != "array")
TYPE_WORDS = dict(PARAM_TYPES)
_TYPES = frozenset(TYPE_WORDS)
_ITEM_TYPES = frozenset(t for t, _ in ITEM_TYPES)
# Types whose values can be limited to a list of allowed values ("enum") in the rows.
ENUM_TYPES = frozenset({"string", "number", "integer"})
# Levels of fields inside fields the rows show; deeper schemas are edited as JSON.
MAX_NESTING = 3
_MAX_ROWS = 500


@dataclass
class ParamRow:
    """One parameter (or one field of a group) as the rows show it."""

    name: str = ""
    type: str = "string"
    description: str = ""
    enum: str = ""  # allowed values, comma-separated (text and number types)
    required: bool = False
    items_type: str = "string"  # what a list holds
    items_enum: str = ""  # allowed values of a list's items
    fields: list[ParamRow] = field(default_factory=list)  # a group's fields, or a list's groups'
    # Where the row sits on the page, and what the page shows with it: not part of the value.
    key: str = field(default="", compare=False)  # its name prefix, e.g. "llm-tools-0-p1-f0"
    path: str = field(default="", compare=False)  # the same inside its tool, e.g. "p1-f0"
    depth: int = field(default=0, compare=False)
    errors: list[str] = field(default_factory=list, compare=False)
    focus: bool = field(default=False, compare=False)

    @property
    def blank(self) -> bool:
        """Nothing typed: an empty row is left out rather than refused."""
        return (
            not self.name
            and not self.description
            and not self.enum.strip()
            and not self.items_enum.strip()
            and not self.required
            and self.type == "string"
            and all(row.blank for row in self.fields)
        )

    @property
    def has_fields(self) -> bool:
        return self.type == "object" or (self.type == "array" and self.items_type == "object")

    @property
    def can_nest(self) -> bool:
        return self.depth + 1 < MAX_NESTING

    @property
    def label(self) -> str:
        word = "Parameter" if self.depth == 0 else "Field"
        return f"{word} “{self.name}”" if self.name else f"This {word.lower()}"

    @property
    def lines(self) -> list[str]:
        return [f"{self.label}: {m}" for m in self.errors]


def _json_error(exc: ValueError) -> str:
    """What is wrong with JSON text a person typed, in their words."""
    return str(exc) if isinstance(exc, UnsafeJSON) else f"This is not valid JSON ({exc})."


def same_json(a: JSON, b: JSON) -> bool:
    """Equal as JSON, types included (true is not 1, 1 is not 1.0); key order does not matter."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(v, b[k]) for k, v in a.items())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(same_json, a, b))
    return a == b and (not isinstance(a, float) or repr(a) == repr(b))


def suggest_name(label: str) -> str:
    """A tool name from plain words: "Look up order" → "look_up_order" (letters, digits, _)."""
    ascii_text = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
    name = "_".join(word.lower() for word in re.findall(r"[A-Za-z0-9]+", ascii_text))[:64]
    return f"tool_{name}" if name[:1].isdigit() else name


# -- allowed values ------------------------------------------------------------------------------
def _number(text: str) -> int | float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    if number != number or number in (float("inf"), float("-inf")):
        return None
    if number.is_integer() and "." not in text and "e" not in text.lower():
        return int(text)
    return number


def _enum_text(values: JSON, kind: str) -> str | None:
    """Allowed values as the row shows them, or None when the row cannot show them exactly."""
    if not isinstance(values, list) or not values or kind not in ENUM_TYPES:
        return None
    if kind == "string":
        ok = all(isinstance(v, str) and v and v == v.strip() and "," not in v for v in values)
        return ", ".join(values) if ok else None  # type: ignore[arg-type]
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in values):
        return None
    return ", ".join(json.dumps(v) for v in values)


def _enum_values(text: str, kind: str, errors: list[str]) -> list[JSON]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if kind == "string":
        return list(items)
    values: list[JSON] = []
    for item in items:
        number = _number(item)
        if number is None or (kind == "integer" and not isinstance(number, int)):
            errors.append(f"“{item}” is not a {TYPE_WORDS[kind]}: list {TYPE_WORDS[kind]}s only.")
        else:
            values.append(number)
    return values


# -- schema → rows -------------------------------------------------------------------------------
def _rows_from_properties(properties: JSON, required: JSON, depth: int) -> list[ParamRow] | None:
    if not isinstance(properties, dict) or not isinstance(required, list):
        return None
    if any(not isinstance(r, str) or r not in properties for r in required):
        return None
    rows: list[ParamRow] = []
    for name, schema in properties.items():
        row = _row_from_schema(name, schema, depth)
        if row is None:
            return None
        row.required = name in required
        rows.append(row)
    return rows


def _row_from_schema(name: str, schema: JSON, depth: int) -> ParamRow | None:
    """A row for one property's schema, or None when rows cannot show it (checked again by
    rebuilding: see _rows_from_parameters)."""
    if not isinstance(schema, dict) or depth >= MAX_NESTING:
        return None
    kind, description = schema.get("type"), schema.get("description", "")
    if not isinstance(kind, str) or kind not in _TYPES or not isinstance(description, str):
        return None
    # A one-line text box cannot hold line breaks, and names are posted trimmed.
    if "\n" in description or "\r" in description or not name or name != name.strip():
        return None
    row = ParamRow(name=name, type=kind, description=description, depth=depth)
    if "enum" in schema:
        enum = _enum_text(schema["enum"], kind)
        if enum is None:
            return None
        row.enum = enum
    if kind == "object":
        fields = _rows_from_properties(
            schema.get("properties", {}), schema.get("required", []), depth + 1
        )
        if fields is None:
            return None
        row.fields = fields
    elif kind == "array":
        items = schema.get("items")
        item_kind = items.get("type") if isinstance(items, dict) else None
        if not isinstance(items, dict) or not isinstance(item_kind, str):
            return None
        if item_kind not in _ITEM_TYPES:
            return None
        row.items_type = item_kind
        if "enum" in items:
            items_enum = _enum_text(items["enum"], item_kind)
            if items_enum is None:
                return None
            row.items_enum = items_enum
        if item_kind == "object":
            fields = _rows_from_properties(
                items.get("properties", {}), items.get("required", []), depth + 1
            )
            if fields is None:
                return None
            row.fields = fields
    return row


def _rows_from_parameters(parameters: JSON) -> list[ParamRow] | None:
    """Rows for a tool's parameters schema, or None when rows cannot show it faithfully: the rows
    must build back into exactly the same schema."""
    if parameters is None:
        return []
    if not isinstance(parameters, dict) or set(parameters) - {"type", "properties", "required"}:
        return None
    if parameters.get("type") != "object":
        return None
    rows = _rows_from_properties(
        parameters.get("properties", {}), parameters.get("required", []), 0
    )
    if rows is None:
        return None
    errors: list[str] = []
    rebuilt = _parameters_from_rows(rows, parameters, errors)
    return rows if not errors and same_json(rebuilt, parameters) else None


# -- rows → schema -------------------------------------------------------------------------------
def _properties_from_rows(
    rows: list[ParamRow], old_properties: JSON, errors: list[str]
) -> tuple[JSONObject, list[str]]:
    """(properties, names required) of some rows; problems go on the rows (and into `errors`)."""
    old = old_properties if isinstance(old_properties, dict) else {}
    properties: JSONObject = {}
    for row in rows:
        if row.blank:
            continue
        if not row.name:
            row.errors.append("Give this parameter a name.")
        elif row.name in properties:
            row.errors.append(f"“{row.name}” is used twice: give each one its own name.")
        else:
            properties[row.name] = _schema_from_row(row, old.get(row.name), errors)
        errors.extend(row.errors)
    return properties, [row.name for row in rows if row.required and row.name in properties]


def _required(names: list[str], old: JSON) -> list[str]:
    # The same names in another order are no change (JSON Schema reads "required" as a set).
    if isinstance(old, list) and sorted(map(str, old)) == sorted(names) and len(old) == len(names):
        return old  # type: ignore[return-value]
    return names


def _group_into(out: JSONObject, rows: list[ParamRow], old: JSONObject, errors: list[str]) -> None:
    properties, required = _properties_from_rows(rows, old.get("properties"), errors)
    if properties or "properties" in old:
        out["properties"] = properties
    if required or "required" in old:
        out["required"] = _required(required, old.get("required"))  # type: ignore[assignment]


def _schema_from_row(row: ParamRow, old_schema: JSON, errors: list[str]) -> JSONObject:
    """The JSON Schema of one row; the old schema itself when nothing in it changed."""
    old = old_schema if isinstance(old_schema, dict) else {}
    kind = row.type if row.type in _TYPES else "string"
    out: JSONObject = {"type": kind}
    if row.description or "description" in old:
        out["description"] = row.description
    if kind in ENUM_TYPES:
        values = _enum_values(row.enum, kind, row.errors)
        if values:
            out["enum"] = values
    elif kind == "object":
        _group_into(out, row.fields, old, errors)
    elif kind == "array":
        old_items = old.get("items") if isinstance(old.get("items"), dict) else {}
        item_kind = row.items_type if row.items_type in _ITEM_TYPES else "string"
        items: JSONObject = {"type": item_kind}
        if item_kind in ENUM_TYPES:
            values = _enum_values(row.items_enum, item_kind, row.errors)
            if values:
                items["enum"] = values
        elif item_kind == "object":
            _group_into(items, row.fields, old_items, errors)  # type: ignore[arg-type]
        out["items"] = old_items if same_json(items, old_items) else items
    return old if same_json(out, old) else out


def _parameters_from_rows(rows: list[ParamRow], base: JSON, errors: list[str]) -> JSONObject:
    old = base if isinstance(base, dict) else {}
    properties, required = _properties_from_rows(rows, old.get("properties"), errors)
    parameters: JSONObject = {"type": "object"}
    if properties or not old or "properties" in old:
        parameters["properties"] = properties
    if required or "required" in old:
        parameters["required"] = _required(required, old.get("required"))  # type: ignore[assignment]
    return old if same_json(parameters, old) else parameters


def _assign_keys(
    rows: list[ParamRow], prefix: str, path: str = "", depth: int = 0, letter: str = "p"
) -> None:
    """Give rows their name prefixes: p0, p1 at the top, then p0-f0, p0-f1 for their fields."""
    for j, row in enumerate(rows):
        row.path = f"{path}-{letter}{j}" if path else f"{letter}{j}"
        row.key, row.depth = f"{prefix}-{row.path}", depth
        _assign_keys(row.fields, prefix, row.path, depth + 1, "f")


def _find_row(rows: list[ParamRow], path: list[int]) -> tuple[list[ParamRow], int] | None:
    """(the list holding the row at `path`, its index) for a path like [1, 0] (p1-f0)."""
    siblings = rows
    for depth, index in enumerate(path):
        if index >= len(siblings):
            return None
        if depth == len(path) - 1:
            return siblings, index
        siblings = siblings[index].fields
    return None


def _row_path(text: str) -> list[int] | None:
    """ "p1-f0-f2" → [1, 0, 2]; None for anything else."""
    parts = text.split("-")
    if not parts or not parts[0].startswith("p"):
        return None
    path: list[int] = []
    for n, part in enumerate(parts):
        letter, number = part[:1], part[1:]
        if letter != ("p" if n == 0 else "f") or not number.isdigit():
            return None
        path.append(int(number))
    return path


def _iter_rows(rows: list[ParamRow]) -> Iterator[ParamRow]:
    for row in rows:
        yield row
        yield from _iter_rows(row.fields)


@dataclass
class ToolState:
    """One tool as the editor holds it."""

    orig: int | None
    mode: str  # collapsed | rows | json
    json_text: str = ""
    # A collapsed tool that is still the original travels as its index only; this is that tool.
    value: JSON = None
    name: str = ""
    description: str = ""
    label: str = ""  # plain words the name was suggested from (never sent to Tavus)
    named_from: str = ""  # the label the current name was suggested from
    params: list[ParamRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # about the whole tool
    field_errors: dict[str, list[str]] = field(default_factory=dict)  # name, description, json
    note: str = ""  # why the tool shows as JSON (not a problem)
    key: str = field(default="", compare=False)  # its name prefix, e.g. "llm-tools-3"
    focus: str = ""  # which control takes the focus after an action (name, json, edit, ...)

    def _function(self) -> JSONObject:
        value = self.value
        if value is None:
            try:
                value = loads_checked(self.json_text)
            except ValueError:
                return {}
        function = value.get("function") if isinstance(value, dict) else None
        return function if isinstance(function, dict) else {}

    @property
    def summary_name(self) -> str:
        return self.name if self.mode == "rows" else str(self._function().get("name", ""))

    @property
    def summary_description(self) -> str:
        if self.mode == "rows":
            return self.description
        return str(self._function().get("description", ""))

    @property
    def blank(self) -> bool:
        """A new tool nobody has typed into yet: left out of the persona, not refused."""
        return (
            self.orig is None
            and self.mode == "rows"
            and not self.name
            and not self.description.strip()
            and all(row.blank for row in self.params)
        )

    @property
    def all_rows(self) -> list[ParamRow]:
        return list(_iter_rows(self.params))

    def row_at(self, path: str) -> ParamRow | None:
        """The row at a path like "p1-f0"."""
        steps = _row_path(path)
        found = _find_row(self.params, steps) if steps is not None else None
        return found[0][found[1]] if found is not None else None

    def _lines(self, part: str, label: str) -> list[str]:
        return [f"{label}: {m}" for m in self.field_errors.get(part, [])]

    @property
    def name_lines(self) -> list[str]:
        return self._lines("name", "Tool name")

    @property
    def description_lines(self) -> list[str]:
        return self._lines("description", "Description")

    @property
    def json_lines(self) -> list[str]:
        return self._lines("json", "JSON")

    @property
    def has_errors(self) -> bool:
        return bool(
            self.errors
            or any(self.field_errors.values())
            or any(row.errors for row in _iter_rows(self.params))
        )

    def text(self) -> str:
        """The tool as JSON text (for the JSON editor)."""
        return _dump(self.value) if self.value is not None else self.json_text


def _dump(tool: JSON) -> str:
    return json.dumps(tool, indent=2, ensure_ascii=False)


def _lf(text: str) -> str:
    """Line breaks as the page showed them: browsers post a text area's as CR LF."""
    return text.replace("\r\n", "\n")


def _flag(value: Any) -> bool:
    return value in ("on", "true", "1")


def _int(value: Any, limit: int) -> int:
    try:
        return max(0, min(int(value), limit))
    except (TypeError, ValueError):
        return 0


@dataclass(frozen=True)
class Handled:
    """What an editor action changed, so a view can send back just that part of the page:
    kind is "list" (the whole tools editor), "tool" (one tool, at `index`), "tool-added" (a new
    tool at the end), "row-added" (a new parameter, or field of `row_path`), "kv-row" (a new
    key/value row), "kv-removed" (a key/value row gone: nothing to send back), "naming" (a tool's
    name suggested from its label), "tts" (the voice engines' settings)."""

    kind: str
    editor: ToolsEditor | KeyValueRows | None = None
    index: int = 0
    row_path: str = ""  # "row-added": the row whose fields grew ("" for the tool's parameters)


class ToolsEditor:
    """Edits one list of function tools (LLM tools, visual tools, audio tools)."""

    def __init__(
        self,
        *,
        prefix: str,
        label: str,
        base_tools: JSON,
        data: Mapping[str, Any] | None = None,
        help_text: str = "",
        section: str = "",
    ) -> None:
        self.prefix, self.label, self.help_text, self.section = prefix, label, help_text, section
        self.base_present = base_tools is not None
        self.base: list[JSON] = base_tools if isinstance(base_tools, list) else []  # read-only
        self.form_errors: list[str] = []
        self.focus_add = False
        # For each tool of the built list, its position in self.tools (blank tools are left out).
        self.doc_indices: list[int] = []
        if data is not None and f"{prefix}-count" in data:
            self.tools = self._parse(data)
        else:
            self.tools = [
                ToolState(orig=i, mode="collapsed", value=t) for i, t in enumerate(self.base)
            ]
        self._rekey()

    def _rekey(self) -> None:
        """Name prefixes follow positions (a tool moved or removed moves the ones after it)."""
        for i, tool in enumerate(self.tools):
            tool.key = f"{self.prefix}-{i}"
            _assign_keys(tool.params, tool.key)

    @property
    def folded_key(self) -> str:
        """A name for the exact markup of this editor's tool list when every tool is folded (a
        hash of what each folded tool shows), for the template's fragment cache; "" when a
        tool is open or has a message, which is rendered afresh. A large persona's edit page
        renders hundreds of folded tools, the same ones view after view."""
        if any(tool.mode != "collapsed" or tool.focus or tool.errors for tool in self.tools):
            return ""
        shown = [
            (tool.orig, tool.json_text if tool.value is None else tool.value) for tool in self.tools
        ]
        text = json.dumps([self.prefix, shown], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    # -- reading what was posted ---------------------------------------------------------------
    def _parse_rows(
        self, data: Mapping[str, Any], prefix: str, count_key: str, depth: int, letter: str
    ) -> list[ParamRow]:
        rows: list[ParamRow] = []
        for j in range(_int(data.get(count_key, 0), _MAX_ROWS)):
            key = f"{prefix}-{letter}{j}"  # _rekey sets the keys again, with the paths
            row = ParamRow(
                name=str(data.get(f"{key}-name", "")).strip(),
                type=str(data.get(f"{key}-type", "string")),
                description=str(data.get(f"{key}-description", "")),
                enum=str(data.get(f"{key}-enum", "")),
                required=_flag(data.get(f"{key}-required")),
                items_type=str(data.get(f"{key}-items_type", "string")),
                items_enum=str(data.get(f"{key}-items_enum", "")),
                key=key,
                depth=depth,
            )
            if depth + 1 < MAX_NESTING:
                row.fields = self._parse_rows(data, key, f"{key}-fcount", depth + 1, "f")
            rows.append(row)
        return rows

    def _parse(self, data: Mapping[str, Any]) -> list[ToolState]:
        p = self.prefix
        tools: list[ToolState] = []
        for i in range(_int(data.get(f"{p}-count", 0), 2000)):
            key = f"{p}-{i}"
            orig_raw = str(data.get(f"{key}-orig", ""))
            orig = int(orig_raw) if orig_raw.isdigit() and int(orig_raw) < len(self.base) else None
            mode = data.get(f"{key}-mode", "collapsed")
            if mode == "rows":
                tool = ToolState(
                    orig=orig,
                    mode="rows",
                    name=str(data.get(f"{key}-name", "")).strip(),
                    description=_lf(str(data.get(f"{key}-description", ""))),
                    label=str(data.get(f"{key}-label", "")).strip(),
                    named_from=str(data.get(f"{key}-named_from", "")),
                    params=self._parse_rows(data, key, f"{key}-pcount", 0, "p"),
                )
                # The name follows the label until the person types a name of their own.
                if tool.label and tool.name in ("", suggest_name(tool.named_from)):
                    tool.name, tool.named_from = suggest_name(tool.label), tool.label
                tools.append(tool)
            elif mode == "collapsed" and f"{key}-json" not in data and orig is not None:
                tools.append(ToolState(orig=orig, mode="collapsed", value=self.base[orig]))
            else:
                tools.append(
                    ToolState(
                        orig=orig,
                        mode="json" if mode == "json" else "collapsed",
                        json_text=_lf(str(data.get(f"{key}-json", ""))),
                    )
                )
        return tools

    # -- actions -------------------------------------------------------------------------------
    def handle(self, action: str) -> Handled | None:
        """Apply an editor action meant for this editor: what changed, or None when it was
        not this editor's."""
        if not action.startswith(self.prefix + ":"):
            return None
        handled = self._handle(action[len(self.prefix) + 1 :].split(":"))
        self._rekey()
        return handled

    def _handle(self, parts: list[str]) -> Handled:
        whole = Handled("list", self)
        if parts == ["add"]:
            self.tools.append(ToolState(orig=None, mode="rows", params=[ParamRow()], focus="label"))
            return Handled("tool-added", self, len(self.tools) - 1)
        if not parts[0].isdigit() or int(parts[0]) >= len(self.tools):
            return whole
        i, verb = int(parts[0]), parts[1] if len(parts) > 1 else ""
        tool = self.tools[i]
        if verb == "name":  # _parse already suggested it from the label
            return Handled("naming", self, i)
        if verb == "remove":
            del self.tools[i]
            if i < len(self.tools):
                self.tools[i].focus = "edit" if self.tools[i].mode == "collapsed" else "remove"
            else:
                self.focus_add = True
            return whole
        if verb in {"up", "down"}:
            j = i - 1 if verb == "up" else i + 1
            if 0 <= j < len(self.tools):
                self.tools[j], self.tools[i] = tool, self.tools[j]
                ends = (j == 0 and verb == "up") or (j == len(self.tools) - 1 and verb == "down")
                tool.focus = "edit" if ends or tool.mode != "collapsed" else verb
            return whole
        return self._handle_tool(i, tool, verb, parts[2:])

    def _handle_tool(self, i: int, tool: ToolState, verb: str, rest: list[str]) -> Handled:
        """An action inside one tool: what changed is that tool, or a row added to it."""
        one = Handled("tool", self, i)
        if verb in {"edit", "rows"}:
            self._to_rows(tool)
            tool.focus = "name" if tool.mode == "rows" else "json"
        elif verb == "json":
            self._to_json(tool)
            tool.focus = "json" if tool.mode == "json" else "name"
        elif verb == "collapse" and tool.blank:
            tool.note = "This tool is empty: describe what it does, or remove it."
            tool.focus = "label"
        elif verb == "collapse":
            self._to_json(tool)
            if not tool.has_errors:
                tool.mode, tool.focus = "collapsed", "edit"
        elif verb == "addparam" and tool.mode == "rows":
            tool.params.append(ParamRow(focus=True))
            return Handled("row-added", self, i, "")
        elif tool.mode == "rows" and (path := _row_path(verb)) is not None and rest:
            found = _find_row(tool.params, path)
            if found is None:
                return one
            siblings, j = found
            if rest[0] == "remove":
                del siblings[j]
                if j < len(siblings):
                    siblings[j].focus = True
                elif len(path) == 1:
                    tool.focus = "addparam"
            elif rest[0] == "addfield" and siblings[j].can_nest:
                siblings[j].fields.append(ParamRow(focus=True))
                return Handled("row-added", self, i, verb)
        return one

    def _to_rows(self, tool: ToolState) -> None:
        if tool.mode == "rows":
            return
        try:
            value = tool.value if tool.value is not None else loads_checked(tool.json_text)
        except ValueError:
            tool.mode, tool.note = "json", "Fix the JSON first: then it can be shown as rows."
            return
        function = value.get("function") if isinstance(value, dict) else None
        rows = (
            _rows_from_parameters(function.get("parameters"))
            if isinstance(function, dict)
            else None
        )
        name = function.get("name", "") if isinstance(function, dict) else None
        description = function.get("description", "") if isinstance(function, dict) else None
        if (
            rows is None
            or not isinstance(value, dict)
            or (isinstance(name, str) and name != name.strip())
            or (isinstance(description, str) and "\r" in description)
            or not isinstance(function, dict)
            or value.get("type") != "function"
            or set(value) - {"type", "function"}
            or set(function) - {"name", "description", "parameters"}
            or not isinstance(name, str)
            or not isinstance(description, str)
        ):
            tool.mode, tool.json_text, tool.value = "json", tool.text(), None
            tool.note = (
                "This tool uses settings the rows cannot show (for example lists of lists or "
                "advanced JSON Schema), so it opens as JSON: nothing is lost."
            )
            return
        tool.mode, tool.note, tool.value = "rows", "", None
        tool.name, tool.description, tool.params = name, description, rows

    def _to_json(self, tool: ToolState) -> None:
        if tool.mode != "rows":
            if tool.mode == "collapsed":
                tool.json_text, tool.value, tool.mode = tool.text(), None, "json"
            return
        built = self._build(tool)
        if built is not None and not tool.has_errors:
            tool.mode, tool.json_text = "json", _dump(built)

    # -- building the tool list ------------------------------------------------------------------
    def _build(self, tool: ToolState) -> JSONObject | None:
        tool.errors, tool.field_errors = [], {}
        for row in _iter_rows(tool.params):
            row.errors = []
        if tool.mode != "rows":
            if tool.value is not None:
                return tool.value  # type: ignore[return-value]
            try:
                value = loads_checked(tool.json_text)
            except ValueError as exc:
                tool.field_errors.setdefault("json", []).append(_json_error(exc))
                return None
            if not isinstance(value, dict):
                tool.field_errors.setdefault("json", []).append(
                    "A tool must be a JSON object: { … }."
                )
                return None
            return value
        base = self.base[tool.orig] if tool.orig is not None else None
        if isinstance(base, dict):
            base_function = base.get("function") if isinstance(base.get("function"), dict) else {}
            result = clone(base)
        else:
            base_function, result = {}, {"type": "function", "function": {}}
        function = result.setdefault("function", {})
        if not isinstance(function, dict):
            function = result["function"] = {}
        if tool.name:
            function["name"] = tool.name
        else:
            function.pop("name", None)  # "Give the tool a name" comes from the schema check
        if tool.description or "description" in base_function:
            function["description"] = tool.description
        errors: list[str] = []
        if any(not row.blank for row in tool.params) or "parameters" in base_function:
            function["parameters"] = _parameters_from_rows(
                tool.params, base_function.get("parameters"), errors
            )
        if errors:
            return None
        return base if isinstance(base, dict) and same_json(result, base) else result  # type: ignore[return-value]

    def built(self) -> tuple[list[JSON], bool]:
        """(the edited list, True when every tool could be read). A tool that cannot be read
        keeps its original in the list (or is left out if it is new), so the rest can still be
        checked; a blank new tool is left out."""
        result: list[JSON] = []
        complete = True
        self.doc_indices, self.form_errors = [], []
        for i, tool in enumerate(self.tools):
            if tool.blank:
                continue
            value = self._build(tool)
            if value is None or tool.has_errors:
                complete = False
                value = self.base[tool.orig] if tool.orig is not None and value is None else value
                if value is None:
                    continue
            result.append(value)
            self.doc_indices.append(i)
        return result, complete

    def value(self) -> list[JSON] | None:
        """The edited list, or None when some tool cannot be read (errors are on the tools)."""
        result, complete = self.built()
        return result if complete else None

    def attach_problems(self, problems: dict[tuple[str | int, ...], list[str]]) -> None:
        """Place schema problems (paths relative to this list) on the control they concern:
        the tool's name or description, the parameter's row, or the tool as a whole."""
        for path, messages in problems.items():
            if not path or not isinstance(path[0], int) or path[0] >= len(self.doc_indices):
                self.form_errors += messages
                continue
            tool = self.tools[self.doc_indices[path[0]]]
            rest = [p for p in path[1:]]
            if tool.mode == "json":
                where = " > ".join(str(p) for p in rest if p != "function")
                tool.field_errors.setdefault("json", []).extend(
                    f"{where}: {m}" if where else m for m in messages
                )
            elif (
                tool.mode == "rows"
                and rest[:1] == ["function"]
                and rest[1:2]
                in (
                    ["name"],
                    ["description"],
                )
            ):
                tool.field_errors.setdefault(str(rest[1]), []).extend(messages)
            elif tool.mode == "rows" and (row := self._row_at(tool, rest)) is not None:
                row.errors.extend(messages)
            else:
                where = " > ".join(str(p) for p in rest if p != "function")
                tool.errors += [f"{where}: {m}" if where else m for m in messages]

    @staticmethod
    def _row_at(tool: ToolState, rest: list[str | int]) -> ParamRow | None:
        """The row a path inside a tool's parameters points into (the deepest one named)."""
        if rest[:3] != ["function", "parameters", "properties"] or len(rest) < 4:
            return None
        rows, found, position = tool.params, None, 3
        while position < len(rest):
            name = rest[position]
            match = next((r for r in rows if r.name == name and not r.blank), None)
            if match is None:
                break
            found = match
            tail = rest[position + 1 :]
            if tail[:1] == ["properties"]:
                rows, position = match.fields, position + 2
            elif tail[:2] == ["items", "properties"]:
                rows, position = match.fields, position + 3
            else:
                break
        return found

    @property
    def has_errors(self) -> bool:
        return bool(self.form_errors) or any(t.has_errors for t in self.tools)

    def tool_label(self, i: int) -> str:
        """A tool as the page names it: "Tools > #2 (look_up_order)"."""
        name = self.tools[i].summary_name
        return f"{self.label} > #{i + 1}" + (f" ({name})" if name else "")

    def issues(self) -> list[Issue]:
        """Every problem of this list, for the page's summary and the section menu."""
        found = [Issue(self.section, self.prefix, self.label, m) for m in self.form_errors]
        for i, tool in enumerate(self.tools):
            where = self.tool_label(i)
            found += [Issue(self.section, tool.key, where, m) for m in tool.errors]
            for part, label in (("name", "Tool name"), ("description", "Description")):
                for message in tool.field_errors.get(part, []):
                    target, label = f"{tool.key}-{part}", f"{where} > {label}"
                    found.append(Issue(self.section, target, label, message))
            for message in tool.field_errors.get("json", []):
                found.append(Issue(self.section, f"{tool.key}-json", f"{where} (JSON)", message))
            for row in _iter_rows(tool.params):
                label = f"{where} > {row.label}"
                found += [Issue(self.section, f"{row.key}-name", label, m) for m in row.errors]
        return found

    @property
    def form_lines(self) -> list[str]:
        return [f"{self.label}: {m}" for m in self.form_errors]

    def error_slots(self) -> Iterator[tuple[str, list[str]]]:
        """(slot id, lines) of every message slot this editor has on the page: the live preview
        refreshes them all, so a fixed problem's message goes away."""
        yield f"err-{self.prefix}", self.form_lines
        for tool in self.tools:
            yield f"err-{tool.key}", tool.errors
            if tool.mode == "rows":
                yield f"err-{tool.key}-name", tool.name_lines
                yield f"err-{tool.key}-description", tool.description_lines
                for row in _iter_rows(tool.params):
                    yield f"err-{row.key}", row.lines
            elif tool.mode == "json":
                yield f"err-{tool.key}-json", tool.json_lines


class KeyValueRows:
    """Key/value rows (LLM headers, extra request fields). Secret values are write-only."""

    def __init__(
        self,
        *,
        prefix: str,
        label: str,
        base: JSON,
        data: Mapping[str, Any] | None = None,
        secret_values: bool = False,
        skip_keys: tuple[str, ...] = (),
        help_text: str = "",
        section: str = "",
    ) -> None:
        self.prefix, self.label, self.help_text = prefix, label, help_text
        self.secret_values, self.skip_keys, self.section = secret_values, skip_keys, section
        self.base: JSONObject = base if isinstance(base, dict) else {}  # read-only
        self.errors: list[str] = []
        self.focus_row: int | None = None
        if data is not None and f"{prefix}-present" in data:
            getlist = data.getlist  # type: ignore[attr-defined]
            keys, values, origs = (
                getlist(f"{prefix}-key"),
                getlist(f"{prefix}-value"),
                getlist(f"{prefix}-orig"),
            )
            self.rows = [(k.strip(), v, o) for k, v, o in zip(keys, values, origs, strict=False)]
        else:
            self.rows = [
                (k, "" if secret_values else self._show(v), k)
                for k, v in self.base.items()
                if k not in skip_keys
            ]

    @staticmethod
    def _show(value: JSON) -> str:
        return value if isinstance(value, str) else json.dumps(value)

    def issues(self) -> list[Issue]:
        return [Issue(self.section, self.prefix, self.label, m) for m in self.errors]

    @property
    def lines(self) -> list[str]:
        return [f"{self.label}: {m}" for m in self.errors]

    def error_slots(self) -> Iterator[tuple[str, list[str]]]:
        yield f"err-{self.prefix}", self.lines

    @property
    def typed_secrets(self) -> bool:
        """Secret values were typed: a page rendered again cannot show them (write-only)."""
        return self.secret_values and any(text for _, text, _ in self.rows)

    def handle(self, action: str) -> Handled | None:
        if action == f"{self.prefix}:add":
            self.rows.append(("", "", ""))
            self.focus_row = len(self.rows) - 1
            return Handled("kv-row", self, len(self.rows) - 1)
        if action.startswith(f"{self.prefix}:remove:"):
            index = action.rsplit(":", 1)[1]
            if index.isdigit() and int(index) < len(self.rows):
                del self.rows[int(index)]
                self.focus_row = int(index) if int(index) < len(self.rows) else None
            return Handled("kv-removed", self)
        return None

    def value(self) -> JSONObject:
        """The edited object from the rows (keys in skip_keys are the caller's to add)."""
        result: JSONObject = {}
        seen: set[str] = set()
        self.errors = []
        for key, text, orig in self.rows:
            if not key and not text:
                continue
            if not key:
                self.errors.append("Every row needs a name.")
                continue
            if key in seen:
                self.errors.append(f"“{key}” appears twice.")
                continue
            seen.add(key)
            old = self.base.get(orig) if orig else None
            if self.secret_values:
                if text and text != SECRET_MARKER:
                    result[key] = text
                elif orig in self.base:
                    result[key] = old
                else:
                    self.errors.append(f"Enter a value for “{key}”.")
                continue
            if orig in self.base and text == self._show(old):
                result[key] = old
                continue
            try:
                result[key] = loads_checked(text) if text.strip() else ""
            except ValueError:
                result[key] = text
        return result
