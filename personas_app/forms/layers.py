"""One form per persona layer. Field names are the JSON keys they fill ("__" for nesting).

Every form is built from the layer as it was (`base`) and gives back the edited layer with
to_fragment(). The rule that keeps untouched settings untouched: a field whose posted value equals
what the form showed for the original value leaves the original JSON exactly as it was (so
"false" stays a string, unknown keys and legacy fields survive, and an untouched form gives no change).
Persona rules are not here: schema.py and checks.py judge the composed document.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.boundfield import BoundField

from ..persona import glossary
from ..persona.glossary import choices_for
from ..persona.jsontypes import JSON, JSONObject, to_pointer
from ..persona.legacy import UNMAPPED_LEGACY
from ..persona.redaction import SECRET_MARKER
from .widgets import LinesField, ListField, SecretInput

_TRISTATE = [("", "Tavus default"), ("true", "On"), ("false", "Off")]
_LEVELS = [("", "Tavus default"), ("low", "Low"), ("medium", "Medium"), ("high", "High")]


@dataclass(frozen=True)
class Spec:
    """How one form field maps to one JSON value of the layer."""

    name: str  # JSON key; "__" separates nested keys (voice_settings__speed)
    # text | textarea | choice | tristate | number | number_or_text | lines | list | secret;
    # "lines" keep their order, a "list" holds ids or tags whose order means nothing.
    kind: str
    label: str
    help: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    attrs: dict[str, str] = field(default_factory=dict)

    @cached_property
    def path(self) -> tuple[str, ...]:
        # Cached: forms look every path up several times per preview.
        return tuple(self.name.split("__"))


def _get(doc: JSONObject, path: tuple[str, ...]) -> JSON:
    node: JSON = doc
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _has(doc: JSONObject, path: tuple[str, ...]) -> bool:
    node: JSON = doc
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def _set(doc: JSONObject, path: tuple[str, ...], value: JSON) -> None:
    # Nested objects are copied on the way down: `doc` is a shallow copy sharing them with the base.
    node = doc
    for key in path[:-1]:
        child = node.get(key)
        child = dict(child) if isinstance(child, dict) else {}
        node[key] = child
        node = child
    node[path[-1]] = value


def _remove(doc: JSONObject, path: tuple[str, ...]) -> None:
    parents: list[JSONObject] = []
    node = doc
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            return  # nothing there to remove
        node[key] = child = dict(child)  # copy on write, as in _set
        parents.append(node)
        node = child
    node.pop(path[-1], None)
    # A nested object emptied by this removal goes too (it was only there for this value).
    for parent, key in zip(reversed(parents), reversed(path[:-1]), strict=True):
        if parent.get(key) == {}:
            del parent[key]
        else:
            break


def _number_text(value: JSON) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    return str(value)


def to_form_value(spec: Spec, value: JSON) -> Any:
    """What the form shows for a JSON value."""
    if value is None:
        return [] if spec.kind in {"lines", "list"} else ""
    if spec.kind == "tristate":
        if value is True or (isinstance(value, str) and value.lower() == "true"):
            return "true"
        if value is False or (isinstance(value, str) and value.lower() == "false"):
            return "false"
        return ""
    if spec.kind in {"lines", "list"}:
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]
    if spec.kind in {"number", "number_or_text"}:
        return _number_text(value)
    if spec.kind == "secret":
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def _parse_number(text: str) -> int | float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    if number.is_integer() and "." not in text and "e" not in text.lower():
        return int(number)
    return number


def from_form_value(spec: Spec, cleaned: Any) -> JSON:
    """The JSON value for what the user typed (assumes it is not empty)."""
    if spec.kind == "tristate":
        return cleaned == "true"
    if spec.kind == "number":
        return _parse_number(cleaned)
    if spec.kind == "number_or_text":
        number = _parse_number(cleaned)
        return number if number is not None else cleaned
    return cleaned


def _is_empty(value: Any) -> bool:
    return value in ("", None, [])


def _explain_choices(field: forms.Field, pointer: str) -> None:
    """Each known choice of a select says in one line what it is (persona.glossary)."""
    if not isinstance(field, forms.ChoiceField):
        return
    known = {choice.value: choice for choice in choices_for(pointer)}
    if known:
        field.choices = [
            (value, f"{label} — {known[value].help}" if value in known else label)
            for value, label in field.choices
        ]


def _make_field(spec: Spec, choices_extra: JSON) -> forms.Field:
    common: dict[str, Any] = {"label": spec.label, "help_text": spec.help, "required": False}
    if spec.kind == "textarea":
        return forms.CharField(
            widget=forms.Textarea(attrs={"rows": 6, **spec.attrs}), strip=False, **common
        )
    if spec.kind in {"choice", "tristate"}:
        choices = list(_TRISTATE if spec.kind == "tristate" else spec.choices)
        # A value Tavus sent that the form does not know stays choosable, so it survives a save.
        unknown = isinstance(choices_extra, str) and choices_extra not in {c for c, _ in choices}
        if spec.kind == "choice" and choices_extra and unknown:
            choices.append((choices_extra, f"{choices_extra} (as set on this persona)"))
        return forms.ChoiceField(choices=choices, widget=forms.Select(attrs=spec.attrs), **common)
    if spec.kind == "lines":
        return LinesField(strip=False, **common)
    if spec.kind == "list":
        return ListField(**common)
    if spec.kind == "secret":
        return forms.CharField(widget=SecretInput(), strip=True, **common)
    return forms.CharField(widget=forms.TextInput(attrs=spec.attrs), **common)


def _same_items(spec: Spec, posted: Any, original: JSON) -> bool:
    """A list field posted with the original's items in another order."""
    if spec.kind != "list" or not isinstance(posted, list) or not isinstance(original, list):
        return False
    return sorted(posted) == sorted(to_form_value(spec, original))


