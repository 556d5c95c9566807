"""The persona's layers and field names in plain words, shared by forms, pages and change previews.

`LAYERS` is the ordered registry of editor sections; `FIELD_LABELS` names fields by JSON pointer;
`label_for` and `layer_for` place any pointer. Pure module: imports only the standard library and
jsontypes; never Django, never jsonschema, never requests.
"""

from __future__ import annotations

from dataclasses import dataclass

from .jsontypes import from_pointer, to_pointer

__all__ = [
    "FIELD_LABELS",
    "LABEL_SEPARATOR",
    "LAYERS",
    "LAYERS_BY_KEY",
    "Layer",
    "label_for",
    "layer_for",
]


@dataclass(frozen=True)
class Layer:
    """One editor section: `pointer` is where its settings live in the persona document."""

    key: str
    title: str
    pointer: str
    help: str


LAYERS: tuple[Layer, ...] = (
    Layer(
        "identity",
        "Identity",
        "",
        "Who the persona is: its name, system prompt, context, default replica and the "
        "documents, objectives and guardrails it uses.",
    ),
    Layer(
        "llm",
        "Language model & tools",
        "/layers/llm",
        "Which model writes the replies, and the tools it may call. Leave empty to use Tavus's "
        "recommended model.",
    ),
    Layer(
        "tts",
        "Voice",
        "/layers/tts",
        "The text-to-speech engine and voice the replica speaks with, and how it sounds.",
    ),
    Layer(
        "stt",
        "Speech recognition",
        "/layers/stt",
        "How the participant's speech is turned into text. Hotwords help with names and terms.",
    ),
    Layer(
        "perception",
        "Perception",
        "/layers/perception",
        "What the replica notices through the camera and screen share, and (with raven-1) "
        "from the participant's tone of voice.",
    ),
    Layer(
        "conversational_flow",
        "Turn-taking",
        "/layers/conversational_flow",
        "When the replica starts talking and how easily the participant can interrupt it.",
    ),
    Layer(
        "other",
        "Other settings",
        "/layers",
        "Transport and any settings this dashboard does not edit. They are kept as they are.",
    ),
)
LAYERS_BY_KEY: dict[str, Layer] = {layer.key: layer for layer in LAYERS}

FIELD_LABELS: dict[str, str] = {
    # Identity (top level)
    "": "Whole persona",
    "/persona_id": "Persona ID",
    "/persona_name": "Persona name",
    "/system_prompt": "System prompt",
    "/pipeline_mode": "Pipeline mode",
    "/context": "Context",
    "/default_replica_id": "Default replica",
    "/document_ids": "Documents",
    "/document_tags": "Document tags",
    "/objectives_id": "Objectives",
    "/guardrails_id": "Guardrail set (legacy)",
    "/guardrail_ids": "Guardrails",
    "/guardrail_tags": "Guardrail tags",
    "/persona_type": "Persona type",
    "/created_at": "Created",
    "/updated_at": "Last updated",
    "/layers": "Layers",
    # Language model
    "/layers/llm": "Language model",
    "/layers/llm/model": "LLM model",
    "/layers/llm/base_url": "Custom LLM base URL",
    "/layers/llm/api_key": "Endpoint API key",
    "/layers/llm/speculative_inference": "Speculative inference",
    "/layers/llm/tools": "LLM tools",
    "/layers/llm/headers": "Custom LLM headers",
    "/layers/llm/extra_body": "Extra LLM parameters",
    "/layers/llm/extra_body/temperature": "Temperature",
    "/layers/llm/extra_body/top_p": "Top-p",
    "/layers/llm/default_query": "Default query parameters",
    # Voice
    "/layers/tts": "Voice",
    "/layers/tts/tts_engine": "Voice engine",
    "/layers/tts/api_key": "Voice provider API key",
    "/layers/tts/external_voice_id": "Voice ID",
    "/layers/tts/tts_model_name": "Voice model",
    "/layers/tts/tts_emotion_control": "Emotion control",
    "/layers/tts/playht_user_id": "PlayHT user ID (legacy)",
    "/layers/tts/voice_settings": "Voice settings",
    "/layers/tts/voice_settings/speed": "Voice speed",
    "/layers/tts/voice_settings/emotion": "Voice emotion",
    "/layers/tts/voice_settings/stability": "Voice stability",
    "/layers/tts/voice_settings/similarity_boost": "Similarity boost",
    "/layers/tts/voice_settings/style": "Voice style",
    "/layers/tts/voice_settings/use_speaker_boost": "Speaker boost",
    # Speech recognition
    "/layers/stt": "Speech recognition",
    "/layers/stt/stt_engine": "Transcription engine",
    "/layers/stt/hotwords": "Hotwords",
    "/layers/stt/participant_pause_sensitivity": "Pause sensitivity (legacy)",
    "/layers/stt/participant_interrupt_sensitivity": "Interrupt sensitivity (legacy)",
    "/layers/stt/smart_turn_detection": "Smart turn detection (legacy)",
    # Perception
    "/layers/perception": "Perception",
    "/layers/perception/perception_model": "Perception model",
    "/layers/perception/visual_awareness_queries": "Visual awareness questions",
    "/layers/perception/visual_tool_prompt": "Visual tool prompt",
    "/layers/perception/visual_tools": "Visual tools",
    "/layers/perception/audio_awareness_queries": "Audio awareness questions",
    "/layers/perception/audio_tool_prompt": "Audio tool prompt",
    "/layers/perception/audio_tools": "Audio tools",
    "/layers/perception/perception_analysis_queries": "End-of-call analysis questions",
    "/layers/perception/ambient_awareness_queries": "Ambient awareness questions (legacy)",
    "/layers/perception/perception_tool_prompt": "Perception tool prompt (legacy)",
    "/layers/perception/perception_tools": "Perception tools (legacy)",
    # Turn-taking
    "/layers/conversational_flow": "Turn-taking",
    "/layers/conversational_flow/turn_detection_model": "Turn detection model",
    "/layers/conversational_flow/turn_taking_patience": "Turn-taking patience",
    "/layers/conversational_flow/replica_interruptibility": "Replica interruptibility",
    "/layers/conversational_flow/turn_commitment": "Turn commitment",
    "/layers/conversational_flow/active_listening": "Active listening",
    # Other
    "/layers/transport": "Transport",
    "/layers/transport/transport_type": "Transport type",
    "/layers/vqa": "Vision (legacy)",
}

