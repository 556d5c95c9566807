"""minimal_patch, apply_patch, describe_changes and rebase (named rules + hypothesis properties)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonpatch
from hypothesis import given, settings
from hypothesis import strategies as st

from personas_app.persona.jsontypes import JSONObject
from personas_app.persona.patching import (
    Change,
    apply_patch,
    changes_by_layer,
    describe_changes,
    minimal_patch,
    op_paths,
    rebase,
    touches,
)
from personas_app.persona.payloads import READ_ONLY_FIELDS
from personas_app.persona.redaction import SECRET_MARKER
from tests import strategies as s

SEEDS = Path(__file__).parent.parent / "data" / "seeds"
# Moderate example counts keep the whole suite fast; generation dominates the run time.
PROPERTY = settings(max_examples=150, deadline=None)
QUICK_PROPERTY = settings(max_examples=80, deadline=None)


def seed(name: str) -> JSONObject:
    loaded: JSONObject = json.loads((SEEDS / name).read_text(encoding="utf-8"))
    return loaded


def life_coach() -> JSONObject:
    return seed("create_life_coach.json")


def raven1() -> JSONObject:
    return seed("create_raven1_openapi.json")


def without_read_only(doc: JSONObject) -> JSONObject:
    return {k: v for k, v in doc.items() if k not in READ_ONLY_FIELDS}


def expected_after(base: JSONObject, edited: JSONObject) -> JSONObject:
    """What applying minimal_patch(base, edited) must give: edited, with base's read-only fields."""
    expected = without_read_only(edited)
    expected.update({k: v for k, v in base.items() if k in READ_ONLY_FIELDS})
    return expected


def canonical(doc: object) -> str:
    return json.dumps(doc, sort_keys=True)


# --- named rules -----------------------------------------------------------------------------


def test_unchanged_doc_gives_empty_patch() -> None:
    assert minimal_patch(life_coach(), life_coach()) == []


def test_one_changed_scalar_is_one_replace() -> None:
    edited = life_coach()
    edited["layers"]["tts"]["tts_engine"] = "elevenlabs"
    assert minimal_patch(life_coach(), edited) == [
        {"op": "replace", "path": "/layers/tts/tts_engine", "value": "elevenlabs"}
    ]


def test_one_changed_hotword_is_one_replace() -> None:
    edited = life_coach()
    edited["layers"]["stt"]["hotwords"] = "leadership"
    assert minimal_patch(life_coach(), edited) == [
        {"op": "replace", "path": "/layers/stt/hotwords", "value": "leadership"}
    ]


def test_one_changed_hotword_in_a_list_is_one_replace() -> None:
    base = {"layers": {"stt": {"hotwords": ["Roey", "Tavus", "Sparrow"]}}}
    edited = copy.deepcopy(base)
    edited["layers"]["stt"]["hotwords"][1] = "Raven"
    assert minimal_patch(base, edited) == [
        {"op": "replace", "path": "/layers/stt/hotwords/1", "value": "Raven"}
    ]


def test_new_key_is_one_add() -> None:
    edited = life_coach()
    edited["objectives_id"] = "o12345"
    assert minimal_patch(life_coach(), edited) == [
        {"op": "add", "path": "/objectives_id", "value": "o12345"}
    ]


def test_removed_key_is_one_remove() -> None:
    edited = life_coach()
    del edited["context"]
    assert minimal_patch(life_coach(), edited) == [{"op": "remove", "path": "/context"}]


def test_new_layer_is_one_add_of_whole_layer() -> None:
    flow = {"turn_detection_model": "sparrow-1", "turn_taking_patience": "low"}
    edited = life_coach()
    edited["layers"]["conversational_flow"] = flow
    assert minimal_patch(life_coach(), edited) == [
        {"op": "add", "path": "/layers/conversational_flow", "value": flow}
    ]


