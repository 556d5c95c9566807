"""document_summary: every setting of a persona labelled and explained, objects as labelled
values, tools in words, lists as lists, secrets masked; never a JSON block."""

from __future__ import annotations

from typing import Any

from hypothesis import given

from personas_app.persona.diffs import Section, Setting, document_summary
from personas_app.persona.jsontypes import JSONObject
from tests.builders import persona_doc
from tests.strategies import json_objects, persona_docs

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Look up the weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city to look up"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "array", "items": {"type": "integer"}},
            },
            "required": ["city"],
        },
    },
}


def _settings(doc: JSONObject) -> dict[str, Setting]:
    """Every top-level setting of the summary by label, whatever its section."""
    return {s.label: s for section in document_summary(doc) for s in section.settings}


def _parts(setting: Setting) -> dict[str, str]:
    return {part.label: part.shown.text for part in setting.parts}


def _walk(sections: list[Section]) -> list[Setting]:
    found: list[Setting] = []

    def visit(setting: Setting) -> None:
        found.append(setting)
        for part in setting.parts:
            visit(part)

    for section in sections:
        for setting in section.settings:
            visit(setting)
    return found


def test_voice_settings_read_as_labelled_values() -> None:
    doc = persona_doc(
        layers={
            "tts": {"voice_settings": {"speed": 0.9, "stability": 0.5, "use_speaker_boost": True}}
        }
    )

    voice = _settings(doc)["Voice settings"]

    assert _parts(voice) == {"Voice speed": "0.9", "Voice stability": "0.5", "Speaker boost": "Yes"}
    assert "{" not in voice.shown.text


def test_header_values_are_masked_and_their_names_kept() -> None:
    doc = persona_doc(
        layers={"llm": {"headers": {"Authorization": "Bearer sk-SECRET", "X-Team": "support"}}}
    )

    headers = _settings(doc)["Custom LLM headers"]

    assert _parts(headers) == {"Authorization": "(hidden)", "X-Team": "(hidden)"}
    assert all(part.shown.is_secret for part in headers.parts)
    assert "SECRET" not in repr(document_summary(doc))


def test_extra_parameters_are_labelled_and_unknown_ones_keep_their_name() -> None:
    doc = persona_doc(layers={"llm": {"extra_body": {"temperature": 0.7, "top_p": 0.9, "seed": 4}}})

    extra = _settings(doc)["Extra LLM parameters"]

    assert _parts(extra) == {"Temperature": "0.7", "Top-p": "0.9", "seed": "4"}
    assert "most likely" in extra.parts[1].help


def test_tools_read_as_names_descriptions_and_parameters_in_words() -> None:
    doc = persona_doc(layers={"llm": {"tools": [WEATHER]}})

    (tool,) = _settings(doc)["LLM tools"].tools

    assert (tool.name, tool.description) == ("get_weather", "Look up the weather for a city")
    city, unit, days = tool.parameters
    assert (city.name, city.kind, city.required, city.description) == (
        "city",
        "text",
        True,
        "The city to look up",
    )
    assert (unit.required, unit.choices) == (False, ("celsius", "fahrenheit"))
    assert days.kind == "list of whole numbers"


def test_awareness_queries_are_a_list_even_of_one() -> None:
    doc = persona_doc(
        layers={"perception": {"visual_awareness_queries": ["Is the user holding a tool?"]}}
    )

    queries = _settings(doc)["Visual awareness questions"]

    assert queries.is_list
    assert queries.shown.lines == ["Is the user holding a tool?"]


def test_a_known_choice_reads_by_its_name_with_what_it_means() -> None:
    doc = persona_doc(
        pipeline_mode="echo",
        layers={"stt": {"stt_engine": "tavus-auto"}, "perception": {"perception_model": "raven-1"}},
    )

    settings = _settings(doc)

    assert settings["Pipeline mode"].shown.text == "Echo"
    assert "your own app" in settings["Pipeline mode"].meaning.lower()
    assert settings["Pipeline mode"].code == ""  # "Echo" is the value "echo"
    engine = settings["Transcription engine"]
    assert (engine.shown.text, engine.code) == ("Auto", "tavus-auto")
    assert "tone of voice" in settings["Perception model"].meaning


def test_an_unknown_choice_reads_as_it_is() -> None:
    doc = persona_doc(layers={"llm": {"model": "my-own-model"}})

    model = _settings(doc)["LLM model"]

    assert (model.shown.text, model.meaning, model.code) == ("my-own-model", "", "")


def test_jargon_settings_say_what_they_are() -> None:
    doc = persona_doc(
        layers={
            "llm": {"speculative_inference": True, "extra_body": {"top_p": 0.5}},
            "stt": {"hotwords": "Acme"},
            "conversational_flow": {
                "turn_taking_patience": "high",
                "replica_interruptibility": "low",
            },
        }
    )

    settings = _settings(doc)

    for label in (
        "Pipeline mode",
        "Speculative inference",
        "Hotwords",
        "Turn-taking patience",
        "Replica interruptibility",
    ):
        assert settings[label].help, label
    assert settings["Turn-taking patience"].meaning.startswith("Waits")


def test_a_list_of_objects_other_than_tools_reads_item_by_item() -> None:
    doc = persona_doc(layers={"transport": {"rooms": [{"name": "a"}, {"name": "b"}]}})

    rooms = _settings(doc)["Transport > Rooms"]

    assert [part.label for part in rooms.parts] == ["#1", "#2"]
    assert _parts(rooms.parts[1]) == {"Name": "b"}


def test_very_deep_values_end_as_one_line() -> None:
    doc = persona_doc(layers={"transport": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}})

    deepest = _walk(document_summary(doc))[-1]

    assert deepest.shown.full == '{"f": 1}'
    assert "\n" not in deepest.shown.full


@given(persona_docs)
def test_no_setting_is_a_json_block(doc: dict[str, Any]) -> None:
    assert not any(s.shown.is_block for s in _walk(document_summary(doc)))


@given(json_objects)
def test_any_document_can_be_summarised(doc: dict[str, Any]) -> None:
    for setting in _walk(document_summary({"layers": {"transport": doc}, **doc})):
        assert isinstance(setting.label, str)
