"""diffview: changes grouped by editor section, values formatted to read, secrets never shown."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from personas_app.persona.diffs import (
    TRUNCATE_AT,
    change_summary,
    describe_snapshots,
    document_summary,
    group_changes,
    patch_snapshots,
    show_value,
    text_diff,
    with_secret_changes,
)
from personas_app.persona.jsontypes import JSON, JSONObject
from personas_app.persona.patching import describe_changes, minimal_patch
from personas_app.persona.redaction import SECRET_MARKER, redact
from tests import strategies as s
from tests.builders import persona_doc


def _doc(**overrides: Any) -> dict[str, Any]:
    return persona_doc(**overrides)


def test_changes_are_grouped_by_section_in_editor_order() -> None:
    before = _doc()
    after = _doc(persona_name="Renamed")
    after["layers"]["conversational_flow"]["turn_taking_patience"] = "high"
    after["layers"]["llm"]["model"] = "tavus-gpt-5.2"

    groups = group_changes(describe_changes(before, after))

    assert [title for title, _ in groups] == ["Identity", "Language model & tools", "Turn-taking"]
    assert [c.label for c in groups[0][1]] == ["Persona name"]
    assert [c.label for c in groups[2][1]] == ["Turn-taking patience"]


def test_no_change_gives_no_group() -> None:
    assert group_changes(describe_changes(_doc(), _doc())) == []


def test_unknown_layer_goes_under_other_settings() -> None:
    after = _doc()
    after["layers"]["transport"] = {"transport_type": "livekit"}

    [(title, changes)] = group_changes(describe_changes(_doc(), after))

    assert title == "Other settings" and changes[0].kind == "added"


def test_short_string_is_shown_as_is() -> None:
    shown = show_value("tavus-gpt-oss", pointer="/layers/llm/model")
    assert (shown.text, shown.truncated, shown.is_empty) == ("tavus-gpt-oss", False, False)


def test_long_string_is_truncated_with_the_full_value_kept() -> None:
    prompt = "word " * 100

    shown = show_value(prompt, pointer="/system_prompt")

    assert shown.truncated and shown.text.endswith("…")
    assert len(shown.text) <= TRUNCATE_AT + 1
    assert shown.full == prompt


def test_list_is_one_item_per_line() -> None:
    shown = show_value(["How many fingers?", "Is there a cat?"])
    assert shown.lines == ["How many fingers?", "Is there a cat?"]


def test_missing_or_empty_value_reads_not_set() -> None:
    for value in (None, "", [], {}):
        assert show_value(value).text == "(not set)"


def test_booleans_read_yes_and_no() -> None:
    assert (show_value(True).text, show_value(False).text) == ("Yes", "No")


def test_objects_are_indented_json_with_secrets_masked() -> None:
    shown = show_value({"Authorization": "Bearer tok-SECRET"}, pointer="/layers/llm/headers")
    assert shown.is_block and "tok-SECRET" not in shown.text and SECRET_MARKER in shown.text


def test_secret_value_is_hidden_even_when_passed_in_clear() -> None:
    shown = show_value("sk-live-SECRET123", pointer="/layers/llm/api_key")
    assert shown.is_secret and shown.text == "(hidden)"
    assert show_value(SECRET_MARKER).text == "(hidden)"


def test_secret_change_reads_changed_hidden() -> None:
    before = _doc(layers={"llm": {"model": "m", "api_key": "sk-old"}})
    after = _doc(layers={"llm": {"model": "m", "api_key": "sk-new"}})

    [change] = describe_changes(before, after)

    assert change_summary(change) == "changed (hidden)"
    assert "sk-" not in repr((show_value(change.before, pointer=change.pointer),))


def test_secret_added_and_removed_read_plainly() -> None:
    without = _doc(layers={"tts": {"tts_engine": "cartesia"}})
    with_key = _doc(layers={"tts": {"tts_engine": "cartesia", "api_key": "k-123"}})

    [added] = describe_changes(without, with_key)
    [removed] = describe_changes(with_key, without)

    assert change_summary(added) == "set (hidden)"
    assert change_summary(removed) == "removed (hidden)"


def test_plain_change_summary_is_its_kind() -> None:
    [change] = describe_changes(_doc(), _doc(context="New"))
    assert change_summary(change) == "changed"


def test_text_diff_marks_added_and_removed_words() -> None:
    before = "You help customers of Acme with their orders and returns every day."
    after = "You help customers of Acme with their orders, returns and refunds every day."

    runs = text_diff(before, after)

    assert runs is not None
    assert "".join(t for k, t in runs if k != "added") == before
    assert "".join(t for k, t in runs if k != "removed") == after
    assert ("added", "refunds ") in runs or any(k == "added" and "refunds" in t for k, t in runs)


def test_text_diff_skips_short_or_non_text_values() -> None:
    assert text_diff("medium", "high") is None
    assert text_diff(1, 2) is None
    assert text_diff("same text " * 10, "same text " * 10) is None


@given(st.text(max_size=200), st.text(max_size=200))
def test_text_diff_always_rebuilds_both_sides(before: str, after: str) -> None:
    runs = text_diff(before + "\n", after + "\n")
    if runs is None:
        return
    assert "".join(t for k, t in runs if k != "added") == before + "\n"
    assert "".join(t for k, t in runs if k != "removed") == after + "\n"


def test_document_summary_lists_every_setting_by_section_without_secrets() -> None:
    doc = _doc(
        persona_id="p1",
        updated_at="2026-01-01T00:00:00Z",
        layers={
            "llm": {"model": "own", "api_key": "sk-live-SECRET", "headers": {"X": "tok-SECRET"}},
            "stt": {"hotwords": "Acme"},
        },
    )

    summary = document_summary(doc)

    assert [section.title for section in summary] == [
        "Identity",
        "Language model & tools",
        "Speech recognition",
    ]
    identity = {s.label: s.shown for s in summary[0].settings}
    assert identity["Persona name"].text == "Support Agent"
    assert "Persona ID" not in identity and "Last updated" not in identity
    llm = {s.label: s.shown for s in summary[1].settings}
    assert llm["Endpoint API key"].text == "(hidden)"
    assert "SECRET" not in repr(summary)


def test_document_summary_of_a_redacted_snapshot_matches_the_clear_one() -> None:
    doc = _doc(layers={"tts": {"tts_engine": "elevenlabs", "api_key": "k-SECRET"}})
    assert repr(document_summary(doc)) == repr(document_summary(redact(doc)))


def test_secret_set_by_ops_is_listed_even_when_snapshots_hide_it() -> None:
    before = redact(_doc(layers={"llm": {"model": "m", "api_key": "sk-old"}}))
    after = redact(_doc(persona_name="New", layers={"llm": {"model": "m", "api_key": "sk-new"}}))
    ops = [
        {"op": "replace", "path": "/persona_name", "value": "New"},
        {"op": "replace", "path": "/layers/llm/api_key", "value": SECRET_MARKER},
    ]

    changes = with_secret_changes(describe_changes(before, after), ops)

    assert [c.label for c in changes] == ["Persona name", "Endpoint API key"]
    assert change_summary(changes[1]) == "changed (hidden)"
    assert [title for title, _ in group_changes(changes)] == ["Identity", "Language model & tools"]


def test_secret_ops_already_shown_are_not_listed_twice() -> None:
    before = redact(_doc(layers={"tts": {"tts_engine": "cartesia"}}))
    after = redact(_doc(layers={"tts": {"tts_engine": "cartesia", "api_key": "k"}}))
    ops = [{"op": "add", "path": "/layers/tts/api_key", "value": SECRET_MARKER}]

    changes = with_secret_changes(describe_changes(before, after), ops)

    assert len(changes) == 1 and change_summary(changes[0]) == "set (hidden)"


def test_a_rewritten_text_is_shown_before_and_after_not_interleaved() -> None:
    from personas_app.persona.diffs import text_diff

    before = "Here are a few times that you have helped an individual make a breakthrough in..."
    after = "Dana has coached 300 founders through their first fundraise and hiring."

    assert text_diff(before, after) is None


def test_a_small_edit_to_a_long_text_is_shown_inline() -> None:
    from personas_app.persona.diffs import text_diff

    before = "You are a patient interviewer who asks one question at a time and listens carefully."
    after = (
        "You are a patient interviewer who asks one clear question at a time and listens carefully."
    )

    runs = text_diff(before, after)
    assert runs is not None and ("added", "clear ") in runs


# -- describe_snapshots / patch_snapshots: the same answers, quicker on large versions ----------


def _plain(value: JSON) -> JSON:
    """Without true/false and floats: Python's == mixes them with ints, which the quick path
    does not tell apart inside otherwise equal values (documented in diffview)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _assert_same_as_slow_path(before: JSONObject, after: JSONObject) -> None:
    assert describe_snapshots(before, after) == describe_changes(before, after)
    assert patch_snapshots(before, after) == minimal_patch(before, after)