def test_changed_tool_description_is_one_replace_inside_the_tool() -> None:
    base = raven1()
    base["layers"]["llm"]["tools"] = [
        copy.deepcopy(base["layers"]["llm"]["tools"][0]) for _ in range(4)
    ]
    for index, tool in enumerate(base["layers"]["llm"]["tools"]):
        tool["function"]["name"] = f"tool_{index}"
    edited = copy.deepcopy(base)
    edited["layers"]["llm"]["tools"][2]["function"]["description"] = "Say the weather out loud"
    assert minimal_patch(base, edited) == [
        {
            "op": "replace",
            "path": "/layers/llm/tools/2/function/description",
            "value": "Say the weather out loud",
        }
    ]


def test_appended_tool_is_one_add() -> None:
    tool = {"type": "function", "function": {"name": "book_meeting", "description": "Book it"}}
    edited = life_coach()
    edited["layers"]["llm"]["tools"].append(tool)
    ops = minimal_patch(life_coach(), edited)
    assert ops == [{"op": "add", "path": "/layers/llm/tools/1", "value": tool}]
    assert apply_patch(life_coach(), ops) == edited


def test_two_items_appended_to_a_longer_list_are_two_adds() -> None:
    base = {"document_ids": ["d1", "d2", "d3"]}
    edited = {"document_ids": ["d1", "d2", "d3", "d4", "d5"]}
    assert minimal_patch(base, edited) == [
        {"op": "add", "path": "/document_ids/3", "value": "d4"},
        {"op": "add", "path": "/document_ids/4", "value": "d5"},
    ]


def test_removed_item_anywhere_is_one_remove_at_its_index() -> None:
    base = {"document_tags": ["a", "b", "c", "d"]}
    assert minimal_patch(base, {"document_tags": ["a", "c", "d"]}) == [
        {"op": "remove", "path": "/document_tags/1"}
    ]
    assert minimal_patch(base, {"document_tags": ["b", "c", "d"]}) == [
        {"op": "remove", "path": "/document_tags/0"}
    ]


def test_several_removals_from_one_list_go_in_descending_order() -> None:
    base = {"document_ids": ["d0", "d1", "d2", "d3", "d4", "d5", "d6"]}
    edited = {"document_ids": ["d0", "d2", "d3", "d5", "d6"]}
    ops = minimal_patch(base, edited)
    assert ops == [
        {"op": "remove", "path": "/document_ids/4"},
        {"op": "remove", "path": "/document_ids/1"},
    ]
    assert apply_patch(base, ops) == edited


def test_mostly_changed_list_is_one_replace() -> None:
    base = {"layers": {"perception": {"visual_awareness_queries": ["a?", "b?", "c?"]}}}
    edited = {"layers": {"perception": {"visual_awareness_queries": ["x?", "y?", "c?"]}}}
    assert minimal_patch(base, edited) == [
        {
            "op": "replace",
            "path": "/layers/perception/visual_awareness_queries",
            "value": ["x?", "y?", "c?"],
        }
    ]


def test_reordered_list_is_one_replace() -> None:
    base = {"document_tags": ["a", "b", "c", "d", "e", "f"]}
    edited = {"document_tags": ["b", "a", "c", "d", "e", "f"]}
    assert minimal_patch(base, edited) == [
        {"op": "replace", "path": "/document_tags", "value": edited["document_tags"]}
    ]


def test_list_item_that_mostly_changed_is_replaced_whole() -> None:
    old = {"type": "function", "function": {"name": "a", "description": "x"}}
    new = {"type": "function", "function": {"name": "b", "description": "y"}}
    keep = {"type": "function", "function": {"name": "k", "description": "k"}}
    base = {"layers": {"llm": {"tools": [keep, old, keep]}}}
    edited = {"layers": {"llm": {"tools": [keep, new, keep]}}}
    assert minimal_patch(base, edited) == [
        {"op": "replace", "path": "/layers/llm/tools/1", "value": new}
    ]


def test_type_change_is_replace() -> None:
    base = {"layers": {"llm": {"extra_body": {"temperature": 0.7}}}}
    edited = {"layers": {"llm": {"extra_body": "none"}}}
    assert minimal_patch(base, edited) == [
        {"op": "replace", "path": "/layers/llm/extra_body", "value": "none"}
    ]


