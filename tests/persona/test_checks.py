"""persona_warnings: each warning fires on its case and stays quiet on clean personas."""

from __future__ import annotations

import json
from pathlib import Path

from personas_app.persona.checks import persona_warnings
from personas_app.persona.jsontypes import JSON, JSONObject

SEEDS = Path(__file__).parent.parent / "data" / "seeds"


def seed(name: str) -> JSONObject:
    loaded: JSONObject = json.loads((SEEDS / name).read_text(encoding="utf-8"))
    return loaded


def persona(**layers: JSON) -> JSONObject:
    return {"pipeline_mode": "full", "system_prompt": "Hi", "layers": dict(layers)}


def warned(doc: JSONObject) -> list[tuple[str, str]]:
    return [(p.dotted, p.message) for p in persona_warnings(doc)]


def warned_paths(doc: JSONObject) -> list[str]:
    return [p.dotted for p in persona_warnings(doc)]


def test_interviewer_has_no_warnings() -> None:
    assert persona_warnings(seed("create_interviewer.json")) == []


def test_raven1_openapi_seed_has_no_warnings() -> None:
    # raven-1 with visual and audio tools whose prompts name tools that exist.
    assert persona_warnings(seed("create_raven1_openapi.json")) == []


def test_minimal_persona_has_no_warnings() -> None:
    assert persona_warnings({"pipeline_mode": "full", "system_prompt": "Hi"}) == []


def test_audio_queries_with_raven_0_warn() -> None:
    doc = persona(perception={"perception_model": "raven-0", "audio_awareness_queries": ["Sad?"]})
    [(path, message)] = warned(doc)
    assert path == "layers.perception.audio_awareness_queries"
    assert "raven-1" in message


def test_audio_tools_and_prompt_with_basic_model_warn() -> None:
    tool = {"type": "function", "function": {"name": "escalate"}}
    doc = persona(
        perception={
            "perception_model": "basic",
            "audio_tool_prompt": "Use `escalate`.",
            "audio_tools": [tool],
        }
    )
    assert warned_paths(doc) == [
        "layers.perception.audio_tool_prompt",
        "layers.perception.audio_tools",
    ]


def test_audio_queries_with_absent_model_count_as_raven_1() -> None:
    assert persona_warnings(persona(perception={"audio_awareness_queries": ["Sad?"]})) == []


def test_raven_0_fields_with_raven_1_warn() -> None:
    doc = persona(
        perception={
            "perception_model": "raven-1",
            "ambient_awareness_queries": ["ID?"],
            "perception_tool_prompt": "No tools here.",
            "perception_tools": [],
        }
    )
    assert warned_paths(doc) == [
        "layers.perception.ambient_awareness_queries",
        "layers.perception.perception_tool_prompt",
    ]
    assert "visual awareness queries" in warned(doc)[0][1]


def test_raven_0_fields_with_raven_0_are_fine() -> None:
    doc = persona(perception={"perception_model": "raven-0", "ambient_awareness_queries": ["ID?"]})
    assert persona_warnings(doc) == []


def test_queries_with_perception_off_warn() -> None:
    doc = persona(perception={"perception_model": "off", "visual_awareness_queries": ["ID?"]})
    [(path, message)] = warned(doc)
    assert path == "layers.perception.visual_awareness_queries"
    assert "Perception is off" in message


def test_elevenlabs_settings_with_cartesia_warn() -> None:
    settings = {"stability": 0.5, "similarity_boost": 0.7, "style": 0.1, "use_speaker_boost": True}
    doc = persona(tts={"tts_engine": "cartesia", "voice_settings": settings})
    assert warned_paths(doc) == [
        "layers.tts.voice_settings.similarity_boost",
        "layers.tts.voice_settings.stability",
        "layers.tts.voice_settings.style",
        "layers.tts.voice_settings.use_speaker_boost",
    ]


def test_elevenlabs_settings_with_default_engine_warn() -> None:
    doc = persona(tts={"voice_settings": {"stability": 0.5}})
    assert warned_paths(doc) == ["layers.tts.voice_settings.stability"]


def test_cartesia_emotion_with_elevenlabs_warns() -> None:
    doc = persona(tts={"tts_engine": "elevenlabs", "voice_settings": {"emotion": ["curiosity"]}})
    [(path, message)] = warned(doc)
    assert path == "layers.tts.voice_settings.emotion"
    assert "Cartesia" in message


def test_elevenlabs_speed_outside_range_warns() -> None:
    for speed in (0.5, 1.3, "fast"):
        doc = persona(tts={"tts_engine": "elevenlabs", "voice_settings": {"speed": speed}})
        assert warned_paths(doc) == ["layers.tts.voice_settings.speed"], speed