def _plain(number: float | None) -> str:
    return f"{number:g}" if number is not None else ""


class EditorBoundField(BoundField):
    """A field of the persona editor: its problems are the form's own errors (what cannot be
    read) and the persona rules it breaks (placed by the editor), shown in one slot next to it
    (`slot_id`), which the live preview refreshes."""

    @property
    def problems(self) -> list[str]:
        form = self.form
        placed = form.field_problems.get(self.name, []) if isinstance(form, LayerForm) else []
        return [*self.errors, *placed]

    @property
    def problem_lines(self) -> list[str]:
        """Each problem naming the field by its label: "Temperature: Enter a number, like 0.7."."""
        return [f"{self.label}: {message}" for message in self.problems]

    @property
    def slot_id(self) -> str:
        return f"err-{self.auto_id}"

    @property
    def retype(self) -> bool:
        """A secret was typed but the page is shown again: it cannot show it (write-only)."""
        return self.form.is_bound and isinstance(self.field.widget, SecretInput) and bool(self.data)

    @property
    def aria_describedby(self) -> str:
        ids = [f"{self.auto_id}_helptext"] if self.help_text else []
        return " ".join([*ids, self.slot_id])

    def build_widget_attrs(
        self, attrs: dict[str, Any], widget: forms.Widget | None = None
    ) -> dict[str, Any]:
        attrs = super().build_widget_attrs(attrs, widget)
        if self.problems:
            attrs["aria-invalid"] = "true"
        return attrs


