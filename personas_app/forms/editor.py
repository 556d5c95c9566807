"""The whole persona editor: every layer form, the tools editors and the key/value rows, composed
into one persona document, with schema problems placed next to the fields they concern.

Used by the create and edit pages and their live previews. The editor starts from a document (the
live persona, a template, a duplicate or imported JSON) and only ever changes what the user changed.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from ..editor import problems_by_prefix
from ..persona.checks import persona_warnings
from ..persona.jsontypes import JSONObject
from ..persona.legacy import legacy_fields
from ..persona.schema import Problem, persona_problems
from .layers import (
    ConversationalFlowForm,
    IdentityForm,
    LayerForm,
    LlmForm,
    PerceptionForm,
    SttForm,
    TtsForm,
)
from .tools import KeyValueRows, ToolsEditor

_TOOL_LISTS = (
    (
        "llm",
        "tools",
        "Tools",
        "Functions the model may call; your app receives the calls as events.",
    ),
    (
        "perception",
        "visual_tools",
        "Visual tools",
        "Functions Raven may call when it sees something (names in snake_case).",
    ),
    (
        "perception",
        "audio_tools",
        "Audio tools (raven-1)",
        "Functions Raven-1 may call based on how the user sounds.",
    ),
)


def _layer(doc: JSONObject, key: str) -> Any:
    layers = doc.get("layers")
    return layers.get(key) if isinstance(layers, dict) else None


class PersonaEditor:
    """All forms of one persona document, bound or not."""

    def __init__(
        self,
        start: JSONObject,
        data: Mapping[str, Any] | None = None,
        *,
        start_name: Hashable | None = None,
    ) -> None:
        self.start = start  # read-only: forms copy only what they change
        # Stands for start's exact content (the state token it came from), if the caller has one.
        self.start_name = start_name
        self.bound = data is not None
        self.identity = IdentityForm.from_document(self.start, data)
        self.layer_forms: list[LayerForm] = [
            cls.from_document(self.start, data)
            for cls in (LlmForm, TtsForm, SttForm, PerceptionForm, ConversationalFlowForm)
        ]
        llm = _layer(self.start, "llm") or {}
        self.headers = KeyValueRows(
            prefix="llm-headers",
            label="Headers",
            base=llm.get("headers") if isinstance(llm, dict) else None,
            data=data,
            secret_values=True,
            help_text="Extra HTTP headers for your custom endpoint (e.g. Authorization). "
            "Values are write-only.",
        )
        self.extra_body = KeyValueRows(
            prefix="llm-extra_body",
            label="Other request settings",
            base=llm.get("extra_body") if isinstance(llm, dict) else None,
            data=data,
            skip_keys=("temperature", "top_p"),
            help_text="Anything else your model provider accepts, e.g. frequency_penalty = 0.2. "
            "Numbers and true/false are sent as such.",
        )
        self.tools: dict[str, ToolsEditor] = {}
        for layer_key, list_key, label, help_text in _TOOL_LISTS:
            layer = _layer(self.start, layer_key)
            self.tools[f"{layer_key}.{list_key}"] = ToolsEditor(
                prefix=f"{layer_key}-{list_key}",
                label=label,
                base_tools=layer.get(list_key) if isinstance(layer, dict) else None,
                data=data,
                help_text=help_text,
            )
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.other_problems: list[Problem] = []
        self.document: JSONObject | None = None

    @property
    def forms(self) -> list[LayerForm]:
        return [self.identity, *self.layer_forms]

    def form(self, key: str) -> LayerForm:
        return next(f for f in self.forms if f.key == key)

    @property
    def llm_tools(self) -> ToolsEditor:
        return self.tools["llm.tools"]

    @property
    def visual_tools(self) -> ToolsEditor:
        return self.tools["perception.visual_tools"]

    @property
    def audio_tools(self) -> ToolsEditor:
        return self.tools["perception.audio_tools"]

    def handle_action(self, action: str) -> bool:
        """An add/remove/move/mode button of a tools editor or key/value rows."""
        editors: list[Any] = [*self.tools.values(), self.headers, self.extra_body]
        return any(editor.handle(action) for editor in editors)

    def legacy(self) -> list[str]:
        return legacy_fields(self.start)

    # -- composing --------------------------------------------------------------------------------
    def compose(self) -> JSONObject | None:
        """The edited document, or None when a form cannot be read (errors are on the forms)."""
        valid = all(form.is_valid() for form in self.forms)
        tool_values = {key: editor.value() for key, editor in self.tools.items()}
        headers, extra = self.headers.value(), self.extra_body.value()
        if not valid or any(v is None for v in tool_values.values()):
            return None
        if self.headers.errors or self.extra_body.errors:
            return None
        doc = self.identity.to_fragment()
        if isinstance(doc.get("layers"), dict):
            doc["layers"] = dict(doc["layers"])  # shared with the start document until now
        for form in self.layer_forms:
            fragment = form.to_fragment()
            if form.key == "llm":
                self._merge_llm(fragment, headers, extra)
            for layer_list, values in tool_values.items():
                layer_key, list_key = layer_list.split(".")
                if layer_key == form.key:
                    self._set_list(fragment, form.base, list_key, values or [])
            self._put_layer(doc, form, fragment)
        self.document = doc
        return doc

    def _merge_llm(self, fragment: JSONObject, headers: JSONObject, extra: JSONObject) -> None:
        """Headers and extra_body come from their rows (temperature and top_p from the form)."""
        base_llm = _layer(self.start, "llm")
        base_llm = base_llm if isinstance(base_llm, dict) else {}
        spec_part = fragment.get("extra_body")
        merged = {
            k: v
            for k, v in (spec_part if isinstance(spec_part, dict) else {}).items()
            if k in self.extra_body.skip_keys
        }
        merged.update(extra)
        for key, value in (("headers", headers), ("extra_body", merged)):
            if value or key in base_llm:
                fragment[key] = value
            else:
                fragment.pop(key, None)

    @staticmethod
    def _set_list(fragment: JSONObject, base: JSONObject, key: str, values: list[Any]) -> None:
        if values or key in base:
            fragment[key] = values
        else:
            fragment.pop(key, None)

    @staticmethod
    def _put_layer(doc: JSONObject, form: LayerForm, fragment: JSONObject) -> None:
        layers = doc.get("layers")
        if not fragment and not form.base_present:
            return
        if not isinstance(layers, dict):
            layers = doc["layers"] = {}
        layers[form.key] = fragment

    # -- checking ---------------------------------------------------------------------------------
    def check(self) -> JSONObject | None:
        """Compose, validate with the schema, and place problems next to their fields."""
        doc = self.compose()
        if doc is None:
            return None
        reference = (self.start_name, self.start) if self.start_name is not None else None
        self.problems = persona_problems(doc, reference=reference)
        self.warnings = persona_warnings(doc)
        remaining = list(self.problems)
        for key, editor in self.tools.items():
            layer_key, list_key = key.split(".")
            inside, remaining = problems_by_prefix(remaining, ("layers", layer_key, list_key))
            editor.attach_problems(inside)
        for form in self.layer_forms:
            inside, remaining = problems_by_prefix(remaining, ("layers", form.key))
            remaining += self._attach(form, inside)
        top = [p for p in remaining if p.path and p.path[0] != "layers"]
        inside, _ = problems_by_prefix(top, ())
        leftover = self._attach(self.identity, inside)
        self.other_problems = [p for p in remaining if p not in top] + leftover
        return doc

    @staticmethod
    def _attach(form: LayerForm, problems: dict[tuple[str | int, ...], list[str]]) -> list[Problem]:
        unplaced: list[Problem] = []
        for path, messages in problems.items():
            name = "__".join(str(p) for p in path)
            while name and name not in form.fields:
                name = name.rpartition("__")[0]
            for message in messages:
                if name:
                    form.add_error(name, message)
                else:
                    unplaced.append(Problem(form.pointer + path, message))
        return unplaced

    @property
    def has_errors(self) -> bool:
        return (
            any(f.errors for f in self.forms)
            or any(t.has_errors for t in self.tools.values())
            or bool(self.headers.errors or self.extra_body.errors or self.other_problems)
        )
