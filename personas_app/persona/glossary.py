"""Plain words for the persona's jargon: what each setting is, and what each known choice means.

For people who author personas without knowing Tavus's vocabulary ("Raven-1", "Top-p",
"Hotwords"). Shared by the persona pages (``diffs.document_summary``) and, for help texts and
select options, by the editor. Sources: shared/tavus/api-notes.md sections 2.1 to 2.7.
Pure module: imports only the standard library and the persona-document modules; never Django.

``TERMS``: {JSON pointer: one or two sentences}, for the fields of ``layers.FIELD_LABELS``.
``explain(pointer)``: the sentence for a pointer ("" when there is none).
``LLM_MODELS``, ``TTS_ENGINES``, ``STT_ENGINES``, ``PERCEPTION_MODELS``,
``TURN_DETECTION_MODELS``, ``PIPELINE_MODES``: the known choices, each a ``Choice`` with a
one-line explanation, in the order an editor would offer them (current first, legacy last).
``choices_for(pointer)`` / ``choice_for(pointer, value)``: the choices of a field, or the one
matching a value (None for a value Tavus accepts that we do not know).
"""

from __future__ import annotations

from dataclasses import dataclass

from .jsontypes import JSON

__all__ = [
    "CHOICES",
    "LLM_MODELS",
    "PERCEPTION_MODELS",
    "PIPELINE_MODES",
    "STT_ENGINES",
    "TERMS",
    "TTS_ENGINES",
    "TURN_DETECTION_MODELS",
    "Choice",
    "choice_for",
    "choices_for",
    "explain",
]


@dataclass(frozen=True)
class Choice:
    """One known value of a setting: `label` names it, `help` says in one line what it does."""

    value: str
    label: str
    help: str
    recommended: bool = False
    legacy: bool = False  # Tavus still accepts it, but it is no longer offered


PIPELINE_MODES: tuple[Choice, ...] = (
    Choice(
        "full",
        "Full",
        "Tavus does everything: it listens, writes the replies and speaks them (the default).",
        recommended=True,
    ),
    Choice(
        "echo",
        "Echo",
        "Your own app decides what the replica says (for example with LiveKit or Pipecat); "
        "Tavus only gives it a face and a voice. Perception is not available.",
    ),
)

LLM_MODELS: tuple[Choice, ...] = (
    Choice(
        "tavus-gpt-oss",
        "tavus-gpt-oss",
        "Tavus's recommended starting point: quick, capable replies.",
        recommended=True,
    ),
    Choice("tavus-gemini-2.5-flash", "tavus-gemini-2.5-flash", "Google's Gemini 2.5 Flash."),
    Choice("tavus-claude-haiku-4.5", "tavus-claude-haiku-4.5", "Anthropic's Claude Haiku 4.5."),
    Choice("tavus-gpt-5.2", "tavus-gpt-5.2", "OpenAI's GPT-5.2."),
    Choice("tavus-gemini-3-flash", "tavus-gemini-3-flash", "Google's Gemini 3 Flash."),
    Choice(
        "tavus-gpt-4.1",
        "tavus-gpt-4.1",
        "Deprecated by Tavus: still answers, but move to a current model.",
        legacy=True,
    ),
    Choice(
        "tavus-gpt-4o",
        "tavus-gpt-4o",
        "Deprecated by Tavus: still answers, but move to a current model.",
        legacy=True,
    ),
    Choice(
        "tavus-gpt-4o-mini",
        "tavus-gpt-4o-mini",
        "Deprecated by Tavus: still answers, but move to a current model.",
        legacy=True,
    ),
)

TTS_ENGINES: tuple[Choice, ...] = (
    Choice(
        "cartesia",
        "Cartesia",
        "Tavus's default voice engine: natural voices that can follow the emotion of the words.",
        recommended=True,
    ),
    Choice(
        "elevenlabs",
        "ElevenLabs",
        "ElevenLabs voices, including cloned ones; tune stability and similarity to the speaker.",
    ),
    Choice(
        "azure",
        "Azure",
        "Microsoft Azure voices in many languages; pick a voice that speaks the call's language.",
    ),
    Choice("playht", "PlayHT", "No longer a Tavus voice engine.", legacy=True),
)