class LayerForm(forms.Form):
    """Base of the per-layer forms: fields come from SPECS; to_fragment() gives the edited layer."""

    bound_field_class = EditorBoundField

    key: str = ""
    title: str = ""
    pointer: tuple[str, ...] = ()
    SPECS: tuple[Spec, ...] = ()
    LEGACY: tuple[tuple[str, str], ...] = ()  # (JSON key, plain explanation) shown read-only

    def __init__(
        self, data: Mapping[str, Any] | None = None, *, base: JSONObject | None, **kwargs: Any
    ) -> None:
        # Read-only: to_fragment() copies only what it changes, so large personas stay cheap.
        self.base: JSONObject = base if isinstance(base, dict) else {}
        self.base_present = isinstance(base, dict)
        kwargs.setdefault("prefix", self.key)
        self._originals = {s.name: _get(self.base, s.path) for s in self.SPECS}
        initial = {s.name: to_form_value(s, self._originals[s.name]) for s in self.SPECS}
        super().__init__(data, initial=initial, **kwargs)
        for spec in self.SPECS:
            self.fields[spec.name] = _make_field(spec, self._originals[spec.name])
            _explain_choices(self.fields[spec.name], to_pointer([*self.pointer, *spec.path]))
            if spec.kind == "secret" and _has(self.base, spec.path):
                self.fields[spec.name].widget.attrs["placeholder"] = (
                    "•••••• saved — leave blank to keep"
                )
                self.fields[f"{spec.name}__clear"] = forms.BooleanField(
                    required=False, label=f"Remove the saved {spec.label.lower()}"
                )
        self.specs = {s.name: s for s in self.SPECS}
        # Persona rules a field breaks, placed by the editor: {field name: [message]}.
        self.field_problems: dict[str, list[str]] = {}

    @classmethod
    def from_document(cls, doc: JSONObject, data: Mapping[str, Any] | None = None) -> LayerForm:
        base = _get(doc, cls.pointer) if cls.pointer else doc
        return cls(data, base=base if isinstance(base, dict) else None)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for spec in self.SPECS:
            value = cleaned.get(spec.name)
            if spec.kind == "textarea" and isinstance(value, str):
                # Browsers post a text area's line breaks as CR LF; the page showed LF.
                cleaned[spec.name] = value.replace("\r\n", "\n")
            if spec.kind == "number" and not _is_empty(value):
                number = _parse_number(str(value))
                if number is None:
                    example = _plain(spec.maximum / 2 if spec.maximum else 0.7)
                    self.add_error(spec.name, f"Enter a number, like {example}.")
                    continue
                if (spec.minimum is not None and number < spec.minimum) or (
                    spec.maximum is not None and number > spec.maximum
                ):
                    self.add_error(
                        spec.name,
                        f"Use a number from {_plain(spec.minimum)} to {_plain(spec.maximum)}.",
                    )
        return cleaned

    def _shown_originally(self, spec: Spec) -> Any:
        raw = to_form_value(spec, self._originals[spec.name])
        try:
            return self.fields[spec.name].clean(raw)
        except ValidationError:
            return raw

    def to_fragment(self) -> JSONObject:
        """The edited layer: the original with only the fields the user changed applied. A field
        that cannot be read keeps its original value, so the rest can still be checked."""
        result = dict(self.base)
        for spec in self.SPECS:
            if spec.name in self.errors:
                continue
            posted = self.cleaned_data.get(spec.name)
            if spec.kind == "secret":
                if self.cleaned_data.get(f"{spec.name}__clear"):
                    _remove(result, spec.path)
                elif posted and posted != SECRET_MARKER:
                    _set(result, spec.path, posted)
                continue
            original = self._originals[spec.name]
            # Posted text or list equal to the stored JSON: what the general rule below would
            # keep or write back anyway, without cleaning the shown value a second time.
            if type(posted) is type(original) and posted == original:
                continue
            if posted == self._shown_originally(spec):
                continue
            # Ids and tags are sets to Tavus: the same ones in another order (a picker lists
            # them in its own order) change nothing.
            if _same_items(spec, posted, original):
                continue
            if _is_empty(posted):
                _remove(result, spec.path)
            else:
                _set(result, spec.path, from_form_value(spec, posted))
        return result

    def legacy_values(self) -> list[tuple[str, str, JSON]]:
        """Legacy fields present on this layer: (key, explanation, value), shown read-only."""
        return [(k, why, self.base[k]) for k, why in self.LEGACY if k in self.base]


class IdentityForm(LayerForm):
    key, title, pointer = "identity", "Identity", ()
    SPECS = (
        Spec("persona_name", "text", "Name", "Shown when the replica joins a call."),
        Spec(
            "pipeline_mode",
            "choice",
            "Pipeline mode",
            "Full: Tavus runs speech recognition, the language model and the voice. Echo: your own "
            "app sends what the replica says (used with LiveKit or Pipecat).",
            choices=(("", "Tavus default (full)"), ("full", "Full"), ("echo", "Echo")),
        ),
        Spec(
            "system_prompt",
            "textarea",
            "System prompt",
            "Who the persona is and how it behaves. Required in the full pipeline. Aim for about "
            "5 000 tokens (20 000 characters) or less: quality drops with very long prompts.",
            attrs={"rows": "10"},
        ),
        Spec(
            "context",
            "textarea",
            "Context",
            "Extra background the language model can draw on (facts, examples, past situations).",
        ),
        Spec(
            "default_replica_id",
            "text",
            "Default replica",
            "The face and voice used when a conversation does not name a replica.",
        ),
        Spec(
            "document_ids",
            "list",
            "Documents",
            "Knowledge-base documents available in every conversation (ids, comma-separated).",
        ),
        Spec(
            "document_tags",
            "list",
            "Document tags",
            "Documents carrying any of these tags are available too.",
        ),
        Spec(
            "objectives_id",
            "text",
            "Objectives",
            "The objectives the persona works through in a conversation (an objectives id).",
        ),
        Spec(
            "guardrail_ids",
            "list",
            "Guardrails",
            "Rules the persona must keep to in every conversation (guardrail ids, comma-separated).",
        ),
        Spec(
            "guardrail_tags",
            "list",
            "Guardrail tags",
            "Guardrails carrying any of these tags apply too.",
        ),
    )
    LEGACY = (("guardrails_id", UNMAPPED_LEGACY["/guardrails_id"]),)