def test_elevenlabs_speed_inside_range_is_fine() -> None:
    for speed in (0.7, 1, 1.2):
        doc = persona(tts={"tts_engine": "elevenlabs", "voice_settings": {"speed": speed}})
        assert persona_warnings(doc) == [], speed


def test_unknown_cartesia_speed_word_warns() -> None:
    doc = persona(tts={"voice_settings": {"speed": "very fast"}})
    assert warned_paths(doc) == ["layers.tts.voice_settings.speed"]


def test_playht_engine_warns() -> None:
    assert warned_paths(persona(tts={"tts_engine": "playht"})) == ["layers.tts.tts_engine"]


def test_tool_named_in_prompt_but_undefined_warns() -> None:
    doc = seed("create_raven1_openapi.json")
    doc["layers"]["perception"]["visual_tools"][0]["function"]["name"] = "notify_if_card_shown"
    [(path, message)] = warned(doc)
    assert path == "layers.perception.visual_tool_prompt"
    assert "`notify_if_id_shown`" in message


def test_plain_snake_case_tool_name_in_prompt_is_found() -> None:
    doc = persona(perception={"audio_tool_prompt": "Call escalate_to_human when upset."})
    assert warned_paths(doc) == ["layers.perception.audio_tool_prompt"]


def test_prompt_without_tool_names_is_fine() -> None:
    doc = persona(perception={"visual_tool_prompt": "Watch for ID cards and act on them."})
    assert persona_warnings(doc) == []


def test_custom_llm_base_url_without_model_warns() -> None:
    doc = persona(llm={"base_url": "https://llm.example.test/v1"})
    [(path, message)] = warned(doc)
    assert path == "layers.llm.model"
    assert "model" in message


def test_api_key_without_base_url_warns() -> None:
    assert warned_paths(persona(llm={"api_key": "sk-1"})) == ["layers.llm.api_key"]


def test_perception_in_echo_mode_warns() -> None:
    doc = {"pipeline_mode": "echo", "layers": {"perception": {"perception_model": "raven-1"}}}
    [(path, message)] = warned(doc)
    assert path == "layers.perception"
    assert "Echo mode" in message


def test_perception_off_in_echo_mode_is_fine() -> None:
    doc = {"pipeline_mode": "echo", "layers": {"perception": {"perception_model": "off"}}}
    assert persona_warnings(doc) == []


def test_long_system_prompt_warns() -> None:
    doc = {"system_prompt": "word " * 4_100}
    [(path, message)] = warned(doc)
    assert path == "system_prompt"
    assert "5,000" in message
    assert persona_warnings({"system_prompt": "x" * 20_000}) == []


def test_legacy_stt_turn_taking_with_conversational_flow_warns() -> None:
    doc = persona(
        stt={"participant_pause_sensitivity": "high", "smart_turn_detection": True},
        conversational_flow={"turn_taking_patience": "low"},
    )
    warnings = warned(doc)
    assert [path for path, _ in warnings] == [
        "layers.stt.participant_pause_sensitivity",
        "layers.stt.smart_turn_detection",
    ]
    assert all("overrides" in message for _, message in warnings)


def test_legacy_stt_turn_taking_alone_suggests_migrating() -> None:
    doc = persona(stt={"participant_interrupt_sensitivity": "low"})
    [(_, message)] = warned(doc)
    assert "Migrate legacy fields" in message


def test_deprecated_llm_models_warn() -> None:
    for model in ("tavus-gpt-4o", "tavus-gpt-4o-mini", "tavus-gpt-4.1", "tavus-llama-4"):
        assert warned_paths(persona(llm={"model": model})) == ["layers.llm.model"], model
    assert persona_warnings(persona(llm={"model": "tavus-gpt-oss"})) == []


def test_life_coach_seed_warnings_are_all_about_legacy_turn_taking() -> None:
    assert warned_paths(seed("create_life_coach.json")) == [
        "layers.stt.participant_interrupt_sensitivity",
        "layers.stt.participant_pause_sensitivity",
        "layers.stt.smart_turn_detection",
    ]


def test_invalid_documents_do_not_crash_the_check() -> None:
    for doc in (
        [],
        {"layers": "x"},
        {"layers": {"perception": {"visual_tool_prompt": 5, "visual_tools": "x"}}},
        {"layers": {"tts": {"voice_settings": [1]}, "llm": None, "stt": 3}},
        {"system_prompt": None, "context": 3},
    ):
        persona_warnings(doc)  # type: ignore[arg-type]
