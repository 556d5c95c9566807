"""Persona check: warnings about settings that are valid but probably not what the author meant.

Errors (the persona cannot be saved) come from schema.py; these are warnings (it can be saved, but
Tavus will ignore or override something). Each message says what to do. Pure module: imports only
the standard library and this package's pure modules; never Django, never requests.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from .jsontypes import JSON, JSONObject
from .schema import Problem, sorted_problems

__all__ = [
    "DEPRECATED_LLM_MODELS",
    "ELEVENLABS_ONLY_VOICE_SETTINGS",
    "PROMPT_TOKEN_BUDGET",
    "persona_warnings",
]

# Tavus LLM page lists these as deprecated; tavus-llama* comes from older pages (api-notes 2.2).
DEPRECATED_LLM_MODELS = frozenset({"tavus-gpt-4o", "tavus-gpt-4o-mini", "tavus-gpt-4.1"})
# Tavus TTS docs: ElevenLabs takes speed 0.7-1.2, stability, similarity_boost, style and
# use_speaker_boost; Cartesia takes emotion (api-notes 2.3).
ELEVENLABS_ONLY_VOICE_SETTINGS = ("stability", "similarity_boost", "style", "use_speaker_boost")
ELEVENLABS_SPEED_RANGE = (0.7, 1.2)
CARTESIA_SPEED_WORDS = ("slowest", "slow", "normal", "fast", "fastest")
# Tavus advises staying near 5k tokens; quality drops beyond (api-notes 2.2, rule of thumb
# 1 token = 4 characters).
PROMPT_TOKEN_BUDGET = 5000

_LEGACY_PERCEPTION = {
    "ambient_awareness_queries": "visual awareness queries",
    "perception_tool_prompt": "the visual tool prompt",
    "perception_tools": "visual tools",
}
_AUDIO_FIELDS = ("audio_awareness_queries", "audio_tool_prompt", "audio_tools")
_PERCEPTION_INPUTS = (
    "visual_awareness_queries",
    "visual_tool_prompt",
    "visual_tools",
    *_AUDIO_FIELDS,
    "perception_analysis_queries",
    *_LEGACY_PERCEPTION,
)
# Each tool prompt and the list of tools it may name.
_PROMPT_TOOLS = (
    ("visual_tool_prompt", "visual_tools", "visual tool prompt", "visual tools"),
    ("audio_tool_prompt", "audio_tools", "audio tool prompt", "audio tools"),
    ("perception_tool_prompt", "perception_tools", "perception tool prompt", "perception tools"),
)
_LEGACY_TURN_TAKING = {
    "participant_pause_sensitivity": "turn-taking patience",
    "participant_interrupt_sensitivity": "replica interruptibility",
    "smart_turn_detection": "the turn detection model",
}
# Tool names in prompts: `backticked` identifiers, or bare snake_case words with an underscore
# (the Tavus examples write "named `notify_if_id_shown`").
_BACKTICKED = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)(?:\(\))?`")
_SNAKE_WORD = re.compile(r"(?<![\w`])([a-z][a-z0-9]*(?:_[a-z0-9]+)+)(?![\w`])")


def _group(parent: JSONObject, key: str) -> JSONObject | None:
    value = parent.get(key)
    return value if isinstance(value, dict) else None


def _is_set(value: JSON) -> bool:
    # Empty values are left out of the create payload, so Tavus never sees them.
    return value not in (None, "", [], {})


def _tool_names(tools: JSON) -> set[str]:
    names: set[str] = set()
    for tool in tools if isinstance(tools, list) else []:
        function = tool.get("function") if isinstance(tool, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if isinstance(name, str):
            names.add(name)
    return names


def _names_in_prompt(prompt: str) -> list[str]:
    found = [m.group(1) for m in _BACKTICKED.finditer(prompt)]
    found += [m.group(1) for m in _SNAKE_WORD.finditer(prompt)]
    return list(dict.fromkeys(found))


def _perception_warnings(doc: JSONObject, layers: JSONObject) -> Iterator[Problem]:
    perception = _group(layers, "perception")
    if perception is None:
        return
    here = ("layers", "perception")
    # raven-1 is the default when the layer exists without a model (Get Persona OpenAPI, seed 003).
    model = perception.get("perception_model") or "raven-1"
    if doc.get("pipeline_mode") == "echo" and model != "off":
        yield Problem(
            here,
            "Echo mode cannot use perception. Remove the perception layer or set the perception "
            "model to off.",
        )
    if model == "off":
        for field in _PERCEPTION_INPUTS:
            if _is_set(perception.get(field)):
                yield Problem(
                    (*here, field),
                    "Perception is off, so this is ignored. Choose raven-1 to use it, or "
                    "remove it.",
                )
        return
    if model != "raven-1":
        for field in _AUDIO_FIELDS:
            if _is_set(perception.get(field)):
                yield Problem(
                    (*here, field),
                    f"Audio awareness only works with the raven-1 perception model; {model} "
                    "ignores this. Switch the perception model to raven-1.",
                )
    else:
        for field, current in _LEGACY_PERCEPTION.items():
            if _is_set(perception.get(field)):
                yield Problem(
                    (*here, field),
                    f"This is a raven-0 setting; raven-1 reads {current} instead. "
                    "Use “Migrate legacy fields” to move it.",
                )
    for prompt_field, tools_field, prompt_words, tools_words in _PROMPT_TOOLS:
        prompt = perception.get(prompt_field)
        if not isinstance(prompt, str):
            continue
        defined = _tool_names(perception.get(tools_field))
        for name in _names_in_prompt(prompt):
            if name not in defined:
                yield Problem(
                    (*here, prompt_field),
                    f"The {prompt_words} mentions `{name}`, but none of the {tools_words} has "
                    "that name. Add the tool or correct the name in the prompt.",
                )


def _tts_warnings(layers: JSONObject) -> Iterator[Problem]:
    tts = _group(layers, "tts")
    if tts is None:
        return
    here = ("layers", "tts")
    engine = tts.get("tts_engine") or "cartesia"  # Tavus's default engine (api-notes 2.3)
    if engine == "playht":
        yield Problem(
            (*here, "tts_engine"),
            "Tavus no longer offers PlayHT voices. Choose Cartesia, ElevenLabs or Azure and pick "
            "a voice there.",
        )
    settings = _group(tts, "voice_settings")
    if settings is None:
        return
    where = (*here, "voice_settings")
    if engine == "cartesia":
        for field in ELEVENLABS_ONLY_VOICE_SETTINGS:
            if settings.get(field) is not None:
                yield Problem(
                    (*where, field),
                    "Only ElevenLabs voices use this setting; Cartesia ignores it. Remove it or "
                    "switch the voice engine to ElevenLabs.",
                )
        speed = settings.get("speed")
        if isinstance(speed, str) and speed not in CARTESIA_SPEED_WORDS:
            yield Problem(
                (*where, "speed"),
                "Speed words are " + ", ".join(CARTESIA_SPEED_WORDS) + "; or use a number.",
            )
    if engine == "elevenlabs":
        if _is_set(settings.get("emotion")):
            yield Problem(
                (*where, "emotion"),
                "Emotion tags are a Cartesia setting; ElevenLabs ignores them. Remove them or "
                "use style and stability instead.",
            )
        speed = settings.get("speed")
        low, high = ELEVENLABS_SPEED_RANGE
        if isinstance(speed, str) or (
            isinstance(speed, int | float)
            and not isinstance(speed, bool)
            and not low <= speed <= high
        ):
            yield Problem(
                (*where, "speed"),
                f"ElevenLabs takes a speed between {low} and {high} (1.0 is normal). "
                "Choose a number in that range.",
            )


def _llm_warnings(layers: JSONObject) -> Iterator[Problem]:
    llm = _group(layers, "llm")
    if llm is None:
        return
    here = ("layers", "llm")
    model, base_url, api_key = llm.get("model"), llm.get("base_url"), llm.get("api_key")
    if _is_set(base_url) and not _is_set(model):
        yield Problem(
            (*here, "model"),
            "Your own LLM endpoint is set, so Tavus needs the model name it expects. Fill in "
            "the model.",
        )
    if _is_set(api_key) and not _is_set(base_url):
        yield Problem(
            (*here, "api_key"),
            "An API key is only used with your own LLM endpoint. Add the endpoint's base URL, "
            "or remove the key.",
        )
    if isinstance(model, str) and (
        model in DEPRECATED_LLM_MODELS or model.startswith("tavus-llama")
    ):
        yield Problem(
            (*here, "model"),
            f"Tavus has deprecated {model}. Switch to tavus-gpt-oss or another current model.",
        )


def _prompt_warnings(doc: JSONObject) -> Iterator[Problem]:
    prompt = doc.get("system_prompt")
    context = doc.get("context")
    chars = len(prompt) if isinstance(prompt, str) else 0
    chars += len(context) if isinstance(context, str) else 0
    tokens = chars // 4
    if tokens > PROMPT_TOKEN_BUDGET:
        yield Problem(
            ("system_prompt",),
            f"The system prompt and context are about {tokens:,} tokens. Tavus advises staying "
            f"near {PROMPT_TOKEN_BUDGET:,}: replies get slower and quality drops beyond that. "
            "Move reference material into documents.",
        )


def _stt_warnings(layers: JSONObject) -> Iterator[Problem]:
    stt = _group(layers, "stt")
    if stt is None:
        return
    flow = _group(layers, "conversational_flow")
    for field, current in _LEGACY_TURN_TAKING.items():
        if stt.get(field) is None:
            continue
        if flow:
            message = (
                f"Conversational flow overrides this old speech-to-text setting, so it has no "
                f"effect; set {current} there instead. Use “Migrate legacy fields” to tidy up."
            )
        else:
            message = (
                f"This is an old turn-taking setting. Tavus now uses {current} in the "
                "conversational flow layer (the scale runs the other way). Use “Migrate legacy "
                "fields” to move it."
            )
        yield Problem(("layers", "stt", field), message)


def persona_warnings(doc: JSONObject) -> list[Problem]:
    """Warnings for valid-but-doubtful settings, ordered by path; tolerant of invalid documents."""
    if not isinstance(doc, dict):
        return []
    layers = doc.get("layers")
    layers = layers if isinstance(layers, dict) else {}
    found = [
        *_prompt_warnings(doc),
        *_llm_warnings(layers),
        *_tts_warnings(layers),
        *_stt_warnings(layers),
        *_perception_warnings(doc, layers),
    ]
    return sorted_problems(found)