def test_bool_and_number_are_different_values() -> None:
    assert minimal_patch({"x": 1}, {"x": True}) == [{"op": "replace", "path": "/x", "value": True}]


def test_key_with_slash_and_tilde_is_escaped() -> None:
    base = {"layers": {"llm": {"headers": {"X/Y": "1", "a~b": "2"}}}}
    edited = {"layers": {"llm": {"headers": {"X/Y": "3", "a~b": "4", "~1": "5"}}}}
    ops = minimal_patch(base, edited)
    assert ops == [
        {"op": "replace", "path": "/layers/llm/headers/X~1Y", "value": "3"},
        {"op": "replace", "path": "/layers/llm/headers/a~0b", "value": "4"},
        {"op": "add", "path": "/layers/llm/headers/~01", "value": "5"},
    ]
    assert jsonpatch.apply_patch(base, ops) == edited


def test_patch_never_touches_read_only_fields() -> None:
    base = {"persona_id": "p1", "created_at": "a", "updated_at": "b", "persona_type": "user"}
    base["system_prompt"] = "Hi"
    edited = {
        "persona_id": "p2",
        "updated_at": "c",
        "persona_type": "system",
        "system_prompt": "Yo",
    }
    assert minimal_patch(base, edited) == [
        {"op": "replace", "path": "/system_prompt", "value": "Yo"}
    ]


def test_patch_uses_only_add_remove_replace_even_for_moves() -> None:
    base = {"a": {"deep": [1, 2, 3]}, "b": None}
    edited = {"b": {"deep": [1, 2, 3]}}
    ops = minimal_patch(base, edited)
    assert {op["op"] for op in ops} <= {"add", "remove", "replace"}
    assert apply_patch(base, ops) == edited


def test_patch_values_do_not_alias_the_edited_document() -> None:
    edited = life_coach()
    edited["layers"]["conversational_flow"] = {"turn_taking_patience": "low"}
    ops = minimal_patch(life_coach(), edited)
    edited["layers"]["conversational_flow"]["turn_taking_patience"] = "high"
    assert ops[0]["value"] == {"turn_taking_patience": "low"}


def test_apply_patch_returns_a_new_document() -> None:
    base = life_coach()
    result = apply_patch(base, [{"op": "replace", "path": "/persona_name", "value": "Coach"}])
    assert result["persona_name"] == "Coach"
    assert base == life_coach()


def test_guide_hotwords_example_applies() -> None:
    ops = seed("patch_hotwords.json")
    result = apply_patch(life_coach(), ops)  # type: ignore[arg-type]
    assert result["layers"]["stt"]["hotwords"] == "leadership"


def test_op_paths_and_touches() -> None:
    ops = [
        {"op": "replace", "path": "/layers/llm/model", "value": "tavus-gpt-oss"},
        {"op": "add", "path": "/layers/conversational_flow", "value": {}},
    ]
    assert op_paths(ops) == {"/layers/llm/model", "/layers/conversational_flow"}
    assert touches(ops, "/layers/llm")  # something inside it changed
    assert touches(ops, "/layers/conversational_flow/turn_taking_patience")  # its parent was set
    assert not touches(ops, "/layers/llm/tools")
    assert not touches(ops, "/layers/ll")  # prefixes count only at segment boundaries


# --- describe_changes ------------------------------------------------------------------------


def test_describe_changes_gives_labelled_before_and_after() -> None:
    edited = life_coach()
    edited["layers"]["tts"]["voice_settings"]["speed"] = 1.1
    edited["persona_name"] = "Coach"
    assert describe_changes(life_coach(), edited) == [
        Change("/persona_name", "Persona name", "identity", "Life Coach", "Coach", "changed"),
        Change("/layers/tts/voice_settings/speed", "Voice speed", "tts", "normal", 1.1, "changed"),
    ]


