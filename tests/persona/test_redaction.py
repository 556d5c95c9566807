"""Secrets are masked in documents, ops and previews, and never written back as the marker."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from hypothesis import given, settings

from personas_app.persona.jsontypes import JSONObject, from_pointer, lookup
from personas_app.persona.patching import minimal_patch
from personas_app.persona.redaction import (
    SECRET_MARKER,
    contains_marker,
    is_secret_pointer,
    redact,
    redact_ops,
    restore_secrets,
    secret_paths_present,
)
from tests import strategies as s

SEEDS = Path(__file__).parent.parent / "data" / "seeds"


def raven1() -> JSONObject:
    loaded: JSONObject = json.loads(
        (SEEDS / "create_raven1_openapi.json").read_text(encoding="utf-8")
    )
    return loaded


def life_coach() -> JSONObject:
    loaded: JSONObject = json.loads((SEEDS / "create_life_coach.json").read_text(encoding="utf-8"))
    return loaded


def test_secret_values_are_masked_including_nested_headers() -> None:
    doc = raven1()
    doc["layers"]["llm"]["headers"]["X-Org"] = "org-1"
    doc["layers"]["tts"]["playht_user_id"] = "u-1"
    masked = redact(doc)
    assert masked["layers"]["llm"]["api_key"] == SECRET_MARKER
    assert masked["layers"]["tts"]["api_key"] == SECRET_MARKER
    assert masked["layers"]["tts"]["playht_user_id"] == SECRET_MARKER
    assert masked["layers"]["llm"]["headers"] == {
        "Authorization": SECRET_MARKER,
        "X-Org": SECRET_MARKER,
    }
    # Everything else is untouched.
    assert masked["layers"]["llm"]["base_url"] == "your-base-url"
    assert masked["layers"]["llm"]["extra_body"] == {"temperature": 0.7, "top_p": 0.9}
    assert masked["layers"]["llm"]["tools"] == doc["layers"]["llm"]["tools"]


def test_credential_like_extra_body_keys_are_masked() -> None:
    doc: JSONObject = {"layers": {"llm": {"extra_body": {"api_key": "sk", "temperature": 1}}}}
    assert redact(doc) == {
        "layers": {"llm": {"extra_body": {"api_key": SECRET_MARKER, "temperature": 1}}}
    }


def test_empty_secrets_stay_empty() -> None:
    doc: JSONObject = {"layers": {"llm": {"api_key": "", "headers": {"A": ""}}, "tts": {}}}
    assert redact(doc) == doc


def test_redact_does_not_mutate_its_input() -> None:
    doc = raven1()
    redact(doc)
    assert doc == raven1()


def test_secret_paths_present_lists_only_non_empty_secrets() -> None:
    doc = raven1()
    doc["layers"]["tts"]["api_key"] = ""
    assert secret_paths_present(doc) == ["/layers/llm/api_key", "/layers/llm/headers/Authorization"]


def test_is_secret_pointer() -> None:
    assert is_secret_pointer("/layers/llm/api_key")
    assert is_secret_pointer("/layers/llm/headers/X~1Custom")
    assert not is_secret_pointer("/layers/llm/headers")
    assert not is_secret_pointer("/layers/llm/model")


def test_ops_at_secret_paths_are_masked() -> None:
    ops = [
        {"op": "replace", "path": "/layers/llm/api_key", "value": "sk-new"},
        {"op": "add", "path": "/layers/llm/headers/Authorization", "value": "Bearer x"},
        {"op": "remove", "path": "/layers/tts/api_key"},
        {"op": "replace", "path": "/layers/llm/model", "value": "tavus-gpt-oss"},
    ]
    assert redact_ops(ops) == [
        {"op": "replace", "path": "/layers/llm/api_key", "value": SECRET_MARKER},
        {"op": "add", "path": "/layers/llm/headers/Authorization", "value": SECRET_MARKER},
        {"op": "remove", "path": "/layers/tts/api_key"},
        {"op": "replace", "path": "/layers/llm/model", "value": "tavus-gpt-oss"},
    ]


def test_op_adding_a_whole_layer_is_masked_inside() -> None:
    base: JSONObject = {"system_prompt": "Hi"}
    edited: JSONObject = {"system_prompt": "Hi", "layers": raven1()["layers"]}
    [op] = redact_ops(minimal_patch(base, edited))
    assert op["path"] == "/layers"
    assert op["value"]["llm"]["api_key"] == SECRET_MARKER  # type: ignore[index,call-overload]
    assert op["value"]["llm"]["headers"] == {"Authorization": SECRET_MARKER}  # type: ignore[index,call-overload]
    assert not any(secret in json.dumps(op) for secret in ("your-api-key", "Bearer"))


def test_redact_ops_does_not_mutate_the_ops() -> None:
    ops = [{"op": "add", "path": "/layers/llm", "value": {"api_key": "sk"}}]
    redact_ops(ops)
    assert ops == [{"op": "add", "path": "/layers/llm", "value": {"api_key": "sk"}}]


def test_restore_secrets_takes_live_values_for_markers() -> None:
    live = raven1()
    snapshot = redact(raven1())
    snapshot["persona_name"] = "Old name"
    restored = restore_secrets(snapshot, live)
    assert restored["layers"]["llm"]["api_key"] == "your-api-key"
    assert restored["layers"]["llm"]["headers"] == {"Authorization": "Bearer your-api-key"}
    assert restored["persona_name"] == "Old name"
    assert not contains_marker(restored)


def test_restore_secrets_drops_markers_live_cannot_fill() -> None:
    snapshot = redact(raven1())
    live = raven1()
    del live["layers"]["llm"]["api_key"]
    live["layers"]["llm"]["headers"] = {}
    restored = restore_secrets(snapshot, live)
    assert "api_key" not in restored["layers"]["llm"]
    assert restored["layers"]["llm"]["headers"] == {}
    assert restored["layers"]["tts"]["api_key"] == "your-api-key"
    assert not contains_marker(restored)


def test_restore_secrets_never_copies_a_live_marker() -> None:
    snapshot = redact(raven1())
    assert not contains_marker(restore_secrets(snapshot, redact(raven1())))


def test_contains_marker() -> None:
    assert contains_marker(redact(raven1()))
    assert not contains_marker(raven1())
    assert contains_marker({"a": [{"b": SECRET_MARKER}]})


@settings(max_examples=100, deadline=None)
@given(s.persona_docs, s.persona_docs)
def test_redacted_documents_hold_no_secret_and_revert_never_sends_the_marker(
    doc: JSONObject, live: JSONObject
) -> None:
    before = copy.deepcopy(doc)
    masked = redact(doc)
    assert doc == before
    for pointer in secret_paths_present(doc):
        assert lookup(masked, from_pointer(pointer)) == (True, SECRET_MARKER)
    assert secret_paths_present(masked) == secret_paths_present(doc)
    assert not contains_marker(restore_secrets(masked, live))
    assert restore_secrets(masked, doc) == doc


def test_credential_named_values_are_masked_at_any_depth() -> None:
    doc: JSONObject = {
        "layers": {
            "llm": {
                "extra_body": {"metadata": {"api_key": "sk-1", "max_tokens": 256}},
                "default_query": {"token": "t-1", "region": "eu"},
                "tools": [{"function": {"name": "f", "auth": {"clientSecret": "cs-1"}}}],
            },
            "perception": {"tools": [{"x-api-key": "k-1"}]},
        }
    }

    masked = redact(doc)

    llm = masked["layers"]["llm"]
    assert llm["extra_body"]["metadata"] == {"api_key": SECRET_MARKER, "max_tokens": 256}
    assert llm["default_query"] == {"token": SECRET_MARKER, "region": "eu"}
    assert llm["tools"][0]["function"]["auth"]["clientSecret"] == SECRET_MARKER
    assert masked["layers"]["perception"]["tools"][0]["x-api-key"] == SECRET_MARKER
    assert "-1" not in json.dumps(masked)
    assert secret_paths_present(doc) == [
        "/layers/llm/default_query/token",
        "/layers/llm/extra_body/metadata/api_key",
        "/layers/llm/tools/0/function/auth/clientSecret",
        "/layers/perception/tools/0/x-api-key",
    ]


def test_a_tool_parameter_named_like_a_credential_is_a_schema_not_a_secret() -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "login",
            "parameters": {
                "type": "object",
                "properties": {"password": {"type": "string", "description": "The password"}},
                "required": ["password"],
            },
        },
    }
    doc: JSONObject = {"layers": {"llm": {"tools": [tool]}}}

    assert redact(doc) == doc


def test_restore_ops_fills_nested_markers_from_live() -> None:
    from personas_app.persona.redaction import restore_ops

    live: JSONObject = {"layers": {"llm": {"extra_body": {"metadata": {"api_key": "sk-live"}}}}}
    ops = [
        {
            "op": "replace",
            "path": "/layers/llm/extra_body",
            "value": {"metadata": {"api_key": SECRET_MARKER, "user": "u"}},
        }
    ]

    sent = restore_ops(ops, live)

    assert sent[0]["value"] == {"metadata": {"api_key": "sk-live", "user": "u"}}
