"""diffview: changes grouped by editor section, values formatted to read, secrets never shown."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from personas_app.diffview import (
    TRUNCATE_AT,
    change_summary,
    document_summary,
    group_changes,
    show_value,
    text_diff,
    with_secret_changes,
)
from personas_app.patching import describe_changes
from personas_app.redaction import SECRET_MARKER, redact
from tests.builders import persona_doc


def _doc(**overrides: Any) -> dict[str, Any]:
    return persona_doc(**overrides)


def test_changes_are_grouped_by_section_in_editor_order() -> None:
    before = _doc()
    after = _doc(persona_name="Renamed")
    after["layers"]["conversational_flow"]["turn_taking_patience"] = "high"
    after["layers"]["llm"]["model"] = "tavus-gpt-5.2"

    groups = group_changes(describe_changes(before, after))

    assert [title for title, _ in groups] == ["Identity", "Language model", "Turn-taking"]
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

    summary = dict(document_summary(doc))

    assert list(summary) == ["Identity", "Language model", "Speech recognition"]
    identity = dict(summary["Identity"])
    assert identity["Persona name"].text == "Support Agent"
    assert "Persona ID" not in identity and "Last updated" not in identity
    llm = dict(summary["Language model"])
    assert llm["Custom LLM API key"].text == "(hidden)"
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

    assert [c.label for c in changes] == ["Persona name", "Custom LLM API key"]
    assert change_summary(changes[1]) == "changed (hidden)"
    assert [title for title, _ in group_changes(changes)] == ["Identity", "Language model"]


def test_secret_ops_already_shown_are_not_listed_twice() -> None:
    before = redact(_doc(layers={"tts": {"tts_engine": "cartesia"}}))
    after = redact(_doc(layers={"tts": {"tts_engine": "cartesia", "api_key": "k"}}))
    ops = [{"op": "add", "path": "/layers/tts/api_key", "value": SECRET_MARKER}]

    changes = with_secret_changes(describe_changes(before, after), ops)

    assert len(changes) == 1 and change_summary(changes[0]) == "set (hidden)"


def test_a_rewritten_text_is_shown_before_and_after_not_interleaved() -> None:
    from personas_app.diffview import text_diff

    before = "Here are a few times that you have helped an individual make a breakthrough in..."
    after = "Dana has coached 300 founders through their first fundraise and hiring."

    assert text_diff(before, after) is None


def test_a_small_edit_to_a_long_text_is_shown_inline() -> None:
    from personas_app.diffview import text_diff

    before = "You are a patient interviewer who asks one question at a time and listens carefully."
    after = (
        "You are a patient interviewer who asks one clear question at a time and listens carefully."
    )

    runs = text_diff(before, after)
    assert runs is not None and ("added", "clear ") in runs