# The model field's suggestions: the known Tavus-hosted models, each with what it is.
LLM_MODELS = (
    ("", "Tavus default"),
    *(
        (c.value, f"{c.value}{' (recommended)' if c.recommended else ''} — {c.help}")
        for c in glossary.LLM_MODELS
        if not c.legacy
    ),
)


class LlmForm(LayerForm):
    key, title, pointer = "llm", "Language model & tools", ("layers", "llm")
    SPECS = (
        Spec(
            "model",
            "text",
            "Model",
            "A Tavus-hosted model (e.g. tavus-gpt-oss), or the model name your own endpoint expects.",
            attrs={"list": "llm-models"},
        ),
        Spec(
            "base_url",
            "text",
            "Custom endpoint (base URL)",
            "Only for your own OpenAI-compatible model server. Leave blank for Tavus-hosted models.",
        ),
        Spec("api_key", "secret", "Endpoint API key", "Key for your custom endpoint. Write-only."),
        Spec(
            "speculative_inference",
            "tristate",
            "Speculative inference",
            "Start answering before the user has finished speaking (faster replies).",
        ),
        Spec(
            "extra_body__temperature",
            "number",
            "Temperature",
            "0 = focused and predictable, 2 = most varied.",
            minimum=0.0,
            maximum=2.0,
        ),
        Spec(
            "extra_body__top_p",
            "number",
            "Top-p",
            "0–1: lower keeps answers to the most likely words.",
            minimum=0.0,
            maximum=1.0,
        ),
    )


class TtsForm(LayerForm):
    key, title, pointer = "tts", "Voice", ("layers", "tts")
    LEGACY = (("playht_user_id", "PlayHT account id: PlayHT is no longer a Tavus voice engine."),)
    SPECS = (
        Spec(
            "tts_engine",
            "choice",
            "Voice engine",
            "Cartesia is Tavus's default. The voice settings below follow the engine.",
            attrs={
                # Re-render just the engines' settings so the chosen one opens (no JS of our
                # own); the API key above them is not in that fragment, so what was typed
                # there stays.
                "hx-post": "",
                "hx-vals": '{"editor_action": "tts:engine"}',
                "hx-include": "#editor",
                "hx-target": "#tts-voice-settings",
                "hx-swap": "outerHTML settle:0ms",
            },
            choices=(
                ("", "Tavus default (Cartesia)"),
                ("cartesia", "Cartesia"),
                ("elevenlabs", "ElevenLabs"),
                ("azure", "Azure"),
            ),
        ),
        Spec("external_voice_id", "text", "Voice id", "The voice's id at the engine's provider."),
        Spec(
            "tts_model_name",
            "text",
            "Voice model",
            "e.g. sonic-3 (Cartesia) or eleven_multilingual_v2 (ElevenLabs).",
        ),
        Spec(
            "tts_emotion_control",
            "tristate",
            "Emotion control",
            "Let the voice follow the emotion of what is said (Cartesia).",
        ),
        Spec("api_key", "secret", "Provider API key", "Only for private voices. Write-only."),
        Spec(
            "voice_settings__speed",
            "number_or_text",
            "Speed",
            "ElevenLabs: 0.7 to 1.2. Cartesia: a number or slowest/slow/normal/fast/fastest.",
        ),
        Spec(
            "voice_settings__emotion",
            "lines",
            "Emotions (Cartesia)",
            "One per line, e.g. positivity:high or curiosity.",
        ),
        Spec(
            "voice_settings__stability",
            "number",
            "Stability (ElevenLabs)",
            "0–1: higher sounds steadier, lower more expressive.",
            minimum=0.0,
            maximum=1.0,
        ),
        Spec(
            "voice_settings__similarity_boost",
            "number",
            "Similarity boost (ElevenLabs)",
            "0–1: how closely to stick to the original voice.",
            minimum=0.0,
            maximum=1.0,
        ),
        Spec(
            "voice_settings__style",
            "number",
            "Style (ElevenLabs)",
            "0–1: exaggerates the voice's style.",
            minimum=0.0,
            maximum=1.0,
        ),
        Spec(
            "voice_settings__use_speaker_boost",
            "tristate",
            "Speaker boost (ElevenLabs)",
            "Makes the voice sound closer to the original speaker.",
        ),
    )

    _CARTESIA = ("voice_settings__emotion",)
    _ELEVENLABS = (
        "voice_settings__stability",
        "voice_settings__similarity_boost",
        "voice_settings__style",
        "voice_settings__use_speaker_boost",
    )

    @property
    def engine(self) -> str:
        value = self["tts_engine"].value()
        return value if isinstance(value, str) and value else "cartesia"

    def groups(self) -> list[tuple[str, list[forms.BoundField], bool]]:
        """(title, fields, open) for the voice settings: the chosen engine's open, the other's folded."""
        engine = self.engine
        common = [
            self[name] for name in self.fields if name not in self._CARTESIA + self._ELEVENLABS
        ]
        return [
            ("", common, True),
            ("Cartesia voice settings", [self[n] for n in self._CARTESIA], engine == "cartesia"),
            (
                "ElevenLabs voice settings",
                [self[n] for n in self._ELEVENLABS],
                engine == "elevenlabs",
            ),
        ]


