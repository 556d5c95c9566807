"""Required-reviewer rules as plain data: which rules a change triggers, by JSON pointer segments."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from personas_app.persona.jsontypes import JSONObject, from_pointer, lookup, to_pointer
from personas_app.persona.patching import minimal_patch
from personas_app.persona.review_rules import (
    RULE_TARGETS,
    changed_pointers,
    document_pointers,
    rule_target_groups,
    rule_target_label,
    touches,
    triggered_rules,
)
from tests.builders import persona_doc
from tests.strategies import json_objects, keys

RULES = {"tools": "/layers/llm/tools", "prompt": "/system_prompt", "voice": "/layers/tts"}


def test_a_change_inside_a_rules_part_triggers_it() -> None:
    assert triggered_rules(["/layers/llm/tools/0/function/name"], RULES) == ["tools"]


def test_a_field_whose_name_only_starts_like_the_rules_does_not_trigger_it() -> None:
    assert triggered_rules(["/layers/llm/toolsx", "/system_prompt_extra"], RULES) == []


def test_replacing_a_whole_part_around_the_rule_triggers_it() -> None:
    assert triggered_rules(["/layers/llm"], RULES) == ["tools"]


def test_a_system_prompt_change_does_not_trigger_the_tools_rule() -> None:
    assert triggered_rules(["/system_prompt"], RULES) == ["prompt"]


def test_several_rules_come_back_in_the_order_given() -> None:
    changed = ["/layers/tts/voice_settings/speed", "/layers/llm/tools/2", "/system_prompt"]
    assert triggered_rules(changed, RULES) == ["tools", "prompt", "voice"]


@given(st.lists(keys, min_size=1, max_size=4), st.lists(keys, max_size=3))
def test_any_place_inside_a_rules_part_triggers_it(rule: list[str], rest: list[str]) -> None:
    assert touches(to_pointer(rule), to_pointer([*rule, *rest]))


@given(st.lists(keys, min_size=1, max_size=4), keys, keys)
def test_a_sibling_never_triggers_the_rule(parent: list[str], mine: str, other: str) -> None:
    if mine == other:
        return
    assert not touches(to_pointer([*parent, mine]), to_pointer([*parent, other]))
    assert not touches(to_pointer([*parent, mine]), to_pointer([*parent, mine + "x"]))


@given(json_objects, json_objects)
def test_every_place_whose_value_differs_is_among_the_changed_pointers(
    before: JSONObject, after: JSONObject
) -> None:
    changed = changed_pointers(minimal_patch(before, after))
    for pointer in document_pointers(before) | document_pointers(after):
        segments = from_pointer(pointer)
        if lookup(before, segments) != lookup(after, segments):
            assert any(touches(pointer, other) for other in changed), pointer


def test_adding_a_whole_layer_touches_only_the_fields_it_holds() -> None:
    ops = [{"op": "add", "path": "/layers/tts", "value": {"tts_engine": "cartesia"}}]
    changed = changed_pointers(ops)
    assert triggered_rules(changed, RULES) == ["voice"]
    assert "/layers/tts/tts_engine" in changed


def test_a_new_persona_triggers_the_rules_for_what_it_holds() -> None:
    with_tools = persona_doc()
    with_tools["layers"]["llm"]["tools"] = [{"type": "function", "function": {"name": "lookup"}}]
    assert triggered_rules(document_pointers(persona_doc()), RULES) == ["prompt"]
    assert triggered_rules(document_pointers(with_tools), RULES) == ["tools", "prompt"]


def test_every_rule_target_has_plain_words_and_a_group() -> None:
    grouped = [pointer for _, choices in rule_target_groups() for pointer, _ in choices]
    assert sorted(grouped) == sorted(RULE_TARGETS)
    assert rule_target_label("/layers/llm/tools") == "LLM tools"
    assert rule_target_label("/layers/tts") == "Voice (the whole layer)"
    assert rule_target_label("/system_prompt") == "System prompt"
