"""legacy_fields / migrate_legacy / describe_migration (api-notes 2.8)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from hypothesis import given, settings

from personas_app.persona.jsontypes import JSONObject
from personas_app.persona.legacy import (
    describe_migration,
    invert_level,
    legacy_fields,
    migrate_legacy,
)
from personas_app.persona.schema import validate_persona
from personas_app.persona.templates import template_doc
from tests import strategies as s

SEEDS = Path(__file__).parent.parent / "data" / "seeds"


def seed(name: str) -> JSONObject:
    loaded: JSONObject = json.loads((SEEDS / name).read_text(encoding="utf-8"))
    return loaded


def life_coach() -> JSONObject:
    return seed("create_life_coach.json")


def test_invert_level() -> None:
    assert [invert_level(x) for x in ("low", "medium", "high")] == ["high", "medium", "low"]


def test_life_coach_legacy_fields_are_found() -> None:
    assert legacy_fields(life_coach()) == [
        "/layers/stt/smart_turn_detection",
        "/layers/stt/participant_pause_sensitivity",
        "/layers/stt/participant_interrupt_sensitivity",
        "/layers/stt/stt_engine",
        "/layers/perception/perception_model",
        "/layers/perception/ambient_awareness_queries",
        "/layers/perception/perception_tool_prompt",
        "/layers/perception/perception_tools",
        "/layers/tts/playht_user_id",
    ]


def test_life_coach_migrates_to_current_fields() -> None:
    old = life_coach()
    new = migrate_legacy(old)
    layers = new["layers"]
    assert layers["conversational_flow"] == {
        "turn_detection_model": "sparrow-1",
        "turn_taking_patience": "low",  # pause sensitivity was high
        "replica_interruptibility": "low",  # interrupt sensitivity was high
    }
    assert layers["stt"] == {
        "stt_engine": "tavus-auto",
        "hotwords": old["layers"]["stt"]["hotwords"],
    }
    perception = old["layers"]["perception"]
    assert layers["perception"] == {
        "perception_model": "raven-1",
        "visual_awareness_queries": perception["ambient_awareness_queries"],
        "visual_tool_prompt": perception["perception_tool_prompt"],
        "visual_tools": perception["perception_tools"],
    }
    assert "playht_user_id" not in layers["tts"]
    assert legacy_fields(new) == []
    assert validate_persona(new) == []


def test_migration_leaves_unrelated_fields_untouched() -> None:
    old = life_coach()
    old["layers"]["stt"]["future_knob"] = 7
    old["brand_new"] = {"x": 1}
    new = migrate_legacy(old)
    for key in ("persona_name", "system_prompt", "context", "default_replica_id", "brand_new"):
        assert new[key] == old[key]
    assert new["layers"]["llm"] == old["layers"]["llm"]
    assert new["layers"]["stt"]["future_knob"] == 7
    old_tts = {k: v for k, v in old["layers"]["tts"].items() if k != "playht_user_id"}
    assert new["layers"]["tts"] == old_tts


def test_migrate_does_not_mutate_its_input() -> None:
    old = life_coach()
    migrate_legacy(old)
    describe_migration(old)
    assert old == life_coach()


def test_existing_conversational_flow_wins() -> None:
    doc: JSONObject = {
        "system_prompt": "Hi",
        "layers": {
            "stt": {
                "participant_pause_sensitivity": "high",
                "participant_interrupt_sensitivity": "low",
                "smart_turn_detection": True,
            },
            "conversational_flow": {
                "turn_taking_patience": "medium",
                "turn_detection_model": "time-based",
            },
        },
    }
    new = migrate_legacy(doc)
    assert new["layers"]["conversational_flow"] == {
        "turn_taking_patience": "medium",
        "turn_detection_model": "time-based",
        "replica_interruptibility": "high",
    }
    assert "stt" not in new["layers"]  # it held only legacy fields
    lines = describe_migration(doc)
    assert any("already 'medium'" in line for line in lines)


def test_smart_turn_detection_off_is_just_dropped() -> None:
    doc: JSONObject = {"layers": {"stt": {"smart_turn_detection": False, "hotwords": "x"}}}
    assert migrate_legacy(doc) == {"layers": {"stt": {"hotwords": "x"}}}


def test_ambient_queries_merge_into_existing_visual_queries() -> None:
    doc: JSONObject = {
        "layers": {
            "perception": {
                "visual_awareness_queries": ["A?", "B?"],
                "ambient_awareness_queries": ["B?", "C?"],
            }
        }
    }
    assert migrate_legacy(doc)["layers"]["perception"] == {
        "visual_awareness_queries": ["A?", "B?", "C?"]
    }


def test_perception_tools_merge_without_duplicate_names() -> None:
    def tool(name: str, description: str) -> JSONObject:
        return {"type": "function", "function": {"name": name, "description": description}}

    doc: JSONObject = {
        "layers": {
            "perception": {
                "visual_tools": [tool("a", "new")],
                "perception_tools": [tool("a", "old"), tool("b", "old")],
            }
        }
    }
    assert migrate_legacy(doc)["layers"]["perception"]["visual_tools"] == [
        tool("a", "new"),
        tool("b", "old"),
    ]


def test_vqa_layer_is_dropped() -> None:
    doc: JSONObject = {"system_prompt": "Hi", "layers": {"vqa": {"enable_vision": "false"}}}
    assert legacy_fields(doc) == ["/layers/vqa"]
    assert migrate_legacy(doc) == {"system_prompt": "Hi", "layers": {}}


def test_describe_migration_explains_the_inversion() -> None:
    lines = describe_migration(life_coach())
    assert (
        "Pause sensitivity 'high' becomes turn-taking patience 'low' (the old scale ran the other "
        "way)." in lines
    )
    assert len(lines) == len(legacy_fields(life_coach()))


def test_current_only_documents_are_unchanged() -> None:
    for doc in (
        seed("create_interviewer.json"),
        template_doc("life_coach"),
        template_doc("customer_support"),
        {"system_prompt": "Hi", "layers": {"stt": {}}},
    ):
        assert legacy_fields(doc) == []
        assert migrate_legacy(doc) == doc
        assert describe_migration(doc) == []


def test_life_coach_template_is_the_migrated_seed() -> None:
    migrated = migrate_legacy(life_coach())["layers"]
    template = template_doc("life_coach")["layers"]
    for layer in ("perception", "conversational_flow"):
        assert template[layer] == migrated[layer]


@settings(max_examples=100, deadline=None)
@given(s.persona_docs)
def test_migration_removes_every_legacy_field_and_is_idempotent(doc: JSONObject) -> None:
    before = copy.deepcopy(doc)
    migrated = migrate_legacy(doc)
    assert doc == before
    assert legacy_fields(migrated) == []
    assert migrate_legacy(migrated) == migrated