STT_ENGINES: tuple[Choice, ...] = (
    Choice(
        "tavus-auto",
        "Auto",
        "Picks the best engine for the conversation's language (the default).",
        recommended=True,
    ),
    Choice(
        "tavus-parakeet", "Parakeet", "English and European languages, with the shortest delay."
    ),
    Choice("tavus-soniox", "Soniox", "Best for Indian languages."),
    Choice("tavus-whisper", "Whisper", "Understands the widest range of languages."),
    Choice(
        "tavus-deepgram-medical", "Deepgram Medical", "English with medical and clinical terms."
    ),
    Choice(
        "tavus-advanced",
        "Advanced",
        "Older, more accurate engine: deprecated, but still works.",
        legacy=True,
    ),
    Choice("tavus-turbo", "Turbo", "Older engine with the shortest delay.", legacy=True),
)

PERCEPTION_MODELS: tuple[Choice, ...] = (
    Choice(
        "raven-1",
        "Raven-1",
        "Sees the camera and screen share, and hears the participant's tone of voice and "
        "emotion (the default).",
        recommended=True,
    ),
    Choice("off", "Off", "The replica does not look at the video or listen for tone of voice."),
    Choice(
        "raven-0", "Raven-0", "Older model: sees the video, but does not hear tone.", legacy=True
    ),
    Choice("basic", "Basic", "The oldest, simplest vision model.", legacy=True),
)

TURN_DETECTION_MODELS: tuple[Choice, ...] = (
    Choice(
        "sparrow-1",
        "Sparrow-1",
        "Tells from how people speak when they have finished their turn, not just from a "
        "pause (recommended).",
        recommended=True,
    ),
    Choice(
        "time-based",
        "Time-based",
        "Answers after a set length of silence: simple and predictable.",
    ),
    Choice("sparrow-2", "Sparrow-2", "A newer Sparrow model from Tavus's newest documents."),
    Choice("sparrow-0", "Sparrow-0", "The first Sparrow model.", legacy=True),
    Choice("timebased", "Time-based", "Another spelling of time-based.", legacy=True),
)

_PATIENCE: tuple[Choice, ...] = (
    Choice("low", "Low", "Answers quickly, even during a short pause."),
    Choice("medium", "Medium", "Balanced (the default).", recommended=True),
    Choice("high", "High", "Waits for a clear end of the participant's turn."),
)
_INTERRUPTIBILITY: tuple[Choice, ...] = (
    Choice("low", "Low", "Keeps talking when the participant speaks over it."),
    Choice("medium", "Medium", "Balanced (the default).", recommended=True),
    Choice("high", "High", "Stops as soon as the participant starts to talk."),
)
_COMMITMENT: tuple[Choice, ...] = (
    Choice("low", "Low", "Gives up its turn easily when talked over."),
    Choice("medium", "Medium", "Balanced (the default).", recommended=True),
    Choice("high", "High", "Holds on to its turn when talked over."),
)
_ACTIVE_LISTENING: tuple[Choice, ...] = (
    Choice("off", "Off", "No listening sounds (the default).", recommended=True),
    Choice("low", "Low", "An occasional “mm-hm” while the participant talks."),
    Choice("medium", "Medium", "Some listening sounds while the participant talks."),
    Choice("high", "High", "Frequent listening sounds while the participant talks."),
)
# The legacy speech-recognition scales run the other way round from their replacements.
_PAUSE_SENSITIVITY: tuple[Choice, ...] = (
    Choice("low", "Low", "Waited for a clear end of the participant's turn."),
    Choice("medium", "Medium", "Balanced (the default)."),
    Choice("high", "High", "Answered quickly, even during a short pause."),
)
_INTERRUPT_SENSITIVITY: tuple[Choice, ...] = (
    Choice("low", "Low", "Hard to interrupt: kept talking when spoken over."),
    Choice("medium", "Medium", "Balanced (the default)."),
    Choice("high", "High", "Stopped as soon as the participant talked."),
)
_TRANSPORT_TYPES: tuple[Choice, ...] = (
    Choice("livekit", "LiveKit", "The replica joins a LiveKit room that your own app runs."),
)

