"""persona.edits: one edit for many personas; a step with nothing to do changes nothing."""

from __future__ import annotations

from typing import Any

from personas_app.persona.edits import apply_edit, edit_problems


def _tool(name: str, description: str = "d") -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": description}}


DOC: dict[str, Any] = {
    "persona_name": "A",
    "layers": {
        "llm": {"model": "m", "tools": [_tool("get_weather"), _tool("book")]},
        "stt": {"hotwords": "Acme, trowel"},
    },
}


def test_set_creates_missing_parents_and_leaves_the_input_alone() -> None:
    edited = apply_edit(DOC, [{"op": "set", "path": "/layers/tts/tts_engine", "value": "x"}])
    assert edited["layers"]["tts"] == {"tts_engine": "x"}
    assert "tts" not in DOC["layers"]


def test_a_hotword_is_added_once_and_removed_by_word() -> None:
    add = [{"op": "add_item", "path": "/layers/stt/hotwords", "value": "Sparrow"}]
    once = apply_edit(DOC, add)
    assert once["layers"]["stt"]["hotwords"] == "Acme, trowel, Sparrow"
    assert apply_edit(once, add) == once
    removed = apply_edit(
        once, [{"op": "remove_item", "path": "/layers/stt/hotwords", "value": "trowel"}]
    )
    assert removed["layers"]["stt"]["hotwords"] == "Acme, Sparrow"


def test_an_item_added_to_a_missing_list_makes_a_list_but_hotwords_stay_text() -> None:
    tags = apply_edit(DOC, [{"op": "add_item", "path": "/document_tags", "value": "faq"}])
    assert tags["document_tags"] == ["faq"]
    bare = {"layers": {}}
    words = apply_edit(bare, [{"op": "add_item", "path": "/layers/stt/hotwords", "value": "Acme"}])
    assert words["layers"]["stt"]["hotwords"] == "Acme"


def test_tools_are_matched_by_name() -> None:
    tools = "/layers/llm/tools"
    assert (
        apply_edit(DOC, [{"op": "add_item", "path": tools, "value": _tool("book", "other")}]) == DOC
    )
    removed = apply_edit(DOC, [{"op": "remove_item", "path": tools, "value": "book"}])
    assert removed["layers"]["llm"]["tools"] == [_tool("get_weather")]
    replaced = apply_edit(
        DOC, [{"op": "replace_tool", "name": "get_weather", "value": _tool("get_weather", "new")}]
    )
    assert replaced["layers"]["llm"]["tools"][0] == _tool("get_weather", "new")
    missing = [{"op": "replace_tool", "name": "nope", "value": _tool("nope")}]
    assert apply_edit(DOC, missing) == DOC


def test_edit_problems_name_the_step() -> None:
    assert edit_problems([{"op": "set", "path": "/context", "value": "x"}]) == []
    assert edit_problems([]) == ["An edit is a non-empty list of steps."]
    assert edit_problems([{"op": "explode"}])[0].startswith("Step 1: “op” must be one of")
    assert "Step 2: “value” is missing." in edit_problems(
        [{"op": "remove", "path": "/context"}, {"op": "set", "path": "/context"}]
    )