# Containers whose keys are the user's own names (header names, provider parameters): shown as is.
_FREE_KEY_CONTAINERS = frozenset(
    {"/layers/llm/headers", "/layers/llm/extra_body", "/layers/llm/default_query"}
)
# Joins the labels of a nested place: "LLM tools > #1 > Name".
LABEL_SEPARATOR = " > "


def _humanise(segment: str) -> str:
    words = segment.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:] if words else repr(segment)


def _describe_rest(prefix: str, rest: tuple[str, ...]) -> list[str]:
    parts: list[str] = []
    after_index = False
    for segment in rest:
        if segment.isascii() and segment.isdigit():
            parts.append(f"#{int(segment) + 1}")
            after_index = True
            continue
        # Tool items are {"type", "function": {...}}: "function" adds nothing for a reader.
        if not (after_index and segment == "function"):
            parts.append(segment if prefix in _FREE_KEY_CONTAINERS else _humanise(segment))
        after_index = False
    return parts


def label_for(pointer: str) -> str:
    """Plain words for a JSON pointer: "/layers/tts/voice_settings/speed" -> "Voice speed".

    Unlabelled pointers extend their nearest labelled parent ("/layers/llm/tools/2/function/
    description" -> "LLM tools > #3 > Description"), else humanise the last segment.
    """
    if pointer in FIELD_LABELS:
        return FIELD_LABELS[pointer]
    try:
        segments = from_pointer(pointer)
    except ValueError:
        return pointer
    for cut in range(len(segments) - 1, 0, -1):
        prefix = to_pointer(segments[:cut])
        if prefix in FIELD_LABELS:
            return LABEL_SEPARATOR.join(
                [FIELD_LABELS[prefix], *_describe_rest(prefix, segments[cut:])]
            )
    return _humanise(segments[-1])


def layer_for(pointer: str) -> Layer:
    """The editor section of a pointer: top-level fields are identity, unknown layers other."""
    try:
        segments = from_pointer(pointer)
    except ValueError:
        return LAYERS_BY_KEY["other"]
    if not segments or segments[0] != "layers":
        return LAYERS_BY_KEY["identity"]
    if (
        len(segments) >= 2
        and segments[1] in LAYERS_BY_KEY
        and segments[1] not in ("identity", "other")
    ):
        return LAYERS_BY_KEY[segments[1]]
    return LAYERS_BY_KEY["other"]
