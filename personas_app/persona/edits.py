"""One edit, described once, applied to many personas (a change set).

An edit is a list of steps, each a small dict, JSON Patch-like but meant for people:

    {"op": "set", "path": "/layers/tts/tts_engine", "value": "cartesia"}   set a field (parents made)
    {"op": "remove", "path": "/layers/llm/speculative_inference"}          remove a field if present
    {"op": "add_item", "path": "/layers/stt/hotwords", "value": "Acme"}   add an item if absent
    {"op": "remove_item", "path": "/layers/llm/tools", "value": "get_weather"}   remove an item
    {"op": "replace_tool", "name": "get_weather", "value": {...}}          replace a tool by name

add_item/remove_item work on lists (a tool is matched by its function name: the value may be the
tool or just its name) and on comma-separated text such as hotwords ("Acme, Tavus"). A step that
finds nothing to do (the field already holds the value, the item is already there or absent, no
tool of that name) changes nothing, so a persona can come out of an edit unchanged.

Pure module: standard library and this package's pure modules only; never mutates its input.
"""

from __future__ import annotations

from .jsontypes import JSON, JSONObject, clone, from_pointer, lookup, set_at
from .payloads import READ_ONLY_FIELDS

__all__ = ["EDIT_OPS", "TOOLS_POINTER", "apply_edit", "edit_problems"]

EDIT_OPS = frozenset({"set", "remove", "add_item", "remove_item", "replace_tool"})
TOOLS_POINTER = "/layers/llm/tools"
# Settings that hold their items as comma-separated text (every other list is a JSON array).
TEXT_LISTS = frozenset({"/layers/stt/hotwords"})


def _tool_name(item: JSON) -> str | None:
    if isinstance(item, dict):
        function = item.get("function")
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            return str(function["name"])
    return None


def edit_problems(edit: JSON) -> list[str]:
    """What is wrong with the shape of an edit, in plain words ([] when it can be applied)."""
    if not isinstance(edit, list) or not edit:
        return ["An edit is a non-empty list of steps."]
    problems: list[str] = []
    for number, step in enumerate(edit, start=1):
        where = f"Step {number}"
        if not isinstance(step, dict) or step.get("op") not in EDIT_OPS:
            problems.append(f"{where}: “op” must be one of {', '.join(sorted(EDIT_OPS))}.")
            continue
        op = step["op"]
        path = step.get("path", TOOLS_POINTER if op == "replace_tool" else None)
        if not isinstance(path, str) or not path.startswith("/") or path == "/":
            problems.append(f"{where}: “path” must be a JSON pointer such as /layers/llm/model.")
            continue
        if from_pointer(path)[0] in READ_ONLY_FIELDS:
            problems.append(f"{where}: {from_pointer(path)[0]} is set by Tavus and cannot change.")
        if op != "remove" and "value" not in step:
            problems.append(f"{where}: “value” is missing.")
        if op == "replace_tool":
            name = step.get("name")
            if not isinstance(name, str) or not name:
                problems.append(f"{where}: “name” must name the tool to replace.")
            elif _tool_name(step.get("value")) is None:
                problems.append(f"{where}: “value” must be a tool with a function name.")
    return problems


def _words(text: str) -> list[str]:
    return [word.strip() for word in text.split(",") if word.strip()]


def _same_item(item: JSON, value: JSON) -> bool:
    name = _tool_name(item)
    if name is not None and (value == name or _tool_name(value) == name):
        return True
    return item == value


def _add_item(doc: JSONObject, path: str, value: JSON) -> None:
    found, current = lookup(doc, from_pointer(path))
    if not found or current is None:
        text = isinstance(value, str) and path in TEXT_LISTS
        set_at(doc, path, value.strip() if text and isinstance(value, str) else [clone(value)])
    elif isinstance(current, str) and isinstance(value, str):
        words = _words(current)
        if value.strip() not in words:
            set_at(doc, path, ", ".join([*words, value.strip()]))
    elif isinstance(current, list) and not any(_same_item(item, value) for item in current):
        current.append(clone(value))


def _remove_item(doc: JSONObject, path: str, value: JSON) -> None:
    found, current = lookup(doc, from_pointer(path))
    if not found:
        return
    if isinstance(current, str) and isinstance(value, str):
        words = _words(current)
        if value.strip() in words:
            set_at(doc, path, ", ".join(w for w in words if w != value.strip()))
    elif isinstance(current, list):
        kept = [item for item in current if not _same_item(item, value)]
        if len(kept) != len(current):
            set_at(doc, path, kept)


def _remove(doc: JSONObject, path: str) -> None:
    segments = from_pointer(path)
    found, parent = lookup(doc, segments[:-1])
    if found and isinstance(parent, dict):
        parent.pop(segments[-1], None)


def _replace_tool(doc: JSONObject, path: str, name: str, value: JSON) -> None:
    found, tools = lookup(doc, from_pointer(path))
    if found and isinstance(tools, list):
        for index, tool in enumerate(tools):
            if _tool_name(tool) == name:
                tools[index] = clone(value)


def apply_edit(doc: JSONObject, edit: list[JSONObject]) -> JSONObject:
    """A new document: `doc` with every step of `edit` applied in order (see the module doc).

    The edit must be free of problems (edit_problems); a step that finds nothing to do is skipped.
    """
    result = clone(doc)
    assert isinstance(result, dict)
    for step in edit:
        op = step["op"]
        path = str(step.get("path", TOOLS_POINTER))
        value = step.get("value")
        if op == "set":
            found, current = lookup(result, from_pointer(path))
            if not found or current != value:
                set_at(result, path, clone(value))
        elif op == "remove":
            _remove(result, path)
        elif op == "add_item":
            _add_item(result, path, value)
        elif op == "remove_item":
            _remove_item(result, path, value)
        elif op == "replace_tool":
            _replace_tool(result, path, str(step["name"]), value)
    return result
