"""persona_problems / validate_persona: the seeds pass, each documented error reads plainly."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from personas_app.persona.jsontypes import JSON, JSONObject
from personas_app.persona.schema import (
    Problem,
    _plainly_valid,
    _validator,
    persona_problems,
    persona_schema,
    validate_persona,
)
from tests import strategies as s

SEEDS = Path(__file__).parent.parent / "data" / "seeds"


def seed(name: str) -> JSONObject:
    loaded: JSONObject = json.loads((SEEDS / name).read_text(encoding="utf-8"))
    return loaded


def with_tools(*tools: JSON, where: str = "llm", key: str = "tools") -> JSONObject:
    return {"system_prompt": "Hi", "layers": {where: {key: list(tools)}}}


def tool(name: str = "get_weather", parameters: JSON = None) -> JSONObject:
    function: JSONObject = {"name": name, "description": "d"}
    if parameters is not None:
        function["parameters"] = parameters
    return {"type": "function", "function": function}


def problems_at(doc: JSONObject, path: tuple[str | int, ...]) -> list[str]:
    return [p.message for p in persona_problems(doc) if p.path == path]


@pytest.mark.parametrize("name", sorted(p.name for p in SEEDS.glob("create_*.json")))
def test_seed_create_bodies_are_valid(name: str) -> None:
    assert validate_persona(seed(name)) == []


def test_seed_list_response_item_is_valid() -> None:
    [item] = seed("list_response.json")["data"]  # type: ignore[misc]
    assert validate_persona(item) == []


def test_schema_file_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(persona_schema())
    # The compiled form (references inlined) is what validates; it must be valid too.
    Draft202012Validator.check_schema(_validator().schema)


def test_unknown_fields_are_allowed_everywhere() -> None:
    doc = seed("create_interviewer.json")
    doc["brand_new_field"] = {"x": 1}
    doc["layers"]["perception"]["raven_9_knob"] = True
    doc["layers"]["future_layer"] = {"a": [1]}
    assert validate_persona(doc) == []


def test_null_means_not_set() -> None:
    doc = seed("create_interviewer.json")
    doc["context"] = None
    doc["layers"]["conversational_flow"]["turn_taking_patience"] = None
    assert validate_persona(doc) == []


def test_cartesia_speed_word_and_fraction_are_valid() -> None:
    for speed in ("normal", 0.5, -0.5, 1.1):
        doc = {"system_prompt": "Hi", "layers": {"tts": {"voice_settings": {"speed": speed}}}}
        assert validate_persona(doc) == [], speed


@pytest.mark.parametrize("value", [True, False, "true", "false"])
def test_emotion_control_accepts_bool_or_bool_text(value: JSON) -> None:
    doc = {"system_prompt": "Hi", "layers": {"tts": {"tts_emotion_control": value}}}
    assert validate_persona(doc) == []


@pytest.mark.parametrize(
    ("layer", "field", "value"),
    [
        ("stt", "stt_engine", "tavus-turbo"),
        ("stt", "stt_engine", "tavus-advanced"),
        ("stt", "stt_engine", "tavus-auto"),
        ("stt", "stt_engine", "tavus-deepgram-medical"),
        ("perception", "perception_model", "raven-1"),
        ("perception", "perception_model", "raven-0"),
        ("perception", "perception_model", "basic"),
        ("perception", "perception_model", "off"),
        ("conversational_flow", "turn_detection_model", "sparrow-1"),
        ("conversational_flow", "turn_detection_model", "sparrow-0"),
        ("conversational_flow", "turn_detection_model", "sparrow-2"),
        ("conversational_flow", "turn_detection_model", "time-based"),
        ("conversational_flow", "turn_detection_model", "timebased"),
        ("conversational_flow", "active_listening", "off"),
        ("tts", "tts_engine", "azure"),
        ("tts", "tts_engine", "playht"),
    ],
)
def test_every_documented_enum_value_is_accepted(layer: str, field: str, value: str) -> None:
    assert validate_persona({"system_prompt": "Hi", "layers": {layer: {field: value}}}) == []


def test_bad_enum_lists_the_choices() -> None:
    doc = {"system_prompt": "Hi", "layers": {"conversational_flow": {"turn_taking_patience": "x"}}}
    assert validate_persona(doc) == [
        "layers.conversational_flow.turn_taking_patience: Choose one of: low, medium, high"
    ]


def test_wrong_type_says_what_is_expected() -> None:
    assert validate_persona({"system_prompt": "Hi", "document_ids": "d1"}) == [
        "document_ids: Must be a list."
    ]
    assert problems_at({"system_prompt": "Hi", "persona_name": 5}, ("persona_name",)) == [
        "Must be text."
    ]


def test_hotwords_must_be_one_text() -> None:
    doc = {"system_prompt": "Hi", "layers": {"stt": {"hotwords": ["Roey", "Tavus"]}}}
    [problem] = persona_problems(doc)
    assert problem.dotted == "layers.stt.hotwords"
    assert "one piece of text" in problem.message


def test_elevenlabs_fractions_have_a_range() -> None:
    doc = {"system_prompt": "Hi", "layers": {"tts": {"voice_settings": {"stability": 1.5}}}}
    assert validate_persona(doc) == [
        "layers.tts.voice_settings.stability: Must be between 0 and 1."
    ]


def test_missing_system_prompt_in_full_mode_is_an_error() -> None:
    for doc in ({"pipeline_mode": "full"}, {"pipeline_mode": "full", "system_prompt": "  "}, {}):
        [problem] = persona_problems(doc)
        assert problem.path == ("system_prompt",)
        assert "system prompt" in problem.message


def test_echo_mode_without_system_prompt_is_valid() -> None:
    doc = {"pipeline_mode": "echo", "layers": {"transport": {"transport_type": "livekit"}}}
    assert validate_persona(doc) == []


def test_pipeline_mode_custom_is_rejected() -> None:
    assert problems_at({"pipeline_mode": "custom", "system_prompt": "Hi"}, ("pipeline_mode",)) == [
        "Choose one of: full, echo"
    ]


def test_duplicate_tool_names_are_an_error_on_the_second() -> None:
    doc = with_tools(tool("get_weather"), tool("book"), tool("get_weather"))
    assert validate_persona(doc) == [
        'layers.llm.tools[2].function.name: Tool 1 in this list is already called "get_weather". '
        "Give each tool its own name."
    ]


def test_same_tool_name_in_different_lists_is_fine() -> None:
    doc = with_tools(tool("notify"))
    doc["layers"]["perception"] = {"visual_tools": [tool("notify")]}
    assert validate_persona(doc) == []


@pytest.mark.parametrize("name", ["get weather", "1st_tool", "get-weather", ""])
def test_invalid_tool_name_is_an_error(name: str) -> None:
    [problem] = persona_problems(with_tools(tool(name)))
    assert problem.path == ("layers", "llm", "tools", 0, "function", "name")
    assert "letters, digits and underscores" in problem.message


def test_perception_tool_names_must_be_lowercase() -> None:
    doc = with_tools(tool("NotifyIfIdShown"), where="perception", key="visual_tools")
    assert [p.message for p in persona_problems(doc)] == [
        "Perception tool names must be lowercase snake_case (for example notify_if_id_shown)."
    ]


def test_tool_without_function_or_name_points_at_the_missing_field() -> None:
    doc = with_tools({"type": "function"}, {"type": "function", "function": {}})
    assert validate_persona(doc) == [
        "layers.llm.tools[0].function: Add the function: its name, a description and its "
        "parameters.",
        "layers.llm.tools[1].function.name: Give the tool a name.",
    ]


def test_tool_type_must_be_function() -> None:
    doc = with_tools({"type": "retrieval", "function": {"name": "x"}})
    assert problems_at(doc, ("layers", "llm", "tools", 0, "type")) == [
        'Set the tool type to "function" (the only kind Tavus supports).'
    ]


def test_parameters_must_be_type_object() -> None:
    doc = with_tools(tool(parameters={"type": "array"}))
    assert validate_persona(doc) == [
        'layers.llm.tools[0].function.parameters.type: Parameters need "type": "object".'
    ]
    doc = with_tools(tool(parameters={"properties": {}}))
    assert validate_persona(doc) == [
        'layers.llm.tools[0].function.parameters.type: Parameters need "type": "object".'
    ]


def test_parameters_must_be_a_valid_json_schema() -> None:
    doc = with_tools(tool(parameters={"type": "object", "properties": 5}))
    assert validate_persona(doc) == [
        "layers.llm.tools[0].function.parameters.properties: The tool's parameters are not a "
        "valid JSON Schema here: must be a group of settings."
    ]


def test_parameters_with_a_bad_regex_or_type_name_are_reported() -> None:
    bad = {"type": "object", "properties": {"a": {"type": "strng"}, "b": {"pattern": "["}}}
    messages = validate_persona(with_tools(tool(parameters=bad)))
    assert len(messages) == 2
    assert messages[0].startswith("layers.llm.tools[0].function.parameters.properties.a.type:")
    assert messages[1].endswith("not a valid regular expression.")


def test_parameters_of_perception_tools_are_checked_too() -> None:
    doc = with_tools(
        tool("notify", {"type": "object", "required": "id"}),
        where="perception",
        key="audio_tools",
    )
    [problem] = persona_problems(doc)
    assert problem.dotted == "layers.perception.audio_tools[0].function.parameters.required"


def test_not_an_object_is_one_problem() -> None:
    assert validate_persona(["not", "a", "persona"]) == [  # type: ignore[arg-type]
        "A persona must be a group of settings (a JSON object)."
    ]


def test_problems_are_ordered_by_path() -> None:
    doc = {
        "persona_name": 1,
        "layers": {"tts": {"tts_engine": "x"}, "llm": {"model": 5}},
        "context": 2,
    }
    paths = [p.dotted for p in persona_problems(doc)]
    assert paths == sorted(paths)
    assert paths == [
        "context",
        "layers.llm.model",
        "layers.tts.tts_engine",
        "persona_name",
        "system_prompt",
    ]


def test_problem_formats() -> None:
    problem = Problem(("layers", "llm", "tools", 0, "function", "name"), "Bad")
    assert problem.dotted == "layers.llm.tools[0].function.name"
    assert problem.pointer == "/layers/llm/tools/0/function/name"
    assert problem.label == "LLM tools > #1 > Name"
    assert str(problem) == "LLM tools > #1 > Name: Bad"  # what pages show
    assert str(Problem((), "Whole thing")) == "Whole thing"


def test_validating_a_large_persona_is_fast() -> None:
    def big_tool(i: int) -> JSONObject:
        props = {f"p{j}": {"type": "string", "description": f"param {j}"} for j in range(10)}
        return tool(f"tool_{i}", {"type": "object", "properties": props, "required": ["p0"]})

    doc: JSONObject = {
        "system_prompt": "x" * 20_000,
        "layers": {
            "llm": {"tools": [big_tool(i) for i in range(50)]},
            "perception": {
                "visual_awareness_queries": [f"Is {i}?" for i in range(100)],
                "audio_awareness_queries": [f"Sounds {i}?" for i in range(20)],
            },
        },
    }
    assert validate_persona(doc) == []
    started = time.perf_counter()
    for _ in range(10):
        validate_persona(doc)
    per_call = (time.perf_counter() - started) / 10
    # A few ms normally; the bound leaves room for a loaded CI machine.
    assert per_call < 0.05


# The fast path may only ever say "valid" when the real meta-schema agrees.
_META = Draft202012Validator(
    Draft202012Validator.META_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER
)
_keywords = st.sampled_from(
    [
        "type",
        "properties",
        "items",
        "required",
        "enum",
        "minimum",
        "maxLength",
        "description",
        "anyOf",
        "additionalProperties",
        "pattern",
        "$ref",
        "uniqueItems",
        "const",
        "x-extra",
    ]
)
_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-2, 3),
        st.floats(-1, 2, allow_nan=False),
        st.sampled_from(["string", "object", "strng", "[", "a", "#"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(_keywords | st.text(max_size=2), inner, max_size=3),
    ),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_keywords, _values, max_size=4))
def test_fast_meta_check_never_accepts_what_the_meta_schema_rejects(schema: JSONObject) -> None:
    if _plainly_valid(schema):
        assert _META.is_valid(schema)


def test_fast_meta_check_covers_the_seed_tools() -> None:
    for name in ("create_life_coach.json", "create_raven1_openapi.json"):
        doc = seed(name)
        for layer in doc["layers"].values():
            for key in ("tools", "visual_tools", "audio_tools", "perception_tools"):
                for item in layer.get(key, []):
                    assert _plainly_valid(copy.deepcopy(item["function"]["parameters"]))


@given(s.related_pairs())
@settings(max_examples=150, deadline=None)
def test_layer_by_layer_checking_agrees_with_the_whole_document(pair: tuple[dict, dict]) -> None:
    from personas_app.persona.schema import _whole_document_problems

    for doc in pair:
        assert persona_problems(doc) == _whole_document_problems(doc)


def test_layer_by_layer_checking_agrees_on_broken_documents() -> None:
    from personas_app.persona.schema import _whole_document_problems

    broken = seed("create_life_coach.json")
    broken["pipeline_mode"] = "sideways"
    broken["layers"]["llm"]["tools"][0]["function"]["name"] = "bad name"
    broken["layers"]["tts"]["tts_engine"] = 7
    broken["layers"]["stt"] = "not an object"
    broken["layers"]["perception"]["perception_tools"].append(
        broken["layers"]["perception"]["perception_tools"][0]
    )
    broken["system_prompt"] = ""

    first = persona_problems(broken)
    assert first == _whole_document_problems(broken)
    assert persona_problems(broken) == first  # and again, from the cache


@given(s.related_pairs())
@settings(max_examples=150, deadline=None)
def test_checking_against_the_starting_document_gives_the_same_problems(
    pair: tuple[dict, dict],
) -> None:
    import uuid

    from personas_app.persona.schema import _whole_document_problems

    start, edited = pair
    # What the editor does: the edited document shares every untouched layer with its start.
    shared = dict(edited)
    if isinstance(start.get("layers"), dict) and isinstance(edited.get("layers"), dict):
        shared["layers"] = {
            k: start["layers"][k] if k in start["layers"] and start["layers"][k] == v else v
            for k, v in edited["layers"].items()
        }
    name = uuid.uuid4().hex  # stands for this start's content only
    for doc in (start, edited, shared, start):
        assert persona_problems(doc, reference=(name, start)) == _whole_document_problems(doc)


def test_a_layer_edited_away_from_the_start_is_checked_afresh() -> None:
    start = seed("create_life_coach.json")
    persona_problems(start, reference=("life-coach-start", start))
    edited = dict(start, layers=dict(start["layers"]))
    edited["layers"]["llm"] = dict(edited["layers"]["llm"], tools=[tool("bad name")])

    problems = persona_problems(edited, reference=("life-coach-start", start))

    assert [p.path for p in problems] == [("layers", "llm", "tools", 0, "function", "name")]
    assert persona_problems(start, reference=("life-coach-start", start)) == []


@pytest.mark.parametrize(
    ("a", "b"),
    [(True, 1), (1, 1.0), (0.0, -0.0), ({"a": 1}, {"a": True}), ([1], [1.0]), ({"a": 1}, {})],
)
def test_values_equal_in_python_but_not_in_json_are_not_the_same_layer(a: JSON, b: JSON) -> None:
    from personas_app.persona.schema import _identical

    assert not _identical({"x": a}, {"x": b})
    assert _identical({"x": a}, {"x": copy.deepcopy(a)})