def test_describe_changes_shows_lists_of_strings_whole() -> None:
    edited = life_coach()
    queries = edited["layers"]["perception"]["ambient_awareness_queries"]
    queries.append("Is the user smiling?")
    [change] = describe_changes(life_coach(), edited)
    assert change.pointer == "/layers/perception/ambient_awareness_queries"
    assert change.before == life_coach()["layers"]["perception"]["ambient_awareness_queries"]
    assert change.after == queries
    assert change.layer_key == "perception"


def test_describe_changes_reports_added_and_removed_tools() -> None:
    tool = {"type": "function", "function": {"name": "book_meeting"}}
    edited = life_coach()
    edited["layers"]["llm"]["tools"].append(tool)
    del edited["layers"]["perception"]["perception_tools"]
    changes = describe_changes(life_coach(), edited)
    assert [(c.pointer, c.kind, c.label) for c in changes] == [
        ("/layers/llm/tools/1", "added", "LLM tools > #2"),
        ("/layers/perception/perception_tools", "removed", "Perception tools (legacy)"),
    ]


def test_describe_changes_masks_secrets_unless_asked() -> None:
    edited = life_coach()
    edited["layers"]["llm"]["api_key"] = "sk-new"
    [change] = describe_changes(life_coach(), edited)
    assert (change.before, change.after) == (SECRET_MARKER, SECRET_MARKER)
    [change] = describe_changes(life_coach(), edited, reveal_secrets=True)
    assert change.after == "sk-new"


def test_describe_changes_masks_secrets_inside_an_added_layer() -> None:
    base = seed("create_interviewer.json")
    edited = copy.deepcopy(base)
    edited["layers"]["llm"] = {"base_url": "https://x.test", "api_key": "sk", "headers": {"A": "b"}}
    [change] = describe_changes(base, edited)
    assert change.after == {
        "base_url": "https://x.test",
        "api_key": SECRET_MARKER,
        "headers": {"A": SECRET_MARKER},
    }


def test_changes_group_by_layer_in_editor_order() -> None:
    edited = life_coach()
    edited["layers"]["stt"]["hotwords"] = "x"
    edited["system_prompt"] = "y"
    edited["layers"]["llm"]["model"] = "tavus-gpt-oss"
    grouped = changes_by_layer(describe_changes(life_coach(), edited))
    assert [layer.key for layer, _ in grouped] == ["identity", "llm", "stt"]


def test_describe_changes_ignores_read_only_fields() -> None:
    base = {"persona_id": "p1", "updated_at": "a"}
    assert describe_changes(base, {"persona_id": "p1", "updated_at": "b"}) == []


# --- rebase ----------------------------------------------------------------------------------


def test_rebase_onto_unchanged_live_sends_the_same_ops() -> None:
    base = life_coach()
    proposed = life_coach()
    proposed["persona_name"] = "Coach"
    live = {**life_coach(), "updated_at": "later"}
    result = rebase(base, proposed, live)
    assert result.ops == minimal_patch(base, proposed)
    assert result.result["persona_name"] == "Coach"
    assert result.clean


def test_rebase_with_disjoint_outside_edit_keeps_both() -> None:
    base = life_coach()
    proposed = life_coach()
    proposed["layers"]["stt"]["hotwords"] = "leadership"
    live = life_coach()
    live["layers"]["tts"]["tts_engine"] = "elevenlabs"
    result = rebase(base, proposed, live)
    assert result.clean
    assert result.ops == [{"op": "replace", "path": "/layers/stt/hotwords", "value": "leadership"}]
    assert result.result["layers"]["tts"]["tts_engine"] == "elevenlabs"
    assert result.result["layers"]["stt"]["hotwords"] == "leadership"
    assert apply_patch(live, result.ops) == result.result


