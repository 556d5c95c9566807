"""The whole persona editor: every layer form, the tools editors and the key/value rows, composed
into one persona document, with every problem placed next to the control it concerns.

Used by the create and edit pages and their live previews. The editor starts from a document (the
live persona, a template, a duplicate or imported JSON) and only ever changes what the user changed.
Problems come all at once: a field that cannot be read keeps its original value while the rest of
the document is checked against the persona rules, so one preview names every problem.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from typing import Any

from ..editor import SECTIONS_BY_KEY, Issue, problems_by_prefix, section_for
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
from .tools import Handled, KeyValueRows, ToolsEditor

_TOOL_LISTS = (
    (
        "llm",
        "tools",
        "Tools",
        "Things the persona can ask your app to do (look up an order, book a meeting). Your app "
        "receives each call as an event; Tavus does not run them.",
    ),
    (
        "perception",
        "visual_tools",
        "Visual tools",
        "Things Raven may ask your app to do when it sees something (for example when an ID card "
        "is shown).",
    ),
    (
        "perception",
        "audio_tools",
        "Audio tools (raven-1)",
        "Things Raven-1 may ask your app to do based on how the user sounds.",
    ),
)

# Identity fields shown in other sections of the page, and the picker that replaces each one
# once it has loaded (a link to the field goes to the picker).
_IDENTITY_SECTIONS = {
    "document_ids": "knowledge",
    "document_tags": "knowledge",
    "objectives_id": "objectives",
    "guardrail_ids": "objectives",
    "guardrail_tags": "objectives",
}
_PICKERS = {
    "default_replica_id": "replica-picker",
    "document_ids": "document-picker",
    "document_tags": "document-picker",
    "objectives_id": "objectives-picker",
    "guardrail_ids": "guardrail-picker",
    "guardrail_tags": "guardrail-picker",
}
_SECTION_ORDER = {key: n for n, key in enumerate(SECTIONS_BY_KEY)}


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
            section="llm",
        )
        self.extra_body = KeyValueRows(
            prefix="llm-extra_body",
            label="Other request settings",
            base=llm.get("extra_body") if isinstance(llm, dict) else None,
            data=data,
            skip_keys=("temperature", "top_p"),
            help_text="Anything else your model provider accepts, e.g. frequency_penalty = 0.2. "
            "Numbers and true/false are sent as such.",
            section="llm",
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
                section=layer_key,
            )
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.other_problems: list[Problem] = []
        self.issues: list[Issue] = []
        # The edited document when every input could be read, else None.
        self.document: JSONObject | None = None
        # The edited document as far as it could be read (unreadable inputs keep their value).
        self.composed: JSONObject | None = None

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

    def handle_action(self, action: str) -> Handled | None:
        """An add/remove/move/mode button of a tools editor or key/value rows (or the voice
        engine's choice): what it changed, so a view can send back just that part."""
        if action in {"refresh", "tts:engine"}:
            return Handled("tts")
        editors: list[ToolsEditor | KeyValueRows] = [
            *self.tools.values(),
            self.headers,
            self.extra_body,
        ]
        for editor in editors:
            handled = editor.handle(action)
            if handled is not None:
                return handled
        return None

    def legacy(self) -> list[str]:
        return legacy_fields(self.start)

    # -- composing --------------------------------------------------------------------------------
    def _compose(self) -> tuple[JSONObject, bool]:
        """(the edited document, True when every input could be read). An unbound editor shows
        its start document exactly, so that is its document."""
        tool_values = {key: editor.built() for key, editor in self.tools.items()}
        headers, extra = self.headers.value(), self.extra_body.value()
        if not self.bound:
            return self.start, True
        complete = all([form.is_valid() for form in self.forms])  # every form checked
        complete = complete and all(ok for _, ok in tool_values.values())
        complete = complete and not (self.headers.errors or self.extra_body.errors)
        doc = self.identity.to_fragment()
        if isinstance(doc.get("layers"), dict):
            doc["layers"] = dict(doc["layers"])  # shared with the start document until now
        for form in self.layer_forms:
            fragment = form.to_fragment()
            if form.key == "llm":
                self._merge_llm(fragment, headers, extra)
            for layer_list, (values, _) in tool_values.items():
                layer_key, list_key = layer_list.split(".")
                if layer_key == form.key:
                    self._set_list(fragment, form.base, list_key, values)
            self._put_layer(doc, form, fragment)
        return doc, complete

    def compose(self) -> JSONObject | None:
        """The edited document, or None when an input cannot be read (errors are on the forms)."""
        doc, complete = self._compose()
        self.composed = doc
        return doc if complete else None

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
        """Compose, validate with the schema, and place every problem next to its control.
        The edited document when nothing is wrong with the inputs, else None."""
        for form in self.forms:
            form.field_problems = {}
        doc, complete = self._compose()
        self.composed = doc
        reference = (self.start_name, self.start) if self.start_name is not None else None
        self.problems = persona_problems(doc, reference=reference)
        self.warnings = persona_warnings(doc)
        remaining = list(self.problems)
        for key, editor in self.tools.items():
            layer_key, list_key = key.split(".")
            inside, remaining = problems_by_prefix(remaining, ("layers", layer_key, list_key))
            editor.attach_problems(inside)
        for rows, name in ((self.headers, "headers"), (self.extra_body, "extra_body")):
            inside, remaining = problems_by_prefix(remaining, ("layers", "llm", name))
            for path, messages in inside.items():
                # extra_body's temperature and top_p are fields of the language model form.
                if name == "extra_body" and path[0] in rows.skip_keys:
                    remaining += [Problem(("layers", "llm", name, *path), m) for m in messages]
                    continue
                rows.errors += [f"“{path[0]}”: {m}" for m in messages]
        for form in self.layer_forms:
            inside, remaining = problems_by_prefix(remaining, ("layers", form.key))
            remaining += self._attach(form, inside)
        top = [p for p in remaining if p.path and p.path[0] != "layers"]
        inside, _ = problems_by_prefix(top, ())
        leftover = self._attach(self.identity, inside)
        self.other_problems = [p for p in remaining if p not in top] + leftover
        self.issues = self._collect_issues()
        self.document = doc if complete else None
        return self.document

    @staticmethod
    def _attach(form: LayerForm, problems: dict[tuple[str | int, ...], list[str]]) -> list[Problem]:
        unplaced: list[Problem] = []
        for path, messages in problems.items():
            name = "__".join(str(p) for p in path)
            while name and name not in form.fields:
                name = name.rpartition("__")[0]
            for message in messages:
                if name:
                    form.field_problems.setdefault(name, []).append(message)
                else:
                    unplaced.append(Problem(form.pointer + path, message))
        return unplaced

    def _collect_issues(self) -> list[Issue]:
        issues: list[Issue] = []
        for form in self.forms:
            for bound in form:
                problems = bound.problems  # type: ignore[attr-defined]
                if not problems:
                    continue
                if form is self.identity:
                    section = _IDENTITY_SECTIONS.get(bound.name, "identity")
                    target = _PICKERS.get(bound.name, bound.auto_id)
                else:
                    section, target = form.key, bound.auto_id
                issues += [Issue(section, target, str(bound.label), m) for m in problems]
        for editor in self.tools.values():
            issues += editor.issues()
        issues += self.headers.issues() + self.extra_body.issues()
        for problem in self.other_problems:  # no field shows them: counted in their section
            issues.append(Issue(section_for(problem.pointer), "", problem.label, problem.message))
        return sorted(issues, key=lambda issue: _SECTION_ORDER.get(issue.section, 99))

    def error_slots(self) -> Iterator[tuple[str, list[str]]]:
        """(slot id, lines) for every message slot on the page, empty ones included: the live
        preview sends them all, so a message goes away as soon as its problem is fixed."""
        for form in self.forms:
            for bound in form:
                yield bound.slot_id, bound.problem_lines  # type: ignore[attr-defined]
        for editor in self.tools.values():
            yield from editor.error_slots()
        yield from self.headers.error_slots()
        yield from self.extra_body.error_slots()

    @property
    def has_errors(self) -> bool:
        return bool(self.issues)