@given(st.one_of(s.related_pairs(), s.unrelated_pairs()))
def test_snapshot_diff_and_patch_match_the_slow_path(pair: tuple[JSONObject, JSONObject]) -> None:
    before, after = _plain(pair[0]), _plain(pair[1])
    _assert_same_as_slow_path(before, after)  # type: ignore[arg-type]


def _item(n: int) -> JSONObject:
    return {"type": "function", "function": {"name": f"tool_{n}", "description": f"Tool {n}"}}


@st.composite
def _long_lists(draw: st.DrawFn) -> tuple[JSONObject, JSONObject]:
    """Two versions of a persona with a long list of tools, a few of them edited, moved,
    added or removed (long enough for most of the list to be left out of the comparison)."""
    size = draw(st.integers(0, 40))
    tools = [_item(n) for n in range(size)]
    edited = [dict(t) for t in tools]
    for _ in range(draw(st.integers(1, 4))):
        how = draw(st.sampled_from(["describe", "rename", "insert", "remove", "swap", "rewrite"]))
        at = draw(st.integers(0, max(0, len(edited) - 1)))
        if how == "insert" or not edited:
            edited.insert(at, _item(100 + draw(st.integers(0, 50))))
        elif how == "remove":
            del edited[at]
        elif how == "swap":
            other = draw(st.integers(0, len(edited) - 1))
            edited[at], edited[other] = edited[other], edited[at]
        elif how == "rewrite":
            edited[at] = {"type": "function", "function": {"name": "x", "parameters": {}}}
        else:
            key = "description" if how == "describe" else "name"
            edited[at] = {**edited[at], "function": {**edited[at]["function"], key: "new"}}
    before = persona_doc(layers={"llm": {"model": "m", "tools": tools}})
    after = persona_doc(layers={"llm": {"model": "m", "tools": edited}})
    return before, after


