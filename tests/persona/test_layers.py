"""LAYERS, FIELD_LABELS, label_for and layer_for."""

from __future__ import annotations

from personas_app.persona.layers import FIELD_LABELS, LAYERS, label_for, layer_for


def test_layers_are_in_editor_order() -> None:
    assert [layer.key for layer in LAYERS] == [
        "identity",
        "llm",
        "tts",
        "stt",
        "perception",
        "conversational_flow",
        "other",
    ]


def test_every_layer_has_a_title_and_help() -> None:
    assert all(layer.title and layer.help for layer in LAYERS)


def test_known_fields_have_plain_labels() -> None:
    assert label_for("/layers/tts/voice_settings/speed") == "Voice speed"
    assert label_for("/system_prompt") == "System prompt"
    assert all(label and label[0].isupper() for label in FIELD_LABELS.values())


def test_tool_fields_are_labelled_by_position() -> None:
    assert label_for("/layers/llm/tools/2/function/description") == "LLM tools > #3 > Description"
    assert label_for("/layers/perception/visual_tools/0") == "Visual tools > #1"


def test_header_names_are_shown_as_written() -> None:
    assert label_for("/layers/llm/headers/X~1Org-Id") == "Custom LLM headers > X/Org-Id"


def test_unknown_fields_fall_back_to_the_humanised_last_segment() -> None:
    assert label_for("/brand_new_field") == "Brand new field"
    assert (
        label_for("/layers/conversational_flow/voice_isolation") == "Turn-taking > Voice isolation"
    )


def test_layer_for_places_pointers() -> None:
    assert layer_for("/system_prompt").key == "identity"
    assert layer_for("/brand_new_field").key == "identity"
    assert layer_for("/layers/llm/tools/0/function/name").key == "llm"
    assert layer_for("/layers/conversational_flow").key == "conversational_flow"
    assert layer_for("/layers/transport/transport_type").key == "other"
    assert layer_for("/layers").key == "other"
    assert layer_for("/layers/identity").key == "other"
