"""Editors that Django forms model poorly: function tools and key/value rows.

Both read the posted data directly (a persona can have hundreds of tools; building a Django form per
parameter row would make every keystroke's preview slow). A tool that is not being edited travels as
one hidden JSON field and comes back exactly as it was. An open tool is edited as rows (name, type,
description, enum values, required) or as JSON, and the two round-trip. Actions (add, remove, move,
open, switch mode) come from a submit button named `editor_action`, so everything works without JS.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..persona.jsontypes import JSON, JSONObject, clone
from ..persona.redaction import SECRET_MARKER
from ..persona.safety import UnsafeJSON, loads_checked

PARAM_TYPES = ("string", "number", "integer", "boolean", "array", "object")
_ROW_KEYS = {"type", "description", "enum"}


@dataclass
class ParamRow:
    name: str = ""
    type: str = "string"
    description: str = ""
    enum: str = ""
    required: bool = False


def _json_error(exc: ValueError) -> str:
    """What is wrong with JSON text a person typed, in their words."""
    return str(exc) if isinstance(exc, UnsafeJSON) else f"This is not valid JSON ({exc})."


def _rows_from_parameters(parameters: JSON) -> list[ParamRow] | None:
    """Rows for a parameters schema, or None when rows cannot show it faithfully."""
    if parameters is None:
        return []
    if not isinstance(parameters, dict) or set(parameters) - {"type", "properties", "required"}:
        return None
    if parameters.get("type") != "object":
        return None
    properties = parameters.get("properties", {})
    required = parameters.get("required", [])
    if not isinstance(properties, dict) or not isinstance(required, list):
        return None
    rows: list[ParamRow] = []
    for name, prop in properties.items():
        if not isinstance(prop, dict) or set(prop) - _ROW_KEYS:
            return None
        kind, description, enum = (
            prop.get("type", "string"),
            prop.get("description", ""),
            prop.get("enum"),
        )
        if kind not in PARAM_TYPES or not isinstance(description, str):
            return None
        if enum is not None and not (
            isinstance(enum, list) and all(isinstance(e, str) and "," not in e for e in enum)
        ):
            return None
        rows.append(ParamRow(name, kind, description, ", ".join(enum or []), name in required))
    if any(r not in properties for r in required):
        return None
    return rows


def _parameters_from_rows(rows: list[ParamRow], base: JSON) -> JSONObject:
    base_props = base.get("properties", {}) if isinstance(base, dict) else {}
    properties: JSONObject = {}
    for row in rows:
        prop: JSONObject = {"type": row.type}
        if row.description:
            prop["description"] = row.description
        enum = [e.strip() for e in row.enum.split(",") if e.strip()]
        if enum:
            prop["enum"] = enum  # type: ignore[assignment]
        old = base_props.get(row.name) if isinstance(base_props, dict) else None
        properties[row.name] = old if old == prop else prop
    parameters: JSONObject = {"type": "object", "properties": properties}
    required = [r.name for r in rows if r.required]
    if required or (isinstance(base, dict) and "required" in base):
        parameters["required"] = required  # type: ignore[assignment]
    return parameters


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
    params: list[ParamRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

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

    def text(self) -> str:
        """The tool as JSON text (for the JSON editor)."""
        return _dump(self.value) if self.value is not None else self.json_text


def _dump(tool: JSON) -> str:
    return json.dumps(tool, indent=2, ensure_ascii=False)


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
    ) -> None:
        self.prefix, self.label, self.help_text = prefix, label, help_text
        self.base_present = base_tools is not None
        self.base: list[JSON] = base_tools if isinstance(base_tools, list) else []  # read-only
        self.form_errors: list[str] = []
        if data is not None and f"{prefix}-count" in data:
            self.tools = self._parse(data)
        else:
            self.tools = [
                ToolState(orig=i, mode="collapsed", value=t) for i, t in enumerate(self.base)
            ]

    @property
    def folded_key(self) -> str:
        """A name for the exact markup of this editor's tool list when every tool is folded (a
        hash of what each folded tool shows), for the template's fragment cache; "" when a
        tool is open, which is rendered afresh. A large persona's edit page renders hundreds
        of folded tools, the same ones view after view."""
        if any(tool.mode != "collapsed" for tool in self.tools):
            return ""
        shown = [
            (tool.orig, tool.json_text if tool.value is None else tool.value, tool.errors)
            for tool in self.tools
        ]
        text = json.dumps([self.prefix, shown], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    # -- reading what was posted ---------------------------------------------------------------
    def _parse(self, data: Mapping[str, Any]) -> list[ToolState]:
        p = self.prefix
        try:
            count = int(data.get(f"{p}-count", 0))
        except ValueError:
            count = 0
        tools: list[ToolState] = []
        for i in range(min(count, 2000)):
            key = f"{p}-{i}"
            orig_raw = data.get(f"{key}-orig", "")
            orig = (
                int(orig_raw)
                if str(orig_raw).isdigit() and int(orig_raw) < len(self.base)
                else None
            )
            mode = data.get(f"{key}-mode", "collapsed")
            if mode == "rows":
                params = []
                try:
                    pcount = int(data.get(f"{key}-pcount", 0))
                except ValueError:
                    pcount = 0
                for j in range(min(pcount, 500)):
                    pk = f"{key}-p{j}"
                    params.append(
                        ParamRow(
                            name=str(data.get(f"{pk}-name", "")).strip(),
                            type=str(data.get(f"{pk}-type", "string")),
                            description=str(data.get(f"{pk}-description", "")),
                            enum=str(data.get(f"{pk}-enum", "")),
                            required=data.get(f"{pk}-required") in ("on", "true", "1"),
                        )
                    )
                tools.append(
                    ToolState(
                        orig=orig,
                        mode="rows",
                        name=str(data.get(f"{key}-name", "")).strip(),
                        description=str(data.get(f"{key}-description", "")),
                        params=params,
                    )
                )
            elif mode == "collapsed" and f"{key}-json" not in data and orig is not None:
                tools.append(ToolState(orig=orig, mode="collapsed", value=self.base[orig]))
            else:
                tools.append(
                    ToolState(
                        orig=orig,
                        mode="json" if mode == "json" else "collapsed",
                        json_text=str(data.get(f"{key}-json", "")),
                    )
                )
        return tools

    # -- actions -------------------------------------------------------------------------------
    def handle(self, action: str) -> bool:
        """Apply an editor action meant for this editor; True when it was one."""
        if not action.startswith(self.prefix + ":"):
            return False
        parts = action[len(self.prefix) + 1 :].split(":")
        if parts == ["add"]:
            self.tools.append(ToolState(orig=None, mode="rows", params=[ParamRow()]))
            return True
        if not parts[0].isdigit() or int(parts[0]) >= len(self.tools):
            return True
        i, verb = int(parts[0]), parts[1] if len(parts) > 1 else ""
        tool = self.tools[i]
        if verb == "remove":
            del self.tools[i]
        elif verb == "up" and i > 0:
            self.tools[i - 1], self.tools[i] = tool, self.tools[i - 1]
        elif verb == "down" and i + 1 < len(self.tools):
            self.tools[i + 1], self.tools[i] = tool, self.tools[i + 1]
        elif verb in {"edit", "rows"}:
            self._to_rows(tool)
        elif verb == "json":
            self._to_json(tool)
        elif verb == "collapse":
            self._to_json(tool)
            if not tool.errors:
                tool.mode = "collapsed"
        elif verb == "addparam" and tool.mode == "rows":
            tool.params.append(ParamRow())
        elif (
            verb.startswith("p") and verb[1:].isdigit() and len(parts) > 2 and parts[2] == "remove"
        ):
            j = int(verb[1:])
            if tool.mode == "rows" and j < len(tool.params):
                del tool.params[j]
        return True

    def _to_rows(self, tool: ToolState) -> None:
        if tool.mode == "rows":
            return
        try:
            value = tool.value if tool.value is not None else loads_checked(tool.json_text)
        except ValueError as exc:
            tool.mode, tool.errors = "json", [f"{_json_error(exc)} Fix it first."]
            return
        function = value.get("function") if isinstance(value, dict) else None
        rows = (
            _rows_from_parameters(function.get("parameters"))
            if isinstance(function, dict)
            else None
        )
        if (
            rows is None
            or not isinstance(function, dict)
            or set(value) - {"type", "function"}
            or set(function) - {"name", "description", "parameters"}
        ):
            tool.mode = "json"
            tool.errors = [
                "This tool uses settings the rows cannot show (nested or advanced JSON Schema); "
                "edit it as JSON so nothing is lost."
            ]
            return
        tool.mode, tool.errors, tool.value = "rows", [], None
        tool.name = str(function.get("name", ""))
        tool.description = str(function.get("description", ""))
        tool.params = rows

    def _to_json(self, tool: ToolState) -> None:
        if tool.mode != "rows":
            if tool.mode == "collapsed":
                tool.json_text, tool.value, tool.mode = tool.text(), None, "json"
            return
        built = self._build(tool)
        if built is not None:
            tool.mode, tool.json_text = "json", _dump(built)

    # -- building the tool list ------------------------------------------------------------------
    def _build(self, tool: ToolState) -> JSONObject | None:
        if tool.mode != "rows":
            if tool.value is not None:
                return tool.value  # type: ignore[return-value]
            try:
                value = loads_checked(tool.json_text)
            except ValueError as exc:
                tool.errors.append(_json_error(exc))
                return None
            if not isinstance(value, dict):
                tool.errors.append("A tool must be a JSON object.")
                return None
            return value
        names = [p.name for p in tool.params]
        for p in tool.params:
            if not p.name:
                tool.errors.append("Every parameter needs a name.")
            elif names.count(p.name) > 1:
                tool.errors.append(f"The parameter name “{p.name}” is used twice.")
            if p.type not in PARAM_TYPES:
                tool.errors.append(f"“{p.type}” is not a parameter type.")
        base = self.base[tool.orig] if tool.orig is not None else None
        if isinstance(base, dict):
            base_function = base.get("function") if isinstance(base.get("function"), dict) else {}
            unchanged = (
                str(base_function.get("name", "")) == tool.name
                and str(base_function.get("description", "")) == tool.description
                and _rows_from_parameters(base_function.get("parameters")) == tool.params
            )
            if unchanged:
                return base  # unchanged: the original object, exactly
            result = clone(base)
        else:
            result = {"type": "function", "function": {}}
            base_function = {}
        function = result.setdefault("function", {})
        function["name"] = tool.name
        if tool.description or "description" in base_function:
            function["description"] = tool.description
        if tool.params or "parameters" in base_function:
            function["parameters"] = _parameters_from_rows(
                tool.params, base_function.get("parameters")
            )
        return result

    def value(self) -> list[JSON] | None:
        """The edited list, or None when some tool cannot be read (errors are on the tools)."""
        built = [self._build(t) for t in self.tools]
        if any(b is None for b in built) or any(t.errors for t in self.tools):
            return None
        return built  # type: ignore[return-value]

    def attach_problems(self, problems: dict[tuple[str | int, ...], list[str]]) -> None:
        """Place schema problems (paths relative to this list) on the tool they concern."""
        for path, messages in problems.items():
            if path and isinstance(path[0], int) and path[0] < len(self.tools):
                where = ".".join(str(p) for p in path[1:] if p != "function")
                self.tools[path[0]].errors += [f"{where}: {m}" if where else m for m in messages]
            else:
                self.form_errors += messages

    @property
    def has_errors(self) -> bool:
        return bool(self.form_errors) or any(t.errors for t in self.tools)


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
    ) -> None:
        self.prefix, self.label, self.help_text = prefix, label, help_text
        self.secret_values, self.skip_keys = secret_values, skip_keys
        self.base: JSONObject = base if isinstance(base, dict) else {}  # read-only
        self.errors: list[str] = []
        self.extra_rows = 0
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

    def handle(self, action: str) -> bool:
        if action == f"{self.prefix}:add":
            self.rows.append(("", "", ""))
            return True
        if action.startswith(f"{self.prefix}:remove:"):
            index = action.rsplit(":", 1)[1]
            if index.isdigit() and int(index) < len(self.rows):
                del self.rows[int(index)]
            return True
        return False

    def value(self) -> JSONObject:
        """The edited object from the rows (keys in skip_keys are the caller's to add)."""
        result: JSONObject = {}
        seen: set[str] = set()
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