def test_rebase_with_overlapping_edit_lists_a_conflict_and_no_ops() -> None:
    base = life_coach()
    proposed = life_coach()
    proposed["layers"]["stt"]["hotwords"] = "leadership"
    live = life_coach()
    live["layers"]["stt"]["hotwords"] = "coaching"
    result = rebase(base, proposed, live)
    assert result.ops == []
    assert result.result == live
    [conflict] = result.conflicts
    assert conflict.pointer == "/layers/stt/hotwords"
    assert conflict.label == "Hotwords"
    assert conflict.base == base["layers"]["stt"]["hotwords"]
    assert (conflict.live, conflict.proposed) == ("coaching", "leadership")


def test_rebase_conflicts_when_live_removed_the_edited_layer() -> None:
    base = life_coach()
    proposed = life_coach()
    proposed["layers"]["stt"]["hotwords"] = "leadership"
    live = life_coach()
    del live["layers"]["stt"]
    [conflict] = rebase(base, proposed, live).conflicts
    assert conflict.pointer == "/layers/stt"
    assert conflict.live is None
    assert conflict.proposed == proposed["layers"]["stt"]


def test_rebase_treats_a_list_changed_on_both_sides_as_a_conflict() -> None:
    base = raven1()
    proposed = raven1()
    proposed["layers"]["perception"]["visual_tools"][0]["function"]["description"] = "new"
    live = raven1()
    live["layers"]["perception"]["visual_tools"].insert(0, {"type": "function", "function": {}})
    [conflict] = rebase(base, proposed, live).conflicts
    assert conflict.pointer == "/layers/perception/visual_tools"


def test_rebase_accepts_the_same_change_made_on_both_sides() -> None:
    base = life_coach()
    proposed = life_coach()
    proposed["persona_name"] = "Coach"
    proposed["context"] = "New context"
    live = life_coach()
    live["persona_name"] = "Coach"
    result = rebase(base, proposed, live)
    assert result.clean
    assert result.ops == [{"op": "replace", "path": "/context", "value": "New context"}]


# --- properties ------------------------------------------------------------------------------


@PROPERTY
@given(s.unrelated_pairs())
def test_patch_of_unrelated_documents_applies_exactly(pair: tuple[JSONObject, JSONObject]) -> None:
    base, edited = pair
    ops = minimal_patch(base, edited)
    assert canonical(jsonpatch.apply_patch(base, ops)) == canonical(expected_after(base, edited))


@PROPERTY
@given(s.related_pairs())
def test_patch_of_edited_document_applies_exactly(pair: tuple[JSONObject, JSONObject]) -> None:
    base, edited = pair
    ops = minimal_patch(base, edited)
    assert canonical(jsonpatch.apply_patch(base, ops)) == canonical(expected_after(base, edited))
    assert {op["op"] for op in ops} <= {"add", "remove", "replace"}
    assert not any(touches(ops, f"/{field}") for field in READ_ONLY_FIELDS)
    # Locality: a top-level key whose value did not change is never written.
    for key in base.keys() & edited.keys():
        if canonical(base[key]) == canonical(edited[key]):
            assert not touches(ops, "/" + key.replace("~", "~0").replace("/", "~1"))
    # With nothing changed live, rebasing sends exactly the same patch.
    outcome = rebase(base, edited, copy.deepcopy(base))
    assert outcome.clean
    assert outcome.ops == ops


@QUICK_PROPERTY
@given(s.documents)
def test_patch_of_a_document_with_itself_is_empty(doc: JSONObject) -> None:
    assert minimal_patch(doc, copy.deepcopy(doc)) == []


@PROPERTY
@given(s.documents.flatmap(lambda base: s.single_edits(base).map(lambda e: (base, e))))
def test_a_single_edit_is_a_single_op(pair: tuple[JSONObject, JSONObject]) -> None:
    base, edited = pair
    ops = minimal_patch(base, edited)
    assert len(ops) == 1
    assert canonical(apply_patch(base, ops)) == canonical(edited)


def _changed(draw: st.DrawFn, doc: JSONObject, key: str) -> None:
    # Edit inside doc[key], replace it, or delete it.
    how = draw(st.sampled_from(["edit", "replace", "delete"]))
    if how == "delete":
        del doc[key]
    elif how == "replace":
        doc[key] = draw(s.json_values)
    else:
        wrapped = draw(s.edits({"v": doc[key]}))
        if "v" in wrapped:
            doc[key] = wrapped["v"]
        else:
            del doc[key]