class SttForm(LayerForm):
    key, title, pointer = "stt", "Speech recognition", ("layers", "stt")
    LEGACY = (
        (
            "participant_pause_sensitivity",
            "Old turn-taking setting; now Turn-taking patience (the scale runs the other way).",
        ),
        (
            "participant_interrupt_sensitivity",
            "Old turn-taking setting; now Replica interruptibility (the scale runs the other way).",
        ),
        ("smart_turn_detection", "Old turn detection switch; now the Turn detection model."),
    )
    SPECS = (
        Spec(
            "stt_engine",
            "choice",
            "Engine",
            "Auto picks the best engine for the conversation's language.",
            choices=(
                ("", "Tavus default (auto)"),
                ("tavus-auto", "Auto"),
                ("tavus-parakeet", "Parakeet: English and European languages, lowest latency"),
                ("tavus-soniox", "Soniox: Indic languages"),
                ("tavus-whisper", "Whisper: broad multilingual"),
                ("tavus-deepgram-medical", "Deepgram Medical: English clinical terms"),
            ),
        ),
        Spec(
            "hotwords",
            "text",
            "Hotwords",
            "Names and terms to listen out for, e.g. “Roey is the name of the person you're speaking with.”",
        ),
    )


class PerceptionForm(LayerForm):
    key, title, pointer = "perception", "Perception", ("layers", "perception")
    LEGACY = (
        ("ambient_awareness_queries", "Raven-0 name of Visual awareness queries."),
        ("perception_tool_prompt", "Raven-0 name of the Visual tool prompt."),
        ("perception_tools", "Raven-0 name of Visual tools."),
    )
    SPECS = (
        Spec(
            "perception_model",
            "choice",
            "Perception model",
            "Raven-1 understands what it sees and hears (tone, emotion). Off disables perception.",
            choices=(
                ("", "Tavus default (raven-1)"),
                ("raven-1", "Raven-1"),
                ("raven-0", "Raven-0 (legacy, visual only)"),
                ("off", "Off"),
            ),
        ),
        Spec(
            "visual_awareness_queries",
            "lines",
            "Visual awareness queries",
            "Questions Raven keeps checking in the video, one per line (e.g. “Is the user showing an ID card?”).",
        ),
        Spec(
            "visual_tool_prompt",
            "textarea",
            "Visual tool prompt",
            "When and how to use the visual tools below.",
        ),
        Spec(
            "audio_awareness_queries",
            "lines",
            "Audio awareness queries (raven-1)",
            "Questions about the user's voice, one per line (e.g. “Does the user sound frustrated?”).",
        ),
        Spec(
            "audio_tool_prompt",
            "textarea",
            "Audio tool prompt (raven-1)",
            "When and how to use the audio tools below.",
        ),
        Spec(
            "perception_analysis_queries",
            "lines",
            "End-of-call analysis queries",
            "Questions answered once the call ends; the answers go to your callback.",
        ),
    )


class ConversationalFlowForm(LayerForm):
    key, title, pointer = "conversational_flow", "Turn-taking", ("layers", "conversational_flow")
    SPECS = (
        Spec(
            "turn_detection_model",
            "choice",
            "Turn detection model",
            "How the replica decides the user has finished speaking. Sparrow-1 is recommended.",
            choices=(
                ("", "Tavus default"),
                ("sparrow-1", "Sparrow-1 (recommended)"),
                ("sparrow-0", "Sparrow-0 (legacy)"),
                ("time-based", "Time-based"),
            ),
        ),
        Spec(
            "turn_taking_patience",
            "choice",
            "Turn-taking patience",
            "Low jumps in quickly; high waits for a clear end of the user's turn.",
            choices=tuple(_LEVELS),
        ),
        Spec(
            "replica_interruptibility",
            "choice",
            "Replica interruptibility",
            "High stops speaking as soon as the user talks; low keeps going.",
            choices=tuple(_LEVELS),
        ),
    )


LAYER_FORMS: tuple[type[LayerForm], ...] = (
    IdentityForm,
    LlmForm,
    TtsForm,
    SttForm,
    PerceptionForm,
    ConversationalFlowForm,
)
