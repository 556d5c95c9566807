"""The glossary: plain words for every setting people edit, one line for every known choice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from personas_app.persona import glossary
from personas_app.persona.layers import FIELD_LABELS

# Read-only fields and the containers of other settings need no explanation of their own.
_NOT_SETTINGS = {
    "",
    "/persona_id",
    "/created_at",
    "/updated_at",
    "/layers",
    "/layers/llm",
    "/layers/tts",
    "/layers/stt",
    "/layers/perception",
    "/layers/conversational_flow",
}
SCHEMA = json.loads(
    (Path(glossary.__file__).parent / "persona.schema.json").read_text(encoding="utf-8")
)


def test_every_labelled_setting_is_explained() -> None:
    missing = [p for p in FIELD_LABELS if p not in _NOT_SETTINGS and not glossary.explain(p)]

    assert missing == []


def test_every_explained_setting_has_a_label() -> None:
    assert set(glossary.TERMS) <= set(FIELD_LABELS)
    assert set(glossary.CHOICES) <= set(FIELD_LABELS)


@pytest.mark.parametrize("pointer", list(glossary.CHOICES))
def test_each_choice_is_explained_in_one_short_line(pointer: str) -> None:
    for choice in glossary.choices_for(pointer):
        assert choice.label and choice.help, choice
        assert "\n" not in choice.help and len(choice.help) <= 160, choice


@pytest.mark.parametrize(
    ("definition", "pointer"),
    [
        ("tts/properties/tts_engine", "/layers/tts/tts_engine"),
        ("stt/properties/stt_engine", "/layers/stt/stt_engine"),
        ("perception/properties/perception_model", "/layers/perception/perception_model"),
        (
            "conversationalFlow/properties/turn_detection_model",
            "/layers/conversational_flow/turn_detection_model",
        ),
        (
            "conversationalFlow/properties/active_listening",
            "/layers/conversational_flow/active_listening",
        ),
    ],
)
def test_every_value_the_schema_allows_is_explained(definition: str, pointer: str) -> None:
    node = SCHEMA["$defs"]
    for key in definition.split("/"):
        node = node[key]
    allowed = {v for v in node["enum"] if v is not None}

    assert allowed <= {c.value for c in glossary.choices_for(pointer)}


def test_the_pipeline_modes_the_schema_allows_are_explained() -> None:
    allowed = {v for v in SCHEMA["properties"]["pipeline_mode"]["enum"] if v is not None}

    assert allowed == {c.value for c in glossary.PIPELINE_MODES}


def test_a_value_is_found_among_its_settings_choices_only() -> None:
    assert glossary.choice_for("/layers/perception/perception_model", "raven-1") is not None
    assert glossary.choice_for("/layers/perception/perception_model", "sparrow-1") is None
    assert glossary.choice_for("/layers/llm/model", "my-own-model") is None
    assert glossary.choice_for("/layers/llm/model", 3) is None


def test_each_list_recommends_one_choice_and_offers_it_first() -> None:
    for choices in (
        glossary.LLM_MODELS,
        glossary.TTS_ENGINES,
        glossary.STT_ENGINES,
        glossary.PERCEPTION_MODELS,
        glossary.TURN_DETECTION_MODELS,
        glossary.PIPELINE_MODES,
    ):
        assert [c.recommended for c in choices].count(True) == 1
        assert choices[0].recommended
        assert not any(c.legacy for c in choices[: -sum(c.legacy for c in choices) or None])