@given(_long_lists())
def test_snapshot_diff_and_patch_match_the_slow_path_on_long_tool_lists(
    pair: tuple[JSONObject, JSONObject],
) -> None:
    _assert_same_as_slow_path(*pair)
    _assert_same_as_slow_path(pair[1], pair[0])


def test_one_tool_edited_among_fifty_is_one_change_at_its_real_position() -> None:
    tools = [_item(n) for n in range(50)]
    edited = [*tools[:37], {**tools[37], "function": {"name": "tool_37", "description": "New"}}]
    edited += tools[38:]
    before = persona_doc(layers={"llm": {"tools": tools}})
    after = persona_doc(layers={"llm": {"tools": edited}})

    [change] = describe_snapshots(before, after)

    assert change.pointer == "/layers/llm/tools/37/function/description"
    assert change.label == describe_changes(before, after)[0].label
    assert (change.before, change.after) == ("Tool 37", "New")
    assert patch_snapshots(before, after) == [
        {"op": "replace", "path": "/layers/llm/tools/37/function/description", "value": "New"}
    ]


def test_a_list_replaced_whole_shows_its_real_items_not_placeholders() -> None:
    tools = [_item(n) for n in range(20)]
    moved = [tools[0], *tools[2:10], tools[1], *tools[10:]]  # an item moved: one whole change
    before = persona_doc(layers={"llm": {"tools": tools}})
    after = persona_doc(layers={"llm": {"tools": moved}})

    [change] = describe_snapshots(before, after)
    [op] = patch_snapshots(before, after)

    assert change.pointer == "/layers/llm/tools" and change.after == moved
    assert change.before == tools
    assert op == {"op": "replace", "path": "/layers/llm/tools", "value": moved}


def test_a_value_that_changed_type_is_a_change_even_when_equal_in_python() -> None:
    before = persona_doc(layers={"llm": {"model": "m", "speculative_inference": True}})
    after = persona_doc(layers={"llm": {"model": "m", "speculative_inference": 1}})

    assert [c.pointer for c in describe_snapshots(before, after)] == [
        "/layers/llm/speculative_inference"
    ]