CHOICES: dict[str, tuple[Choice, ...]] = {
    "/pipeline_mode": PIPELINE_MODES,
    "/layers/llm/model": LLM_MODELS,
    "/layers/tts/tts_engine": TTS_ENGINES,
    "/layers/stt/stt_engine": STT_ENGINES,
    "/layers/stt/participant_pause_sensitivity": _PAUSE_SENSITIVITY,
    "/layers/stt/participant_interrupt_sensitivity": _INTERRUPT_SENSITIVITY,
    "/layers/perception/perception_model": PERCEPTION_MODELS,
    "/layers/conversational_flow/turn_detection_model": TURN_DETECTION_MODELS,
    "/layers/conversational_flow/turn_taking_patience": _PATIENCE,
    "/layers/conversational_flow/replica_interruptibility": _INTERRUPTIBILITY,
    "/layers/conversational_flow/turn_commitment": _COMMITMENT,
    "/layers/conversational_flow/active_listening": _ACTIVE_LISTENING,
    "/layers/transport/transport_type": _TRANSPORT_TYPES,
}

_LEGACY = "An older setting Tavus still accepts."

TERMS: dict[str, str] = {
    # Identity
    "/persona_name": "The name shown when the replica joins a call.",
    "/system_prompt": "The instructions that tell the language model who the persona is and "
    "how it behaves.",
    "/pipeline_mode": "Who runs the conversation. Full: Tavus listens, writes the replies and "
    "speaks them. Echo: your own app decides what the replica says, and Tavus gives it a face "
    "and a voice.",
    "/context": "Background the language model can draw on: facts, examples, situations.",
    "/default_replica_id": "A replica is the face and voice on screen. This one is used when a "
    "conversation does not pick another.",
    "/document_ids": "Knowledge-base documents the persona can look things up in, in every "
    "conversation.",
    "/document_tags": "Documents carrying any of these tags are available too.",
    "/objectives_id": "Goals the persona works through in a conversation, such as collecting "
    "details step by step.",
    "/guardrails_id": "An older kind of guardrail set. It keeps working; new guardrails are "
    "picked one by one.",
    "/guardrail_ids": "Rules the persona keeps to in every conversation, such as topics it must "
    "not discuss.",
    "/guardrail_tags": "Guardrails carrying any of these tags apply too.",
    "/persona_type": "Whether the persona is yours (user) or one of Tavus's stock personas "
    "(system).",
    # Language model
    "/layers/llm/model": "The language model that writes the replies. Tavus hosts several; "
    "your own model server can use its own.",
    "/layers/llm/base_url": "The address of your own OpenAI-compatible model server, used "
    "instead of Tavus's models.",
    "/layers/llm/api_key": "The key Tavus sends to your own model server. It is never shown.",
    "/layers/llm/speculative_inference": "Starts writing a reply while the participant is still "
    "talking, so answers come sooner.",
    "/layers/llm/tools": "Actions the language model may ask your app to carry out, such as "
    "looking up an order. Tavus does not run them: your app receives each call as an event.",
    "/layers/llm/headers": "Extra HTTP headers sent to your own model server, for example to "
    "sign in. Their values are hidden.",
    "/layers/llm/extra_body": "Extra settings passed to the language model, such as "
    "temperature and top-p.",
    "/layers/llm/extra_body/temperature": "How varied the replies are: 0 is focused and "
    "predictable, 2 the most varied.",
    "/layers/llm/extra_body/top_p": "The model only picks from its most likely next words, "
    "adding up to this share (0 to 1): lower gives plainer, safer wording.",
    "/layers/llm/default_query": "Extra query parameters sent to your own model server.",
    # Voice
    "/layers/tts/tts_engine": "The text-to-speech company whose voices the replica speaks with.",
    "/layers/tts/api_key": "The key for a private voice at the voice company. It is never shown.",
    "/layers/tts/external_voice_id": "Which voice to use, as the voice company names it.",
    "/layers/tts/tts_model_name": "The voice company's model, such as sonic-3 (Cartesia) or "
    "eleven_multilingual_v2 (ElevenLabs).",
    "/layers/tts/tts_emotion_control": "Lets the voice follow the emotion of what is said.",
    "/layers/tts/playht_user_id": "The account of PlayHT, which is no longer a Tavus voice engine.",
    "/layers/tts/voice_settings": "Fine-tuning of the voice; which settings apply depends on "
    "the voice engine.",
    "/layers/tts/voice_settings/speed": "How fast the voice speaks.",
    "/layers/tts/voice_settings/emotion": "Emotions the voice leans towards, such as "
    "positivity:high (Cartesia).",
    "/layers/tts/voice_settings/stability": "Higher sounds steadier, lower more expressive "
    "(ElevenLabs, 0 to 1).",
    "/layers/tts/voice_settings/similarity_boost": "How closely the voice sticks to the "
    "original speaker (ElevenLabs, 0 to 1).",
    "/layers/tts/voice_settings/style": "Exaggerates the speaker's style (ElevenLabs, 0 to 1).",
    "/layers/tts/voice_settings/use_speaker_boost": "Makes the voice sound closer to the "
    "original speaker (ElevenLabs).",
    # Speech recognition
    "/layers/stt/stt_engine": "The engine that turns the participant's speech into text.",
    "/layers/stt/hotwords": "Names and unusual words to listen out for, so that they are "
    "understood, such as a product or a person's name.",
    "/layers/stt/participant_pause_sensitivity": f"{_LEGACY} Now Turn-taking patience, whose "
    "scale runs the other way.",
    "/layers/stt/participant_interrupt_sensitivity": f"{_LEGACY} Now Replica "
    "interruptibility, whose scale runs the other way.",
    "/layers/stt/smart_turn_detection": f"{_LEGACY} Now the Turn detection model.",
    # Perception
    "/layers/perception/perception_model": "Perception lets the replica notice what it sees "
    "in the video and, with Raven-1, how the participant sounds.",
    "/layers/perception/visual_awareness_queries": "Questions the replica keeps checking in "
    "the video during the call, such as “Is the user showing an ID card?”.",
    "/layers/perception/visual_tool_prompt": "Tells the replica when to use the visual tools.",
    "/layers/perception/visual_tools": "Actions the replica may ask your app to carry out when "
    "it sees something.",
    "/layers/perception/audio_awareness_queries": "Questions about the participant's voice the "
    "replica keeps checking, such as “Does the user sound frustrated?” (Raven-1 only).",
    "/layers/perception/audio_tool_prompt": "Tells the replica when to use the audio tools "
    "(Raven-1 only).",
    "/layers/perception/audio_tools": "Actions the replica may ask your app to carry out when "
    "it hears something (Raven-1 only).",
    "/layers/perception/perception_analysis_queries": "Questions answered once, after the call "
    "ends; the answers go to your app.",
    "/layers/perception/ambient_awareness_queries": f"{_LEGACY} Now Visual awareness questions.",
    "/layers/perception/perception_tool_prompt": f"{_LEGACY} Now the Visual tool prompt.",
    "/layers/perception/perception_tools": f"{_LEGACY} Now Visual tools.",
    # Turn-taking
    "/layers/conversational_flow/turn_detection_model": "How the replica decides that the "
    "participant has finished speaking.",
    "/layers/conversational_flow/turn_taking_patience": "How long the replica waits before "
    "answering: low jumps in quickly, high waits for a clear end of the participant's turn.",
    "/layers/conversational_flow/replica_interruptibility": "How easily the participant can "
    "interrupt the replica: high stops as soon as they talk, low keeps going.",
    "/layers/conversational_flow/turn_commitment": "How firmly the replica holds on to its "
    "turn when talked over (from an older version of Tavus's documents).",
    "/layers/conversational_flow/active_listening": "Small listening sounds such as “mm-hm” "
    "while the participant talks (English only, in beta).",
    # Other
    "/layers/transport": "How sound and video reach your own app in Echo mode, such as a "
    "LiveKit room.",
    "/layers/transport/transport_type": "The kind of connection to your own app.",
    "/layers/vqa": f"{_LEGACY} It switched vision on before Perception existed.",
}


def explain(pointer: str) -> str:
    """What the setting at `pointer` is, in plain words; "" when there is nothing to add."""
    return TERMS.get(pointer, "")


def choices_for(pointer: str) -> tuple[Choice, ...]:
    """The known values of the setting at `pointer` (empty for a free-text setting)."""
    return CHOICES.get(pointer, ())


def choice_for(pointer: str, value: JSON) -> Choice | None:
    """The known choice `value` is at `pointer`, or None (a free text, or a value we do not
    know: Tavus accepts more than it documents)."""
    if not isinstance(value, str):
        return None
    return next((c for c in choices_for(pointer) if c.value == value), None)