@st.composite
def three_way_disjoint(draw: st.DrawFn) -> tuple[JSONObject, JSONObject, JSONObject, str]:
    """(base, proposed, live, key): proposed and live change different top-level keys."""
    base = without_read_only(draw(s.json_objects))
    base.setdefault("k1", [1, {"a": 2}])
    base.setdefault("k2", {"b": [3]})
    keys = draw(st.lists(st.sampled_from(sorted(base)), min_size=2, max_size=2, unique=True))
    mine, theirs = keys
    proposed, live = copy.deepcopy(base), copy.deepcopy(base)
    _changed(draw, proposed, mine)
    _changed(draw, live, theirs)
    return base, proposed, live, mine


@QUICK_PROPERTY
@given(three_way_disjoint())
def test_rebase_of_disjoint_edits_merges_both(
    case: tuple[JSONObject, JSONObject, JSONObject, str],
) -> None:
    base, proposed, live, mine = case
    outcome = rebase(base, proposed, live)
    assert outcome.clean
    expected = copy.deepcopy(live)
    if mine in proposed:
        expected[mine] = proposed[mine]
    else:
        expected.pop(mine, None)
    assert canonical(outcome.result) == canonical(expected)
    assert canonical(apply_patch(live, outcome.ops)) == canonical(outcome.result)


@st.composite
def three_way(draw: st.DrawFn) -> tuple[JSONObject, JSONObject, JSONObject]:
    """(base, proposed, live): two independent edits of the same document."""
    base = draw(s.documents)
    return base, draw(s.edits(base)), draw(s.edits(base))


@QUICK_PROPERTY
@given(three_way())
def test_rebase_either_applies_cleanly_or_sends_nothing(
    case: tuple[JSONObject, JSONObject, JSONObject],
) -> None:
    base, proposed, live = case
    outcome = rebase(base, proposed, live)
    if outcome.clean:
        assert canonical(apply_patch(live, outcome.ops)) == canonical(outcome.result)
        # Whatever the proposal did not touch is exactly as it is live.
        for key in live.keys() & base.keys():
            if key not in READ_ONLY_FIELDS and canonical(proposed.get(key)) == canonical(base[key]):
                assert canonical(outcome.result.get(key)) == canonical(live[key])
    else:
        assert outcome.ops == []
        assert outcome.result == live
        assert all(c.pointer for c in outcome.conflicts) or outcome.conflicts


def test_carry_over_keeps_outside_edits_and_my_values_where_both_changed() -> None:
    from personas_app.persona.patching import carry_over

    base = {"persona_name": "A", "context": "c0", "layers": {"stt": {"hotwords": "x"}}}
    proposed = {"persona_name": "Mine", "context": "c0", "layers": {"stt": {"hotwords": "mine"}}}
    live = {"persona_name": "Theirs", "context": "c1", "layers": {"stt": {"hotwords": "x"}}}

    assert carry_over(base, proposed, live) == {
        "persona_name": "Mine",
        "context": "c1",
        "layers": {"stt": {"hotwords": "mine"}},
    }


def test_carry_over_creates_a_layer_that_live_lost() -> None:
    from personas_app.persona.patching import carry_over

    base = {"layers": {"tts": {"tts_engine": "cartesia"}}}
    proposed = {"layers": {"tts": {"tts_engine": "elevenlabs"}}}

    assert carry_over(base, proposed, {"layers": {}}) == proposed


@given(s.related_pairs())
@settings(max_examples=100, deadline=None)
def test_carry_over_onto_unchanged_live_gives_the_proposal(
    pair: tuple[JSONObject, JSONObject],
) -> None:
    from personas_app.persona.patching import carry_over

    base, proposed = pair
    assert canonical(without_read_only(carry_over(base, proposed, base))) == canonical(
        without_read_only(proposed)
    )
