"""Forms of the change-set pages: one step of an edit, in plain words (no JSON but for a tool).

A step form turns what a person chose ("Set a field: Voice › Voice engine = cartesia", "Add a
hotword: Sparrow", "Replace the tool get_weather with ...") into one step of the edit language of
persona/edits.py. The fields it offers, their labels and help are the editor's own (forms/layers.py
and persona/glossary.py). Secrets are not offered: a change set never asks for a key.
Shape only: whether Tavus accepts the result is judged on the preview (schema.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django import forms

from ..persona.edits import TOOLS_POINTER
from ..persona.glossary import explain
from ..persona.jsontypes import JSON, JSONObject, to_pointer
from ..persona.safety import UnsafeJSON, loads_checked
from .layers import LAYER_FORMS, Spec, from_form_value

MAX_STEPS = 20


@dataclass(frozen=True)
class Field:
    """A setting a step can change: where it lives, its name and what it is."""

    pointer: str
    section: str
    spec: Spec

    @property
    def label(self) -> str:
        return f"{self.section} › {self.spec.label}"

    @property
    def help(self) -> str:
        return explain(self.pointer) or self.spec.help

    @property
    def allowed(self) -> list[str]:
        """The values a choice accepts, in words ("" when any text is fine)."""
        if self.spec.kind == "tristate":
            return ["on", "off"]
        return [value for value, _ in self.spec.choices if value]


def _fields() -> list[Field]:
    fields = []
    for form in LAYER_FORMS:
        for spec in form.SPECS:
            if spec.kind != "secret":
                fields.append(Field(to_pointer([*form.pointer, *spec.path]), form.title, spec))
    return fields


FIELDS: dict[str, Field] = {f.pointer: f for f in _fields()}
# Settings holding several items: lists, and comma-separated text such as STT hotwords.
LIST_FIELDS: dict[str, Field] = {
    f.pointer: f
    for f in FIELDS.values()
    if f.spec.kind in {"lines", "list"} or f.pointer == "/layers/stt/hotwords"
}


def _grouped(fields: dict[str, Field]) -> list[Any]:
    groups: dict[str, list[tuple[str, str]]] = {}
    for f in fields.values():
        groups.setdefault(f.section, []).append((f.pointer, f.spec.label))
    return [("", "Choose a setting…"), *groups.items()]


ACTIONS = (
    ("set", "Set a field"),
    ("remove", "Remove a field (back to Tavus's default)"),
    ("add_item", "Add an item to a list (a hotword, a document…)"),
    ("remove_item", "Remove an item from a list"),
    ("add_tool", "Add an LLM tool"),
    ("remove_tool", "Remove an LLM tool"),
    ("replace_tool", "Replace an LLM tool"),
)
_TRUE, _FALSE = {"on", "true", "yes", "1"}, {"off", "false", "no", "0"}
_TOOL_EXAMPLE = '{"type": "function", "function": {"name": "get_weather", "description": "…"}}'


def _tool(text: str) -> JSONObject:
    """A tool typed as JSON, or ValidationError saying in plain words what is wrong."""
    try:
        tool = loads_checked(text)
    except UnsafeJSON as exc:
        raise forms.ValidationError(str(exc)) from exc
    except ValueError as exc:
        raise forms.ValidationError(
            f"This is not valid JSON ({exc}). A tool looks like {_TOOL_EXAMPLE}"
        ) from exc
    function = tool.get("function") if isinstance(tool, dict) else None
    if not isinstance(function, dict) or not str(function.get("name") or "").strip():
        raise forms.ValidationError(
            f"A tool is an object with a function and its name, like {_TOOL_EXAMPLE}"
        )
    assert isinstance(tool, dict)
    return tool


class StepForm(forms.Form):
    """One step of an edit. Which fields count depends on the action chosen."""

    action = forms.ChoiceField(
        label="What to do",
        choices=[("", "Choose…"), *ACTIONS],
        initial="set",
        error_messages={"required": "Choose what this step does (or remove the step)."},
    )
    field = forms.ChoiceField(label="Setting", choices=_grouped(FIELDS), required=False)
    value = forms.CharField(
        label="New value",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Lists: one item per line (ids and tags: comma-separated). "
        "On/off settings: on or off.",
    )
    list_field = forms.ChoiceField(label="List", choices=_grouped(LIST_FIELDS), required=False)
    item = forms.CharField(label="Item", required=False, help_text="e.g. a hotword: Sparrow")
    tool_name = forms.CharField(
        label="Tool name", required=False, help_text="The tool's function name, e.g. get_weather."
    )
    tool = forms.CharField(
        label="Tool (JSON)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text=f"The whole tool, as in the Tavus docs: {_TOOL_EXAMPLE}",
    )

    @property
    def chosen_field(self) -> Field | None:
        pointer = self["field"].value()
        return FIELDS.get(pointer) if isinstance(pointer, str) else None

    def _need(self, name: str, message: str) -> Any:
        value = self.cleaned_data.get(name)
        if value in ("", None) or (isinstance(value, str) and not value.strip()):
            self.add_error(name, message)
            return None
        return value

    def _set_value(self, field: Field, text: str) -> JSON:
        spec = field.spec
        text = text.replace("\r\n", "\n")
        if spec.kind == "tristate":
            word = text.strip().lower()
            if word not in _TRUE | _FALSE:
                raise forms.ValidationError("Type on or off.")
            return word in _TRUE
        if spec.kind == "choice":
            allowed = field.allowed
            if text.strip() not in allowed:
                raise forms.ValidationError(f"Use one of: {', '.join(allowed)}.")
            return text.strip()
        if spec.kind == "lines":
            return [line.strip() for line in text.split("\n") if line.strip()]
        if spec.kind == "list":
            return [word.strip() for word in text.split(",") if word.strip()]
        if spec.kind in {"number", "number_or_text"}:
            number = from_form_value(spec, text.strip())
            if number is None:
                raise forms.ValidationError("Enter a number, like 0.7.")
            low, high = spec.minimum, spec.maximum
            if isinstance(number, int | float) and (
                (low is not None and number < low) or (high is not None and number > high)
            ):
                raise forms.ValidationError(f"Use a number from {low:g} to {high:g}.")
            return number
        return text if spec.kind == "textarea" else text.strip()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        action = cleaned.get("action")
        self.step: JSONObject | None = None
        if action in {"set", "remove"}:
            pointer = self._need("field", "Choose the setting to change.")
            if pointer is None:
                return cleaned
            if action == "remove":
                self.step = {"op": "remove", "path": pointer}
                return cleaned
            text = self._need("value", "Type the new value (or choose “Remove a field”).")
            if text is not None:
                try:
                    self.step = {
                        "op": "set",
                        "path": pointer,
                        "value": self._set_value(FIELDS[pointer], text),
                    }
                except forms.ValidationError as exc:
                    self.add_error("value", exc)
        elif action in {"add_item", "remove_item"}:
            pointer = self._need("list_field", "Choose the list.")
            item = self._need("item", "Type the item to add or remove.")
            if pointer is not None and item is not None:
                self.step = {"op": action, "path": pointer, "value": item.strip()}
        elif action in {"remove_tool", "replace_tool"} or action == "add_tool":
            name = (
                self._need("tool_name", "Name the tool (its function name).")
                if action != "add_tool"
                else None
            )
            text = self._need("tool", "Paste the tool as JSON.") if action != "remove_tool" else ""
            tool: JSONObject | None = None
            if text:
                try:
                    tool = _tool(text)
                except forms.ValidationError as exc:
                    self.add_error("tool", exc)
            if action == "remove_tool" and name:
                self.step = {"op": "remove_item", "path": TOOLS_POINTER, "value": name.strip()}
            elif action == "add_tool" and tool is not None:
                self.step = {"op": "add_item", "path": TOOLS_POINTER, "value": tool}
            elif action == "replace_tool" and name and tool is not None:
                self.step = {
                    "op": "replace_tool",
                    "path": TOOLS_POINTER,
                    "name": name.strip(),
                    "value": tool,
                }
        return cleaned


STEP_FIELDS = tuple(StepForm.base_fields)


def step_count(data: Any) -> int:
    """How many steps the posted form holds (1 to MAX_STEPS)."""
    try:
        count = int(data.get("steps", 1))
    except (TypeError, ValueError):
        count = 1
    return max(1, min(MAX_STEPS, count))


def step_values(data: Any, index: int) -> dict[str, str]:
    """What was typed in one step, by field name."""
    return {name: str(data.get(f"step-{index}-{name}", "")) for name in STEP_FIELDS}


def step_forms(
    data: Any, *, add: bool = False, drop: int | None = None, bind: bool = False
) -> list[StepForm]:
    """The steps as posted, with one more (`add`) or one fewer (`drop`); numbered again from 0.

    `bind=False` shows what was typed without judging it (adding or removing a step)."""
    values = [step_values(data, i) for i in range(step_count(data)) if i != drop]
    if add and len(values) < MAX_STEPS:
        values.append({})
    if not values:
        values.append({})
    forms_: list[StepForm] = []
    for index, typed in enumerate(values):
        prefix = f"step-{index}"
        if bind:
            posted = {f"{prefix}-{name}": value for name, value in typed.items()}
            forms_.append(StepForm(posted, prefix=prefix, label_suffix=""))
        else:
            forms_.append(StepForm(initial=typed, prefix=prefix, label_suffix=""))
    return forms_


def edit_summary(edit: list[JSONObject]) -> list[str]:
    """Each step in a sentence, for the change set's page."""
    lines = []
    for step in edit:
        op, path = step.get("op"), str(step.get("path", TOOLS_POINTER))
        field = FIELDS.get(path)
        label = field.label if field is not None else path
        value = step.get("value")
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        if path == TOOLS_POINTER and op == "add_item":
            lines.append(f"Add the LLM tool {_name_of(value)}")
        elif path == TOOLS_POINTER and op == "remove_item":
            lines.append(f"Remove the LLM tool {shown}")
        elif op == "replace_tool":
            lines.append(f"Replace the LLM tool {step.get('name')} with {_name_of(value)}")
        elif op == "set":
            lines.append(f"Set {label} to {shown}")
        elif op == "remove":
            lines.append(f"Remove {label}")
        elif op == "add_item":
            lines.append(f"Add “{shown}” to {label}")
        elif op == "remove_item":
            lines.append(f"Remove “{shown}” from {label}")
    return lines


def _name_of(tool: JSON) -> str:
    function = tool.get("function") if isinstance(tool, dict) else None
    return str(function.get("name")) if isinstance(function, dict) else "(unnamed)"
